// SPDX-License-Identifier: Apache-2.0
// The check endpoint over real HTTP: the server on a free loopback port (in process, two HTTP
// threads sharing the port) driven by QNetworkAccessManager. The contract of design §3, its
// headers, and every bad input, none of which may crash the server or count against a limit.
#include "apierror.h"
#include "checkrequest.h"
#include "decision.h"
#include "http/httpapi.h"
#include "http/httpresponder.h"
#include "httpcall.h"
#include "sluiceserver.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTcpSocket>
#include <QtTest>

using namespace sluice;

using Answer = test::HttpAnswer;

namespace {
// Reads a raw connection until `marker` has arrived (bounded: 5 s).
QByteArray readUntil(QTcpSocket &socket, const QByteArray &marker)
{
    QByteArray got;
    QElapsedTimer t;
    t.start();
    while (!got.contains(marker) && t.elapsed() < 5000) {
        if (socket.waitForReadyRead(200))
            got += socket.readAll();
    }
    return got;
}
} // namespace

class TestHttpApi : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<SluiceServer> m_server;
    QNetworkAccessManager m_nam;
    QUrl m_base;

    Answer request(const QByteArray &method, const QString &path, const QByteArray &body = QByteArray(),
                   const QByteArray &contentType = "application/json", const HttpHeaders &extra = {})
    {
        return test::httpCall(m_nam, m_base.resolved(QUrl(path)), method, body, contentType, extra);
    }

    Answer check(const QByteArray &body, const HttpHeaders &extra = {})
    {
        return request("POST", QStringLiteral("/rate-limit/check"), body, "application/json", extra);
    }

private Q_SLOTS:
    void init()
    {
        ServerConfig config;
        config.port = 0;
        config.threads = 2;
        m_server = std::make_unique<SluiceServer>(config);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
        m_base = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_server->port()));
    }

    void cleanup() { m_server.reset(); }

    void allowedAnswerCarriesTheContract()
    {
        const Answer a = check(R"({"userId":"ent-user-1","modelId":"gpt-4o","tenantId":"enterprise_co","modelTier":"premium"})");
        QCOMPARE(a.status, 200);
        const QJsonObject o = QJsonDocument::fromJson(a.body).object();
        QCOMPARE(o.value(QStringLiteral("allowed")).toBool(), true);
        QCOMPARE(o.value(QStringLiteral("limit")).toInt(), 100);
        QCOMPARE(o.value(QStringLiteral("count")).toInt(), 1);
        QCOMPARE(o.value(QStringLiteral("remaining")).toInt(), 99);
        QCOMPARE(o.value(QStringLiteral("windowSeconds")).toInt(), 3600);
        QCOMPARE(o.value(QStringLiteral("resetSeconds")).toInt(), 3600);
        QCOMPARE(o.value(QStringLiteral("retryAfterSeconds")).toInt(), 0);
        QCOMPARE(o.value(QStringLiteral("modelTier")).toString(), QStringLiteral("premium"));
        QVERIFY(o.value(QStringLiteral("cause")).isNull());
        QCOMPARE(o.value(QStringLiteral("source")).toString(), QStringLiteral("memory"));
        QCOMPARE(o.value(QStringLiteral("primary")).toObject().value(QStringLiteral("scope")).toString(), QStringLiteral("USER_MODEL"));
        QCOMPARE(o.value(QStringLiteral("policies")).toArray().size(), 4);
        QCOMPARE(a.headers.value("ratelimit-policy"), QByteArray("\"user_model\";q=100;w=3600"));
        QCOMPARE(a.headers.value("ratelimit"), QByteArray("\"user_model\";r=99;t=3600"));
        QCOMPARE(a.headers.value("x-ratelimit-limit"), QByteArray("100"));
        QCOMPARE(a.headers.value("x-ratelimit-remaining"), QByteArray("99"));
        const qint64 reset = a.headers.value("x-ratelimit-reset").toLongLong();
        QVERIFY(std::abs(reset - (QDateTime::currentSecsSinceEpoch() + 3600)) <= 2);
        QVERIFY(!a.headers.contains("retry-after"));
        QVERIFY(Decision::fromJson(a.body).has_value());
    }

    void blockedAnswerIs429WithRetryAfter()
    {
        const QByteArray body = R"({"userId":"ent-user-2","modelId":"gpt-4o","tenantId":"enterprise_co"})";
        for (int i = 0; i < 10; ++i)
            QCOMPARE(check(body).status, 200);
        const Answer a = check(body);
        QCOMPARE(a.status, 429);
        const auto d = Decision::fromJson(a.body);
        QVERIFY(d);
        QVERIFY(!d->allowed);
        QCOMPARE(d->limit, qint64(10));
        QCOMPARE(d->count, qint64(11));
        QCOMPARE(d->cause, QStringLiteral("USER_MODEL exceeded: 11/10 in the last 3600 seconds (key=sluice:{user_model:ent-user-2:gpt-4o})"));
        QVERIFY(d->retryAfterSeconds >= 3599 && d->retryAfterSeconds <= 3600);
        QCOMPARE(a.headers.value("retry-after").toLongLong(), d->retryAfterSeconds);
        QCOMPARE(a.headers.value("ratelimit"), QByteArray("\"user_model\";r=0;t=") + QByteArray::number(d->resetSeconds));
        QCOMPARE(a.headers.value("x-ratelimit-remaining"), QByteArray("0"));
    }

    void badInput_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("contentType");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("message");

        const QString check = QStringLiteral("/rate-limit/check");
        const QByteArray json = "application/json";
        QTest::addRow("malformed JSON") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"a",)") << 400 << "not valid JSON";
        QTest::addRow("array body") << QByteArray("POST") << check << json << QByteArray(R"(["a"])") << 400 << "JSON object";
        QTest::addRow("string body") << QByteArray("POST") << check << json << QByteArray(R"("a")") << 400 << "";
        QTest::addRow("empty body") << QByteArray("POST") << check << json << QByteArray() << 400 << "";
        QTest::addRow("missing userId") << QByteArray("POST") << check << json << QByteArray(R"({"modelId":"gpt-4o"})") << 400 << "userId is required";
        QTest::addRow("null userId") << QByteArray("POST") << check << json << QByteArray(R"({"userId":null,"modelId":"gpt-4o"})") << 400 << "userId is required";
        QTest::addRow("missing modelId") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"u"})") << 400 << "modelId is required";
        QTest::addRow("empty userId") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"","modelId":"gpt-4o"})") << 400 << "userId must not be empty";
        QTest::addRow("numeric userId") << QByteArray("POST") << check << json << QByteArray(R"({"userId":42,"modelId":"gpt-4o"})") << 400 << "userId must be a string";
        QTest::addRow("object modelId") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"u","modelId":{}})") << 400 << "modelId must be a string";
        QTest::addRow("129-character userId") << QByteArray("POST") << check << json
            << QByteArray(R"({"userId":")" + QByteArray(129, 'x') + R"(","modelId":"gpt-4o"})") << 400 << "longer than 128";
        QTest::addRow("numeric tenantId") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"u","modelId":"m","tenantId":7})") << 400 << "tenantId must be a string";
        QTest::addRow("fractional cost") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"u","modelId":"m","cost":1.5})") << 400 << "cost must be an integer";
        QTest::addRow("negative cost") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"u","modelId":"m","cost":-3})") << 400 << "cost must be an integer";
        QTest::addRow("zero cost") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"u","modelId":"m","cost":0})") << 400 << "cost";
        QTest::addRow("string cost") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"u","modelId":"m","cost":"1"})") << 400 << "cost";
        QTest::addRow("huge cost") << QByteArray("POST") << check << json << QByteArray(R"({"userId":"u","modelId":"m","cost":1e12})") << 400 << "cost";
        QTest::addRow("contradicting tier") << QByteArray("POST") << check << json
            << QByteArray(R"({"userId":"u","modelId":"tiny-model","modelTier":"premium"})") << 400 << "contradicts the registry";
        QTest::addRow("unknown API key") << QByteArray("POST") << check << json
            << QByteArray(R"({"userId":"u","modelId":"gpt-4o","apiKey":"nope"})") << 401 << "unknown API key";
        QTest::addRow("key of another tenant") << QByteArray("POST") << check << json
            << QByteArray(R"({"userId":"u","modelId":"gpt-4o","tenantId":"enterprise_co","apiKey":"sluice-demo-free-co-key"})") << 403 << "does not belong";
        QTest::addRow("body over 16 KiB") << QByteArray("POST") << check << json
            << QByteArray(R"({"userId":"u","modelId":"gpt-4o","pad":")" + QByteArray(17 * 1024, 'p') + R"("})") << 413 << "larger than 16384";
        QTest::addRow("text/plain") << QByteArray("POST") << check << QByteArray("text/plain") << QByteArray(R"({"userId":"u","modelId":"m"})") << 415 << "application/json";
        QTest::addRow("form encoded") << QByteArray("POST") << check << QByteArray("application/x-www-form-urlencoded") << QByteArray("userId=u") << 415 << "";
        QTest::addRow("json as a prefix") << QByteArray("POST") << check << QByteArray("application/jsonl") << QByteArray(R"({"userId":"u","modelId":"m"})") << 415 << "application/json";
        QTest::addRow("json cut short") << QByteArray("POST") << check << QByteArray("application/jso") << QByteArray(R"({"userId":"u","modelId":"m"})") << 415 << "application/json";
        QTest::addRow("json after a parameter") << QByteArray("POST") << check << QByteArray("text/plain; x=application/json") << QByteArray(R"({"userId":"u","modelId":"m"})") << 415 << "application/json";
        QTest::addRow("GET on check") << QByteArray("GET") << check << QByteArray() << QByteArray() << 405 << "not allowed";
        QTest::addRow("DELETE on check") << QByteArray("DELETE") << check << QByteArray() << QByteArray() << 405 << "not allowed";
        QTest::addRow("unknown route") << QByteArray("POST") << QStringLiteral("/rate-limit/checks") << json << QByteArray("{}") << 404 << "no such route";
        QTest::addRow("unknown GET route") << QByteArray("GET") << QStringLiteral("/nope") << QByteArray() << QByteArray() << 404 << "no such route";
    }

    void badInput()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, contentType);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, message);
        const Answer a = request(method, path, body, contentType);
        QCOMPARE(a.status, status);
        ApiError error(0, {}, {});
        QVERIFY2(ApiError::fromJson(a.body, a.status, &error), a.body.constData());
        QVERIFY(!error.code().isEmpty());
        QVERIFY2(error.message().contains(message), qPrintable(error.message()));
        // Nothing was counted: the user's first real check is its first.
        const Answer ok = check(R"({"userId":"u","modelId":"gpt-4o","tenantId":"enterprise_co"})");
        QCOMPARE(ok.status, 200);
        QCOMPARE(QJsonDocument::fromJson(ok.body).object().value(QStringLiteral("count")).toInt(), 1);
        QCOMPARE(request("GET", QStringLiteral("/health")).status, 200);
    }

    // The media type is compared without its parameters, blanks around it and case.
    void jsonMediaTypeIsReadAsHttpSaysIt()
    {
        for (const QByteArray &type : {QByteArray("application/json"), QByteArray("Application/JSON"),
                                       QByteArray("application/json; charset=utf-8"), QByteArray(" application/json ;charset=UTF-8")}) {
            const Answer a = request("POST", QStringLiteral("/rate-limit/check"), R"({"userId":"u","modelId":"gpt-4o"})", type);
            QVERIFY2(a.status == 200, type.constData());
        }
    }

    void apiKeyHeaderWorks()
    {
        const Answer a = check(R"({"userId":"free-user-1","modelId":"gpt-4o"})", {{"X-API-Key", "sluice-demo-free-co-key"}});
        QCOMPARE(a.status, 200);
        const auto d = Decision::fromJson(a.body);
        QCOMPARE(scopeName(d->primary->scope), QStringLiteral("API_KEY"));
        QCOMPARE(check(R"({"userId":"free-user-1","modelId":"gpt-4o-mini"})", {{"X-API-Key", "wrong"}}).status, 401);
    }

    void unicodeIdsRoundTrip()
    {
        // 128 characters, some outside the BMP (two UTF-16 units each), quotes and separators.
        QString user = QStringLiteral("ü\"%;:{}") + QString::fromUtf8("\xF0\x9F\x98\x80");
        while (codePointCount(user) < 128)
            user += QStringLiteral("é");
        const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("userId"), user}, {QStringLiteral("modelId"), QStringLiteral("gpt-4o")}})
                                    .toJson(QJsonDocument::Compact);
        const Answer a = check(body);
        QCOMPARE(a.status, 200);
        const auto d = Decision::fromJson(a.body);
        QVERIFY(d->primary->label.contains(user));
        QCOMPARE(check(body).status, 200);
        QCOMPARE(Decision::fromJson(check(body).body)->count, qint64(3));
    }

    void oversizedBodyIsRefusedBeforeItIsSent()
    {
        // Declare 10 MB, send 100 bytes: the 413 must come without waiting for the rest.
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(socket.waitForConnected(5000));
        socket.write("POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 10000000\r\n\r\n" + QByteArray(100, ' '));
        const QByteArray got = readUntil(socket, "\r\n\r\n");
        QVERIFY2(got.startsWith("HTTP/1.1 413 "), got.constData());
        QVERIFY(got.contains("Connection: close"));
    }

    void malformedFramingIsRefused_data()
    {
        QTest::addColumn<QByteArray>("head");
        QTest::addColumn<QByteArray>("status");
        QTest::addRow("content-length not a number") << QByteArray("Content-Length: ten\r\n") << QByteArray("400");
        QTest::addRow("content-length huge") << QByteArray("Content-Length: 99999999999999999999\r\n") << QByteArray("413");
        QTest::addRow("chunked body") << QByteArray("Transfer-Encoding: chunked\r\n") << QByteArray("411");
    }

    void malformedFramingIsRefused()
    {
        QFETCH(QByteArray, head);
        QFETCH(QByteArray, status);
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(socket.waitForConnected(5000));
        socket.write("POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + head + "\r\n");
        const QByteArray got = readUntil(socket, "\r\n\r\n");
        QVERIFY2(got.startsWith("HTTP/1.1 " + status), got.constData());
        QCOMPARE(request("GET", QStringLiteral("/health")).status, 200);
    }

    void healthAndMetrics()
    {
        const Answer h = request("GET", QStringLiteral("/health"));
        QCOMPARE(h.status, 200);
        const QJsonObject o = QJsonDocument::fromJson(h.body).object();
        QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
        QCOMPARE(o.value(QStringLiteral("store")).toObject().value(QStringLiteral("source")).toString(), QStringLiteral("memory"));
        QCOMPARE(o.value(QStringLiteral("registry")).toObject().value(QStringLiteral("source")).toString(), QStringLiteral("built-in"));
        check(R"({"userId":"u","modelId":"gpt-4o"})");
        check(R"({"userId":"u"})");
        const Answer m = request("GET", QStringLiteral("/metrics"));
        QCOMPARE(m.status, 200);
        QVERIFY(m.body.contains("sluice_decisions_total{scope=\"USER_MODEL\",result=\"allowed\",source=\"memory\"} 1"));
        QVERIFY(m.body.contains("sluice_rejected_requests_total{status=\"400\"} 1"));
        QVERIFY(m.body.contains("sluice_check_latency_seconds_count{door=\"http\"} 1"));
        QVERIFY(m.body.contains("sluice_check_latency_seconds_count{door=\"forward-auth\"} 0"));
    }

    void keepAliveServesManyOnOneConnection()
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(socket.waitForConnected(5000));
        const QByteArray body = R"({"userId":"k","modelId":"gpt-4o"})";
        for (int i = 1; i <= 5; ++i) {
            socket.write("POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                         + QByteArray::number(body.size()) + "\r\n\r\n" + body);
            const QByteArray got = readUntil(socket, "\"policies\"");
            QVERIFY2(got.contains("\"count\":" + QByteArray::number(i)), got.constData());
        }
    }

    // Issue 24: the check door writes its answers in reused buffers and sends them from there (at
    // once, or after pipelined ones in one write). What goes on the wire must be, byte for byte,
    // what the general writers make of the same decision (Decision::toJson, decisionHeaderLines,
    // buildHttpResponse): one check, then 102 pipelined in one write (two refused), a fresh
    // connection for a tenant with a reservation, and a forward-auth GET and HEAD.
    void wireAnswersAreTheReferenceBytes()
    {
        // Takes one whole answer off the socket (bounded by time).
        auto takeAnswer = [](QTcpSocket &socket, QByteArray &buffer) -> QByteArray {
            QElapsedTimer timer;
            timer.start();
            for (;;) {
                const qsizetype headEnd = buffer.indexOf("\r\n\r\n");
                if (headEnd >= 0) {
                    const QByteArray head = buffer.left(headEnd);
                    const qsizetype at = head.toLower().indexOf("content-length: ");
                    const qsizetype lineEnd = head.indexOf("\r\n", at);
                    const qint64 length = head.mid(at + 16, (lineEnd < 0 ? head.size() : lineEnd) - at - 16).toLongLong();
                    const qsizetype total = headEnd + 4 + length;
                    if (buffer.size() >= total) {
                        const QByteArray answer = buffer.left(total);
                        buffer.remove(0, total);
                        return answer;
                    }
                }
                if (timer.elapsed() > 10000 || !socket.waitForReadyRead(2000))
                    return QByteArray();
                buffer += socket.readAll();
            }
        };
        // The reference bytes of an answer, from the decision its body carries.
        auto reference = [](const QByteArray &answer, const QByteArray &extraLines) -> QByteArray {
            const qsizetype headEnd = answer.indexOf("\r\n\r\n");
            const int status = answer.mid(9, 3).toInt();
            const QByteArray body = answer.mid(headEnd + 4);
            const std::optional<Decision> d = Decision::fromJson(body);
            if (!d)
                return "not a decision: " + body;
            // The seconds the server read its clock at: from its X-RateLimit-Reset.
            const qsizetype at = answer.indexOf("X-RateLimit-Reset: ");
            const qint64 now = answer.mid(at + 19, answer.indexOf("\r\n", at) - at - 19).toLongLong() - d->resetSeconds;
            const QByteArray json = d->toJson();
            return buildHttpResponse(status, "application/json", json, {}, HttpResponder::Framing::KeepAlive,
                                     decisionHeaderLines(*d, now) + extraLines);
        };
        auto post = [](const QByteArray &body) {
            return "POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                   + QByteArray::number(body.size()) + "\r\n\r\n" + body;
        };

        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(socket.waitForConnected(5000));
        QByteArray buffer;
        const QByteArray body = R"({"userId":"wire-user","modelId":"gpt-4o","tenantId":"enterprise_co","modelTier":"premium"})";
        socket.write(post(body));
        QByteArray answer = takeAnswer(socket, buffer);
        QVERIFY(answer.startsWith("HTTP/1.1 200 OK\r\n"));
        QCOMPARE(answer, reference(answer, QByteArray()));

        QByteArray burst;
        for (int i = 0; i < 102; ++i)
            burst += post(body);
        socket.write(burst);
        int refused = 0;
        for (int i = 0; i < 102; ++i) {
            answer = takeAnswer(socket, buffer);
            QVERIFY2(!answer.isEmpty(), qPrintable(QStringLiteral("answer %1 did not come").arg(i)));
            refused += answer.startsWith("HTTP/1.1 429 Too Many Requests\r\n") ? 1 : 0;
            QCOMPARE(answer, reference(answer, QByteArray()));
        }
        QCOMPARE(refused, 3); // (the base rule: 100 an hour; 103 checks)
        QVERIFY(buffer.isEmpty());

        // Forward-auth: the decision header, and HEAD without the body.
        QTcpSocket gate;
        gate.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(gate.waitForConnected(5000));
        QByteArray gateBuffer;
        const QByteArray ask = "/rate-limit/forward-auth HTTP/1.1\r\nHost: x\r\nX-User-Id: wire-gate\r\nX-Model-Id: gpt-4o\r\n\r\n";
        gate.write("GET " + ask);
        answer = takeAnswer(gate, gateBuffer);
        QVERIFY(answer.startsWith("HTTP/1.1 200 OK\r\n"));
        QCOMPARE(answer, reference(answer, "X-Sluice-Decision: allowed\r\n"));
        gate.write("HEAD " + ask);
        QElapsedTimer timer;
        timer.start();
        while (!gateBuffer.contains("\r\n\r\n") && timer.elapsed() < 10000 && gate.waitForReadyRead(2000))
            gateBuffer += gate.readAll();
        const QByteArray head = gateBuffer;
        QVERIFY(head.endsWith("\r\n\r\n"));
        QVERIFY(head.contains("X-RateLimit-Remaining: 98\r\n"));
        QVERIFY(head.contains("X-Sluice-Decision: allowed\r\n"));
    }
};

QTEST_GUILESS_MAIN(TestHttpApi)
#include "tst_httpapi.moc"
