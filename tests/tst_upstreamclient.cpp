// SPDX-License-Identifier: Apache-2.0
// The inference door's HTTP/1.1 client (server/door/upstreamclient.h) against an upstream scripted
// in this process (a QTcpServer on loopback): framing, the upstream closing while the relay is
// paused, the idle clock across a pause, a kept-alive connection closed meanwhile.
#include "door/upstreamclient.h"

#include <QElapsedTimer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QtTest>
#include <functional>

using namespace sluice;

namespace {

// Answers each request on a connection with `script(socket)` once the request's head and body are in.
class ScriptedUpstream : public QObject
{
public:
    std::function<void(QTcpSocket *)> script;
    int connections = 0;
    int requests = 0;

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }

    ScriptedUpstream()
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                ++connections;
                auto *buffer = new QByteArray;
                connect(s, &QObject::destroyed, this, [buffer] { delete buffer; });
                connect(s, &QTcpSocket::readyRead, this, [this, s, buffer] {
                    *buffer += s->readAll();
                    const qsizetype end = buffer->indexOf("\r\n\r\n");
                    if (end < 0)
                        return;
                    const QByteArray head = buffer->left(end).toLower();
                    const qsizetype at = head.indexOf("content-length: ");
                    const qint64 length = at < 0 ? 0 : head.mid(at + 16, head.indexOf('\r', at) - at - 16).toLongLong();
                    if (buffer->size() < end + 4 + length)
                        return;
                    buffer->remove(0, end + 4 + length);
                    ++requests;
                    script(s);
                });
                connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
    }

private:
    QTcpServer m_server;
};

struct Outcome
{
    QByteArray body;
    int status = 0;
    bool ended = false;
    std::optional<UpstreamCall::Failure> failure;
    QString message;
    bool done() const { return ended || failure.has_value(); }
};

void wire(UpstreamCall &call, Outcome &o)
{
    call.onHead = [&o](const UpstreamCall::Head &h) { o.status = h.status; };
    call.onBody = [&o](const QByteArray &b) { o.body += b; };
    call.onEnd = [&o] { o.ended = true; };
    call.onFailure = [&o](UpstreamCall::Failure f, const QString &m) {
        o.failure = f;
        o.message = m;
    };
}

QUrl urlOf(const ScriptedUpstream &u) { return QUrl(QStringLiteral("http://127.0.0.1:%1/v1/x").arg(u.port())); }

QByteArray chunk(const QByteArray &data) { return QByteArray::number(data.size(), 16) + "\r\n" + data + "\r\n"; }

// One call to an upstream that answers `answer` (and keeps the connection): its outcome, and how
// many connections the pool keeps afterwards.
Outcome callOnce(const QByteArray &answer, int *pooled)
{
    ScriptedUpstream upstream;
    Outcome o;
    if (!upstream.listen())
        return o;
    upstream.script = [answer](QTcpSocket *s) { s->write(answer); };
    UpstreamPool pool;
    UpstreamCall call(&pool);
    wire(call, o);
    call.start(urlOf(upstream), "POST", {{"Content-Type", "application/json"}}, "{}", {});
    QElapsedTimer t;
    t.start();
    while (!o.done() && t.elapsed() < 5000)
        QTest::qWait(10);
    *pooled = pool.idleCount();
    return o;
}

} // namespace

class TestUpstreamClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void framings_data()
    {
        QTest::addColumn<QByteArray>("answer");
        QTest::addColumn<QByteArray>("body");
        QTest::newRow("content-length") << QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") << QByteArray("hello");
        QTest::newRow("chunked, extension and trailer")
            << QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n") << QByteArray("abcde");
        QTest::newRow("100 Continue first") << QByteArray("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") << QByteArray("ok");
        QTest::newRow("204") << QByteArray("HTTP/1.1 204 No Content\r\n\r\n") << QByteArray();
    }

    void framings()
    {
        QFETCH(QByteArray, answer);
        QFETCH(QByteArray, body);
        int pooled = -1;
        const Outcome o = callOnce(answer, &pooled);
        QVERIFY2(o.ended, qPrintable(o.message));
        QCOMPARE(o.body, body);
        QCOMPARE(pooled, 1); // whole and kept alive: back in the pool
    }

    void badAnswersFail_data()
    {
        QTest::addColumn<QByteArray>("answer");
        QTest::addColumn<int>("failure");
        QTest::newRow("not HTTP") << QByteArray("SSH-2.0-OpenSSH\r\n\r\n") << int(UpstreamCall::Failure::Protocol);
        QTest::newRow("bad chunk size") << QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") << int(UpstreamCall::Failure::Protocol);
        QTest::newRow("gzip transfer coding") << QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") << int(UpstreamCall::Failure::Protocol);
    }

    void badAnswersFail()
    {
        QFETCH(QByteArray, answer);
        QFETCH(int, failure);
        int pooled = -1;
        const Outcome o = callOnce(answer, &pooled);
        QVERIFY(o.failure.has_value());
        QCOMPARE(int(*o.failure), failure);
        QCOMPARE(pooled, 0);
    }

    // Review of issue 25: a whole chunked answer whose upstream closed the connection while the
    // call was paused (the relay waiting for its client) was failed as "closed" — the client got a
    // cut stream and the usage chunk was never read.
    void aWholeAnswerSurvivesACloseWhilePaused_data()
    {
        QTest::addColumn<bool>("chunked");
        QTest::newRow("chunked") << true;
        QTest::newRow("delimited by the close") << false;
    }

    void aWholeAnswerSurvivesACloseWhilePaused()
    {
        QFETCH(bool, chunked);
        ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        QByteArray expected;
        upstream.script = [&expected, chunked](QTcpSocket *s) {
            QByteArray out = chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" : "HTTP/1.1 200 OK\r\n\r\n";
            for (int i = 0; i < 50; ++i) {
                const QByteArray event = "data: {\"n\":" + QByteArray::number(i) + "}\n\n";
                expected += event;
                out += chunked ? chunk(event) : event;
            }
            if (chunked)
                out += "0\r\n\r\n";
            s->write(out);
            s->disconnectFromHost(); // everything, then the close
        };
        UpstreamPool pool;
        UpstreamCall call(&pool);
        Outcome o;
        wire(call, o);
        bool paused = false;
        call.onBody = [&](const QByteArray &b) {
            o.body += b;
            if (!paused) { // the client is slow: hold everything after the first part
                paused = true;
                call.setPaused(true);
            }
        };
        call.start(urlOf(upstream), "POST", {}, "{}", {});
        QTRY_VERIFY_WITH_TIMEOUT(paused, 5000);
        QTest::qWait(300); // the upstream has written everything and closed meanwhile
        QVERIFY2(!o.done(), qPrintable(o.message));
        call.setPaused(false);
        QTRY_VERIFY_WITH_TIMEOUT(o.done(), 5000);
        QVERIFY2(o.ended, qPrintable(o.message));
        QCOMPARE(o.body, expected);
    }

    void aCutAnswerIsAFailure()
    {
        ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        upstream.script = [](QTcpSocket *s) {
            s->write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
            s->disconnectFromHost();
        };
        UpstreamPool pool;
        UpstreamCall call(&pool);
        Outcome o;
        wire(call, o);
        call.start(urlOf(upstream), "POST", {}, "{}", {});
        QTRY_VERIFY_WITH_TIMEOUT(o.done(), 5000);
        QVERIFY(o.failure.has_value());
        QCOMPARE(*o.failure, UpstreamCall::Failure::Closed);
        QCOMPARE(o.body, QByteArray("only this"));
    }

    // Review of issue 25: the idle clock counted the time the call was paused for its client, so a
    // stream whose client read slowly was cut as "stalled" although the upstream was not.
    void thePauseDoesNotCountAsTheUpstreamsStall()
    {
        ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        QTcpSocket *peer = nullptr;
        upstream.script = [&peer](QTcpSocket *s) {
            peer = s;
            s->write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("first"));
        };
        UpstreamPool pool;
        UpstreamCall call(&pool);
        Outcome o;
        wire(call, o);
        UpstreamTimeouts t;
        t.idleMs = 400;
        call.start(urlOf(upstream), "POST", {}, "{}", t);
        QTRY_VERIFY_WITH_TIMEOUT(o.body == "first", 5000);
        call.setPaused(true);
        QTest::qWait(300); // the client reads slowly (less than the idle time)
        call.setPaused(false);
        QTest::qWait(250); // then the upstream's next part: 550 ms after the last, 250 after the resume
        QVERIFY2(!o.failure.has_value(), qPrintable(o.message));
        peer->write(chunk("second") + "0\r\n\r\n");
        QTRY_VERIFY_WITH_TIMEOUT(o.done(), 5000);
        QVERIFY2(o.ended, qPrintable(o.message));
        QCOMPARE(o.body, QByteArray("firstsecond"));
    }

    void aStalledUpstreamTimesOut()
    {
        ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        upstream.script = [](QTcpSocket *s) { s->write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("first")); };
        UpstreamPool pool;
        UpstreamCall call(&pool);
        Outcome o;
        wire(call, o);
        UpstreamTimeouts t;
        t.idleMs = 200;
        call.start(urlOf(upstream), "POST", {}, "{}", t);
        QTRY_VERIFY_WITH_TIMEOUT(o.done(), 5000);
        QVERIFY(o.failure.has_value());
        QCOMPARE(*o.failure, UpstreamCall::Failure::IdleTimeout);
    }

    void aKeptConnectionClosedMeanwhileIsRetriedOnce()
    {
        ScriptedUpstream upstream;
        QVERIFY(upstream.listen());
        int answered = 0;
        upstream.script = [&answered](QTcpSocket *s) {
            // The first connection answers once and then closes while idle in the pool.
            s->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            if (++answered == 1)
                QTimer::singleShot(100, s, [s] { s->disconnectFromHost(); });
        };
        UpstreamPool pool;
        {
            UpstreamCall first(&pool);
            Outcome o;
            wire(first, o);
            first.start(urlOf(upstream), "POST", {}, "{}", {});
            QTRY_VERIFY_WITH_TIMEOUT(o.ended, 5000);
        }
        QCOMPARE(pool.idleCount(), 1);
        QTest::qWait(300); // closed by the upstream meanwhile (the pool drops it, or the call retries)
        UpstreamCall second(&pool);
        Outcome o;
        wire(second, o);
        second.start(urlOf(upstream), "POST", {}, "{}", {});
        QTRY_VERIFY_WITH_TIMEOUT(o.done(), 5000);
        QVERIFY2(o.ended, qPrintable(o.message));
        QCOMPARE(o.body, QByteArray("ok"));
        QCOMPARE(upstream.connections, 2);
    }
};

QTEST_GUILESS_MAIN(TestUpstreamClient)
#include "tst_upstreamclient.moc"
