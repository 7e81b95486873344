// SPDX-License-Identifier: Apache-2.0
// Regression tests for the defects a review and a hostile client found (issue "Hardening"), against
// an in-process SluiceServer (so `scripts/test --asan` watches the server's memory too):
// - a live-usage stream open while policies are created, edited and deleted (use after free);
// - /health and /metrics describe every HTTP thread, not the one that took the request;
// - stalled and idle connections are closed (request and idle timeouts), streams are not;
// - a header whose value merely contains "chunked" is not a 411;
// - the memory store's key bound: new callers get a clear 503, known ones go on.
#include "httpcall.h"
#include "services.h"
#include "sluiceserver.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTcpSocket>
#include <QtTest>
#include <memory>

using namespace sluice;

namespace {
const QByteArray kToken = "hardening-token";

QByteArray checkBody(const QString &user, const QString &model = QStringLiteral("gpt-4o"))
{
    return QJsonDocument(QJsonObject{{QStringLiteral("userId"), user}, {QStringLiteral("modelId"), model}}).toJson(QJsonDocument::Compact);
}
} // namespace

class TestHardening : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;

    test::HttpAnswer call(quint16 port, const QByteArray &method, const QString &path, const QByteArray &body = QByteArray())
    {
        return test::httpCall(m_nam, QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)), method, body,
                              "application/json", {{"Authorization", "Bearer " + kToken}});
    }

    static ServerConfig configWith(int threads, int requestTimeoutMs = 10000, int idleTimeoutMs = 60000)
    {
        ServerConfig config;
        config.threads = threads;
        config.requestTimeoutMs = requestTimeoutMs;
        config.idleTimeoutMs = idleTimeoutMs;
        return config;
    }

    static std::unique_ptr<SluiceServer> startServer(ServerConfig config, QString *error)
    {
        config.port = 0;
        config.adminToken = QString::fromLatin1(kToken);
        auto server = std::make_unique<SluiceServer>(config);
        if (!server->start(error))
            return nullptr;
        return server;
    }

private Q_SLOTS:
    // Defect 2: KeyQuery::policy pointed into a snapshot nothing kept alive. Under ASan this
    // test read freed memory before the fix.
    void eventStreamSurvivesPolicyEdits()
    {
        ServerConfig config;
        config.threads = 1; // the stream, the checks and the edits meet on one thread's snapshot reader
        QString error;
        auto server = startServer(config, &error);
        QVERIFY2(server, qPrintable(error));
        const quint16 port = server->port();
        const QString key = QStringLiteral("sluice:{model:tiny-model}");
        QNetworkRequest r(QUrl(QStringLiteral("http://127.0.0.1:%1/admin/events?keys=%2").arg(port).arg(QString::fromLatin1(QUrl::toPercentEncoding(key)))));
        r.setRawHeader("Authorization", "Bearer " + kToken);
        r.setTransferTimeout(0);
        QNetworkReply *stream = m_nam.get(r);
        QByteArray buffer;
        QList<qint64> limits; // the limit of the key, event by event (-1: no policy governs it)
        connect(stream, &QNetworkReply::readyRead, this, [&] {
            buffer += stream->readAll();
            qsizetype end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
                const QByteArray event = buffer.left(end);
                buffer.remove(0, end + 2);
                const qsizetype data = event.indexOf("data: ");
                if (data < 0)
                    continue;
                const QJsonArray keys = QJsonDocument::fromJson(event.mid(data + 6)).object().value(QStringLiteral("keys")).toArray();
                const QJsonValue limit = keys.at(0).toObject().value(QStringLiteral("limit"));
                limits.append(limit.isNull() ? -1 : limit.toInteger());
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(!limits.isEmpty(), 5000);
        QCOMPARE(limits.last(), qint64(-1));

        for (int round = 0; round < 6; ++round) {
            const QByteArray policy = QJsonDocument(QJsonObject{{QStringLiteral("scope"), QStringLiteral("MODEL")},
                                                                {QStringLiteral("modelId"), QStringLiteral("tiny-model")},
                                                                {QStringLiteral("windowSeconds"), 60},
                                                                {QStringLiteral("limit"), 5 + round}})
                                          .toJson(QJsonDocument::Compact);
            const test::HttpAnswer created = call(port, "POST", QStringLiteral("/admin/policies"), policy);
            QCOMPARE(created.status, 201);
            const qint64 id = created.object().value(QStringLiteral("id")).toInteger();
            call(port, "POST", QStringLiteral("/rate-limit/check"), checkBody(QStringLiteral("u%1").arg(round), QStringLiteral("tiny-model")));
            QTRY_COMPARE_WITH_TIMEOUT(limits.last(), qint64(5 + round), 5000);
            QJsonObject edited = created.object();
            edited.insert(QStringLiteral("limit"), 100 + round);
            QCOMPARE(call(port, "PUT", QStringLiteral("/admin/policies/%1").arg(id), QJsonDocument(edited).toJson()).status, 200);
            call(port, "POST", QStringLiteral("/rate-limit/check"), checkBody(QStringLiteral("v%1").arg(round), QStringLiteral("tiny-model")));
            QTRY_COMPARE_WITH_TIMEOUT(limits.last(), qint64(100 + round), 5000);
            QCOMPARE(call(port, "DELETE", QStringLiteral("/admin/policies/%1").arg(id)).status, 204);
            call(port, "POST", QStringLiteral("/rate-limit/check"), checkBody(QStringLiteral("w%1").arg(round), QStringLiteral("tiny-model")));
            QTRY_COMPARE_WITH_TIMEOUT(limits.last(), qint64(-1), 5000);
        }
        QVERIFY(stream->isRunning());
        stream->abort();
        stream->deleteLater();
    }

    // Defect 3: each thread has its own store and breaker; /health and /metrics showed one of them.
    void healthDescribesEveryThread()
    {
        ServerConfig config;
        config.threads = 4;
        config.redisUrl = QStringLiteral("redis://127.0.0.1:%1").arg(test::freePort()); // nobody listens there
        QString error;
        auto server = startServer(config, &error);
        QVERIFY2(server, qPrintable(error));
        const quint16 port = server->port();
        // 40 connections (SO_REUSEPORT spreads them over the threads), 6 failing checks each.
        for (int c = 0; c < 40; ++c) {
            const QByteArray body = checkBody(QStringLiteral("spread-%1").arg(c)); // well under every limit
            const QByteArray request = "POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\n\r\n" + body;
            QTcpSocket s;
            s.connectToHost(QHostAddress::LocalHost, port);
            QVERIFY(s.waitForConnected(2000));
            QByteArray got;
            for (int i = 0; i < 6; ++i) {
                s.write(request);
                QElapsedTimer t;
                t.start();
                while (got.count("HTTP/1.1 ") <= i && t.elapsed() < 5000)
                    if (s.waitForReadyRead(100))
                        got += s.readAll();
            }
            QCOMPARE(got.count("\"source\":\"local\""), qsizetype(6));
        }
        // Every /health, whichever thread answers it, reports all four threads, each breaker tripped.
        for (int i = 0; i < 8; ++i) {
            const test::HttpAnswer h = test::httpCall(m_nam, QUrl(QStringLiteral("http://127.0.0.1:%1/health").arg(port)), "GET",
                                                      QByteArray(), QByteArray(), {{"Connection", "close"}});
            QCOMPARE(h.status, 200);
            const QJsonObject store = h.object().value(QStringLiteral("store")).toObject();
            const QJsonArray threads = store.value(QStringLiteral("threads")).toArray();
            QCOMPARE(threads.size(), 4);
            for (const QJsonValue &t : threads)
                QVERIFY2(t.toObject().value(QStringLiteral("breaker")).toObject().value(QStringLiteral("state")).toString()
                             != QStringLiteral("closed"),
                         h.body.constData());
            QCOMPARE(store.value(QStringLiteral("fallbacks")).toInteger(), qint64(240));
            QCOMPARE(h.object().value(QStringLiteral("status")).toString(), QStringLiteral("degraded"));
        }
        const test::HttpAnswer m = test::httpCall(m_nam, QUrl(QStringLiteral("http://127.0.0.1:%1/metrics").arg(port)), "GET",
                                                  QByteArray(), QByteArray());
        QVERIFY(m.body.contains("sluice_http_threads 4\n"));
        QVERIFY(m.body.contains("sluice_store_fallbacks_total 240\n"));
        QVERIFY(m.body.contains("sluice_store_up 0\n"));
        QVERIFY(m.body.contains("sluice_decisions_total{scope=\"USER_MODEL\",result=\"allowed\",source=\"local\"} 240\n"));
    }

    // /health and /metrics fan out to every thread: stopping the server while they are in flight
    // must not post anything to a thread's objects after they are gone (ASan watches).
    void stoppingWhileHealthFansOut()
    {
        for (int round = 0; round < 5; ++round) {
            QString error;
            auto server = startServer(configWith(4), &error);
            QVERIFY2(server, qPrintable(error));
            std::vector<QNetworkReply *> replies;
            for (int i = 0; i < 40; ++i) {
                const QString path = i % 2 ? QStringLiteral("/health") : QStringLiteral("/metrics");
                replies.push_back(m_nam.get(QNetworkRequest(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(server->port()).arg(path)))));
            }
            QTest::qWait(round * 3); // from "nothing answered yet" to "some answered"
            server->stop();
            server.reset();
            for (QNetworkReply *r : replies) {
                r->abort();
                r->deleteLater();
            }
        }
    }

    // Defect 7: 300 clients sending half a request held their sockets forever.
    void stalledRequestsAreClosed()
    {
        QString error;
        auto server = startServer(configWith(2, 1000, 2000), &error);
        QVERIFY2(server, qPrintable(error));
        std::vector<std::unique_ptr<QTcpSocket>> clients;
        for (int i = 0; i < 300; ++i) {
            auto s = std::make_unique<QTcpSocket>();
            s->connectToHost(QHostAddress::LocalHost, server->port());
            QVERIFY(s->waitForConnected(2000));
            // Half a request: the header block never ends, or the body never comes.
            s->write(i % 2 ? QByteArray("POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Le")
                           : QByteArray("POST /rate-limit/check HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"user"));
            s->flush();
            clients.push_back(std::move(s));
        }
        QElapsedTimer t;
        t.start();
        int closed = 0;
        int timedOut = 0;
        QByteArray sample;
        while (closed < 300 && t.elapsed() < 15000) {
            QTest::qWait(50);
            closed = 0;
            for (auto &s : clients)
                closed += s->state() != QAbstractSocket::ConnectedState ? 1 : 0;
        }
        for (auto &s : clients) {
            const QByteArray got = s->readAll();
            if (got.startsWith("HTTP/1.1 408"))
                ++timedOut;
            else if (sample.isEmpty())
                sample = got;
        }
        QCOMPARE(closed, 300);
        QVERIFY2(timedOut == 300, sample.constData());
    }

    void idleKeepAliveIsClosedButStreamsStay()
    {
        QString error;
        auto server = startServer(configWith(1, 1000, 1000), &error);
        QVERIFY2(server, qPrintable(error));
        // A keep-alive client that asked once and then went quiet.
        QTcpSocket idle;
        idle.connectToHost(QHostAddress::LocalHost, server->port());
        QVERIFY(idle.waitForConnected(2000));
        idle.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        QTRY_VERIFY_WITH_TIMEOUT(idle.bytesAvailable() > 0 || idle.waitForReadyRead(10), 5000);
        QVERIFY(idle.readAll().startsWith("HTTP/1.1 200"));
        // A stream opened at the same time.
        QTcpSocket stream;
        stream.connectToHost(QHostAddress::LocalHost, server->port());
        QVERIFY(stream.waitForConnected(2000));
        stream.write("GET /admin/events?keys=sluice:%7Bglobal%7D HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken + "\r\n\r\n");
        QByteArray streamed;
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 3000) { // three idle timeouts
            if (stream.waitForReadyRead(50))
                streamed += stream.readAll();
            if (idle.state() == QAbstractSocket::ConnectedState)
                idle.waitForDisconnected(0);
        }
        QCOMPARE(idle.state(), QAbstractSocket::UnconnectedState);
        QCOMPARE(stream.state(), QAbstractSocket::ConnectedState);
        const qsizetype before = streamed.count("event: usage");
        QVERIFY2(before >= 8, streamed.constData()); // ~12 events in 3 s
        QTRY_VERIFY_WITH_TIMEOUT((stream.waitForReadyRead(10), streamed += stream.readAll(), streamed.count("event: usage") > before), 2000);
    }

    // Defect 10: a header whose value merely contains "chunked" got a 411 (when any Transfer-Encoding
    // header, identity, was present: the old guard looked for the two texts anywhere in the head).
    void chunkedInAnotherHeaderValueIsNot411()
    {
        QString error;
        auto server = startServer(configWith(1), &error);
        QVERIFY2(server, qPrintable(error));
        const QByteArray body = checkBody(QStringLiteral("chunky"));
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, server->port());
        QVERIFY(s.waitForConnected(2000));
        s.write("POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nUser-Agent: chunked-client/1.0\r\n"
                "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
        QByteArray got;
        QElapsedTimer t;
        t.start();
        while (!got.contains("\"policies\"") && t.elapsed() < 5000)
            if (s.waitForReadyRead(100))
                got += s.readAll();
        QVERIFY2(got.startsWith("HTTP/1.1 200"), got.constData());
    }

    // Defect 6: caller-chosen ids were unbounded; at --max-keys new keys get a clear 503.
    void keyBoundRefusesNewCallersClearly()
    {
        ServerConfig config;
        config.threads = 2;
        config.maxKeys = 1000;
        QString error;
        auto server = startServer(config, &error);
        QVERIFY2(server, qPrintable(error));
        const quint16 port = server->port();
        QCOMPARE(call(port, "POST", QStringLiteral("/rate-limit/check"), checkBody(QStringLiteral("first"))).status, 200);
        int refused = 0;
        test::HttpAnswer last;
        for (int i = 0; i < 1100 && refused == 0; ++i) {
            last = call(port, "POST", QStringLiteral("/rate-limit/check"), checkBody(QStringLiteral("caller-%1").arg(i)));
            if (last.status == 503)
                ++refused;
            else
                QCOMPARE(last.status, 200);
        }
        QCOMPARE(refused, 1);
        QCOMPARE(last.object().value(QStringLiteral("error")).toObject().value(QStringLiteral("code")).toString(), QStringLiteral("store_full"));
        QVERIFY2(last.errorMessage().contains(QStringLiteral("1000 keys")), qPrintable(last.errorMessage()));
        // A caller the store already holds goes on.
        QCOMPARE(call(port, "POST", QStringLiteral("/rate-limit/check"), checkBody(QStringLiteral("first"))).status, 200);
        const test::HttpAnswer m = test::httpCall(m_nam, QUrl(QStringLiteral("http://127.0.0.1:%1/metrics").arg(port)), "GET",
                                                  QByteArray(), QByteArray());
        QVERIFY(m.body.contains("sluice_memory_full_refusals_total 1\n"));
        QVERIFY(m.body.contains("sluice_memory_max_keys 1000\n"));
        QVERIFY(m.body.contains("sluice_rejected_requests_total{status=\"503\"} 1\n"));
    }
};

QTEST_GUILESS_MAIN(TestHardening)
#include "tst_hardening.moc"
