// SPDX-License-Identifier: Apache-2.0
// Issue 20, defect 2: SIGTERM under load must end the process cleanly, every time. The real binary
// (test::ServerProcess) is stopped 200 times while callers take and give back concurrency leases
// over keep-alive connections, with half-sent requests and a live-usage stream held open: embedded,
// with Redis, and with the registry in Postgres (libpq brings OpenSSL into the process: an OpenSSL
// at-exit cleanup racing a thread's thread-local destructors was the crash seen, 2 in 108 stops).
// Every stop must be a normal exit with status 0 and no sanitizer report.
#include "httpcall.h"
#include "services.h"

#include <QJsonDocument>
#include <QNetworkReply>
#include <QProcess>
#include <QTcpSocket>
#include <QTemporaryFile>
#include <QtTest>
#include <memory>

using namespace sluice;

namespace {
const QByteArray kToken = "shutdown-token";
const QByteArray kRegistry = "{\"policies\":[{\"id\":1,\"scope\":\"USER_MODEL\",\"windowSeconds\":3600,\"limit\":1000000000},"
                              "{\"id\":2,\"scope\":\"TENANT\",\"unit\":\"concurrent\",\"limit\":4}]}";
} // namespace

class TestShutdown : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;

    // Checks on a tenant with 4 leases, each admitted one completed when answered; ~`n` in flight.
    void load(quint16 port, int n, std::vector<QNetworkReply *> *replies)
    {
        for (int i = 0; i < n; ++i) {
            QNetworkRequest r(QUrl(QStringLiteral("http://127.0.0.1:%1/rate-limit/check").arg(port)));
            r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
            const QByteArray body = "{\"userId\":\"u" + QByteArray::number(i) + "\",\"modelId\":\"m\",\"tenantId\":\"t"
                + QByteArray::number(i % 3) + "\"}";
            QNetworkReply *reply = m_nam.post(r, body);
            connect(reply, &QNetworkReply::finished, this, [this, reply, port, replies] {
                if (reply->error() != QNetworkReply::NoError)
                    return;
                const QByteArray id = QJsonDocument::fromJson(reply->readAll()).object().value(QStringLiteral("reservationId")).toString().toUtf8();
                if (id.isEmpty())
                    return;
                QNetworkRequest c(QUrl(QStringLiteral("http://127.0.0.1:%1/rate-limit/complete").arg(port)));
                c.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
                replies->push_back(m_nam.post(c, "{\"reservationId\":\"" + id + "\"}"));
            });
            replies->push_back(reply);
        }
    }

private Q_SLOTS:
    void stopsCleanlyUnderLoad_data()
    {
        QTest::addColumn<QString>("setup");
        QTest::addColumn<int>("rounds");
        QTest::addRow("embedded") << QStringLiteral("embedded") << 80;
        QTest::addRow("redis") << QStringLiteral("redis") << 80;
        QTest::addRow("redis, postgres registry") << QStringLiteral("postgres") << 40;
    }

    void stopsCleanlyUnderLoad()
    {
        QFETCH(QString, setup);
        QFETCH(int, rounds);
        test::RedisServer redis;
        test::PostgresServer postgres;
        QString error;
        QTemporaryFile registry;
        QVERIFY(registry.open());
        registry.write(kRegistry);
        registry.flush();
        QStringList args{QStringLiteral("--threads"), QStringLiteral("2"), QStringLiteral("--lease-seconds"), QStringLiteral("30")};
        if (setup == QStringLiteral("postgres")) {
            SLUICE_REQUIRE_SERVICE(postgres.start(&error) && postgres.migrate(&error), error);
            args << QStringLiteral("--postgres") << postgres.conninfo();
        } else {
            args << QStringLiteral("--registry-file") << registry.fileName();
        }
        if (setup != QStringLiteral("embedded")) {
            SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
            args << QStringLiteral("--redis") << redis.url();
        }
        int stops = 0;
        for (int round = 0; round < rounds; ++round) {
            test::ServerProcess server;
            QVERIFY2(server.start(args, &error, {QStringLiteral("SLUICE_ADMIN_TOKEN=") + QString::fromLatin1(kToken)}), qPrintable(error));
            const quint16 port = server.port();
            std::vector<QNetworkReply *> replies;
            load(port, 24, &replies);
            // Held connections: half a request, and a live-usage stream.
            QTcpSocket half;
            half.connectToHost(QHostAddress::LocalHost, port);
            half.write("POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{\"us");
            QNetworkRequest events(QUrl(QStringLiteral("http://127.0.0.1:%1/admin/events?keys=sluice:%7Bglobal%7D").arg(port)));
            events.setRawHeader("Authorization", "Bearer " + kToken);
            events.setTransferTimeout(0);
            replies.push_back(m_nam.get(events));
            // Stop at a different point of the traffic each round: before any answer, midway, after.
            QTest::qWait(round % 7 * 15);
            const bool clean = server.stop();
            const QByteArray output = server.output();
            QVERIFY2(clean, qPrintable(QStringLiteral("round %1: %2").arg(round).arg(QString::fromLocal8Bit(output.right(4000)))));
            QVERIFY2(!output.contains("Sanitizer") && !output.contains("runtime error"),
                     qPrintable(QStringLiteral("round %1: %2").arg(round).arg(QString::fromLocal8Bit(output.right(4000)))));
            ++stops;
            for (QNetworkReply *r : replies) {
                if (r->isRunning())
                    r->abort();
                r->deleteLater();
            }
        }
        qInfo("%d clean stops under load", stops);
    }
};

QTEST_GUILESS_MAIN(TestShutdown)
#include "tst_shutdown.moc"
