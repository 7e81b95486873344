// SPDX-License-Identifier: Apache-2.0
// Exactness across instances: 4 sluice-server processes × 64 concurrent clients against one key
// with limit 100 admit exactly 100, round after round, on one Redis and on a Redis Cluster (keys
// of a check in different slots). The same for the units of design §10: token estimates and
// completions interleaved never pass the limit at an admission and leave exactly the completed
// weights in Redis; concurrency leases held (counted on the Redis side while callers come and go)
// never pass the limit at any moment.
#include "httpcall.h"
#include "services.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <functional>

using namespace sluice;

namespace {

// One keep-alive connection sending `count` checks one after another.
class Client : public QObject
{
public:
    Client(quint16 port, QByteArray request, int count, QObject *parent)
        : QObject(parent), m_request(std::move(request)), m_left(count)
    {
        connect(&m_socket, &QTcpSocket::connected, this, [this] { sendNext(); });
        connect(&m_socket, &QTcpSocket::readyRead, this, [this] { onRead(); });
        connect(&m_socket, &QTcpSocket::errorOccurred, this, [this] { m_failed = true; m_left = 0; });
        m_socket.connectToHost(QHostAddress::LocalHost, port);
    }
    bool finished() const { return m_left == 0 && !m_waiting; }
    int ok = 0, limited = 0, other = 0;
    bool failed() const { return m_failed; }

private:
    void sendNext()
    {
        if (m_left == 0)
            return;
        --m_left;
        m_waiting = true;
        m_buffer.clear();
        m_socket.write(m_request);
    }
    void onRead()
    {
        m_buffer += m_socket.readAll();
        const qsizetype head = m_buffer.indexOf("\r\n\r\n");
        if (head < 0)
            return;
        const qsizetype cl = m_buffer.indexOf("Content-Length: ");
        const qint64 length = m_buffer.mid(cl + 16, m_buffer.indexOf('\r', cl) - cl - 16).toLongLong();
        if (m_buffer.size() < head + 4 + length)
            return;
        const int status = m_buffer.mid(9, 3).toInt();
        // Every answer must come from the shared store, never from the local fallback.
        if (!m_buffer.contains("\"source\":\"redis"))
            ++other;
        else if (status == 200)
            ++ok;
        else if (status == 429)
            ++limited;
        else
            ++other;
        m_waiting = false;
        sendNext();
    }

    QTcpSocket m_socket;
    QByteArray m_request;
    QByteArray m_buffer;
    int m_left;
    bool m_waiting = false;
    bool m_failed = false;
};

// One keep-alive connection making POSTs one after another: post() when the previous answered.
class KeepAlive : public QObject
{
public:
    using Answer = std::function<void(int status, const QByteArray &body)>;
    explicit KeepAlive(quint16 port, QObject *parent) : QObject(parent)
    {
        connect(&m_socket, &QTcpSocket::readyRead, this, [this] { onRead(); });
        connect(&m_socket, &QTcpSocket::errorOccurred, this, [this] {
            failed = true;
            if (m_answer)
                std::exchange(m_answer, nullptr)(0, QByteArray());
        });
        m_socket.connectToHost(QHostAddress::LocalHost, port);
    }
    void post(const QByteArray &path, const QByteArray &body, Answer answer)
    {
        m_answer = std::move(answer);
        m_buffer.clear();
        m_socket.write("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                       + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    }
    bool failed = false;

private:
    void onRead()
    {
        m_buffer += m_socket.readAll();
        const qsizetype head = m_buffer.indexOf("\r\n\r\n");
        const qsizetype cl = m_buffer.indexOf("Content-Length: ");
        if (head < 0 || cl < 0)
            return;
        const qint64 length = m_buffer.mid(cl + 16, m_buffer.indexOf('\r', cl) - cl - 16).toLongLong();
        if (m_buffer.size() < head + 4 + length || !m_answer)
            return;
        std::exchange(m_answer, nullptr)(m_buffer.mid(9, 3).toInt(), m_buffer.mid(head + 4, length));
    }
    QTcpSocket m_socket;
    QByteArray m_buffer;
    Answer m_answer;
};

// The count of one unit's TENANT policy in a check's answer (-1: none).
qint64 tenantCount(const QJsonObject &answer, const QString &unit)
{
    for (const QJsonValue &v : answer.value(QStringLiteral("policies")).toArray()) {
        const QJsonObject p = v.toObject();
        if (p.value(QStringLiteral("scope")).toString() == QStringLiteral("TENANT") && p.value(QStringLiteral("unit")).toString() == unit)
            return p.value(QStringLiteral("count")).toInteger();
    }
    return -1;
}

// A caller of the lifecycle: check (with a token estimate), and when admitted complete — at once
// with an actual count (tokens), or after holding its lease a few ms (concurrent). `rounds` times.
class LifecycleCaller : public QObject
{
public:
    LifecycleCaller(quint16 port, QByteArray tenant, bool leases, int rounds, QObject *parent)
        : QObject(parent), m_http(port, this), m_tenant(std::move(tenant)), m_leases(leases), m_left(rounds)
    {
        QTimer::singleShot(0, this, [this] { next(); });
    }
    bool finished() const { return m_left == 0 && !m_busy; }
    bool failed() const { return m_http.failed || !m_error.isEmpty(); }
    QString error() const { return m_http.failed ? QStringLiteral("connection failed") : m_error; }
    int admitted = 0, limited = 0;
    qint64 worstTokenCount = 0; // the largest token count any admission reported
    qint64 finalWeights = 0;    // what this caller's admitted requests weigh after completion

private:
    void next()
    {
        if (m_left == 0) {
            m_busy = false;
            return;
        }
        --m_left;
        m_busy = true;
        const qint64 estimate = m_leases ? 1 : 50 + QRandomGenerator::global()->bounded(150);
        const QByteArray body = "{\"userId\":\"u" + QByteArray::number(QRandomGenerator::global()->bounded(1000))
            + "\",\"modelId\":\"m\",\"tenantId\":\"" + m_tenant + "\",\"cost\":" + QByteArray::number(estimate) + "}";
        m_http.post("/rate-limit/check", body, [this, estimate](int status, const QByteArray &reply) {
            const QJsonObject o = QJsonDocument::fromJson(reply).object();
            if (status == 429) {
                ++limited;
                return next();
            }
            if (status != 200 || !o.value(QStringLiteral("source")).toString().startsWith(QStringLiteral("redis"))) {
                m_error = QStringLiteral("check answered %1: %2").arg(status).arg(QString::fromUtf8(reply));
                m_left = 0;
                return next();
            }
            ++admitted;
            worstTokenCount = std::max(worstTokenCount, tenantCount(o, QStringLiteral("tokens")));
            const QByteArray id = o.value(QStringLiteral("reservationId")).toString().toUtf8();
            const qint64 actual = m_leases ? 1 : QRandomGenerator::global()->bounded(2 * estimate);
            auto completeNow = [this, id, actual, estimate] {
                m_http.post("/rate-limit/complete",
                            "{\"reservationId\":\"" + id + "\"" + (m_leases ? QByteArray() : ",\"tokens\":" + QByteArray::number(actual)) + "}",
                            [this, actual, estimate](int status, const QByteArray &reply) {
                                if (status != 200) {
                                    m_error = QStringLiteral("complete answered %1: %2").arg(status).arg(QString::fromUtf8(reply));
                                    m_left = 0;
                                } else {
                                    finalWeights += m_leases ? 0 : actual;
                                }
                                Q_UNUSED(estimate);
                                next();
                            });
            };
            if (m_leases)
                QTimer::singleShot(5 + QRandomGenerator::global()->bounded(25), this, completeNow);
            else
                completeNow();
        });
    }

    KeepAlive m_http;
    QByteArray m_tenant;
    bool m_leases;
    int m_left;
    bool m_busy = true;
    QString m_error;
};

// Counts the members of one ZSET on the Redis side, over and over, without blocking the event
// loop (RESP over a socket; follows one MOVED to the node that serves the key in a Cluster).
class ZcardPoller : public QObject
{
public:
    ZcardPoller(const QString &host, quint16 port, QByteArray key, QObject *parent) : QObject(parent), m_key(std::move(key))
    {
        connect(&m_socket, &QTcpSocket::connected, this, [this] { ask(); });
        connect(&m_socket, &QTcpSocket::readyRead, this, [this] { onRead(); });
        m_socket.connectToHost(host, port);
    }
    qint64 max = -1;
    int samples = 0;
    void stop() { m_stopped = true; }

private:
    void ask()
    {
        if (!m_stopped)
            m_socket.write("*2\r\n$5\r\nZCARD\r\n$" + QByteArray::number(m_key.size()) + "\r\n" + m_key + "\r\n");
    }
    void onRead()
    {
        m_buffer += m_socket.readAll();
        const qsizetype end = m_buffer.indexOf("\r\n");
        if (end < 0)
            return;
        const QByteArray line = m_buffer.left(end);
        m_buffer.remove(0, end + 2);
        if (line.startsWith("-MOVED")) { // "-MOVED <slot> <host>:<port>"
            const QList<QByteArray> address = line.split(' ').at(2).split(':');
            m_socket.disconnectFromHost();
            m_socket.connectToHost(QString::fromLatin1(address.at(0)), static_cast<quint16>(address.at(1).toUInt()));
            return;
        }
        if (line.startsWith(':')) {
            max = std::max(max, line.mid(1).toLongLong());
            ++samples;
        }
        ask();
    }
    QTcpSocket m_socket;
    QByteArray m_key;
    QByteArray m_buffer;
    bool m_stopped = false;
};

// Checks back to back on one connection until a deadline (bounded: at most 2,000 checks).
class DeadlineCaller : public QObject
{
public:
    DeadlineCaller(quint16 port, QByteArray body, qint64 deadlineMs, const QElapsedTimer &clock, QObject *parent)
        : QObject(parent), m_http(port, this), m_body(std::move(body)), m_deadline(deadlineMs), m_clock(clock)
    {
        QTimer::singleShot(0, this, [this] { next(); });
    }
    int admitted = 0, limited = 0, other = 0;
    bool finished = false;

private:
    void next()
    {
        if (m_clock.elapsed() >= m_deadline || admitted + limited + other >= 2000) {
            finished = true;
            return;
        }
        m_http.post("/rate-limit/check", m_body, [this](int status, const QByteArray &) {
            ++(status == 200 ? admitted : status == 429 ? limited : other);
            next();
        });
    }
    KeepAlive m_http;
    QByteArray m_body;
    qint64 m_deadline;
    const QElapsedTimer &m_clock;
};

// A shared store (one Redis or a Redis Cluster) and 4 sluice-server processes on it, one HTTP
// thread each, with a registry of the test's own.
struct Fleet
{
    test::RedisServer redis;
    test::RedisCluster cluster;
    bool single = true;
    QTemporaryDir dir;
    std::vector<std::unique_ptr<test::ServerProcess>> servers;
    QString error;

    bool startStore(const QString &store)
    {
        single = store == QStringLiteral("redis");
        return single ? redis.start(&error) : cluster.start(&error);
    }
    bool startServers(const QByteArray &registryJson, const QStringList &extra = {})
    {
        const QString registry = dir.filePath(QStringLiteral("registry.json"));
        QFile f(registry);
        if (!f.open(QIODevice::WriteOnly) || f.write(registryJson) != registryJson.size()) {
            error = QStringLiteral("cannot write %1").arg(registry);
            return false;
        }
        f.close();
        const QStringList store = single ? QStringList{QStringLiteral("--redis"), redis.url()}
                                         : QStringList{QStringLiteral("--redis-cluster"), cluster.seeds()};
        for (int i = 0; i < 4; ++i) {
            auto s = std::make_unique<test::ServerProcess>();
            if (!s->start(store + QStringList{QStringLiteral("--registry-file"), registry, QStringLiteral("--threads"), QStringLiteral("1"),
                                              QStringLiteral("--redis-timeout-ms"), QStringLiteral("2000")} + extra,
                          &error))
                return false;
            servers.push_back(std::move(s));
        }
        // Connections and a Cluster's slot map come up asynchronously: until then the failure
        // mode would answer. Go once every instance's /health says its store is ok.
        QNetworkAccessManager nam;
        for (const auto &s : servers) {
            QElapsedTimer t;
            t.start();
            QByteArray health;
            while (t.elapsed() < 10000) {
                health = test::httpCall(nam, s->baseUrl().resolved(QUrl(QStringLiteral("/health"))), "GET").body;
                if (QJsonDocument::fromJson(health).object().value(QStringLiteral("store")).toObject().value(QStringLiteral("status"))
                    == QStringLiteral("ok"))
                    break;
                QTest::qWait(20);
            }
            if (t.elapsed() >= 10000) {
                error = QStringLiteral("the store is not ok: %1").arg(QString::fromUtf8(health));
                return false;
            }
        }
        return true;
    }
    quint16 port(int caller) const { return servers[static_cast<size_t>(caller % 4)]->port(); }
    quint16 storePort() const { return single ? redis.port() : cluster.ports().first(); }
    QByteArray cli(const QStringList &args) const { return single ? redis.cli(args) : cluster.cli(cluster.ports().first(), args); }
    // Over every instance: script calls and the checks they carried (from /health).
    std::pair<qint64, qint64> batching() const
    {
        QNetworkAccessManager nam;
        qint64 calls = 0, checks = 0;
        for (const auto &s : servers) {
            const QJsonObject store = QJsonDocument::fromJson(
                test::httpCall(nam, s->baseUrl().resolved(QUrl(QStringLiteral("/health"))), "GET").body).object().value(QStringLiteral("store")).toObject();
            for (const QJsonValue &t : store.value(QStringLiteral("threads")).toArray()) {
                calls += static_cast<qint64>(t.toObject().value(QStringLiteral("batches")).toDouble());
                checks += static_cast<qint64>(t.toObject().value(QStringLiteral("batchedChecks")).toDouble());
            }
        }
        return {calls, checks};
    }
    // The checks went in batches: fewer script calls than checks (a Cluster counts slot groups).
    bool batched() const
    {
        const auto [calls, checks] = batching();
        qInfo("%lld checks (slot groups on a Cluster) in %lld script calls", checks, calls);
        return calls > 0 && calls < checks;
    }
    bool stopServers()
    {
        bool clean = true;
        for (auto &s : servers) {
            if (!s->stop()) {
                clean = false;
                qWarning("a server did not stop cleanly; its output:\n%s", s->output().right(32000).constData());
            }
        }
        return clean;
    }
};

} // namespace

class TestExactness : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void lifecycleAcrossFourInstances_data()
    {
        QTest::addColumn<QString>("store");
        QTest::addColumn<bool>("leases");
        for (const char *store : {"redis", "redis-cluster"}) {
            QTest::addRow("%s: tokens", store) << QString::fromLatin1(store) << false;
            QTest::addRow("%s: concurrent", store) << QString::fromLatin1(store) << true;
        }
    }

    void lifecycleAcrossFourInstances()
    {
        QFETCH(QString, store);
        QFETCH(bool, leases);
        constexpr qint64 kTokenLimit = 3000;
        constexpr qint64 kLeaseLimit = 4;
        Fleet fleet;
        SLUICE_REQUIRE_SERVICE(fleet.startStore(store), fleet.error);
        // A default per tenant (the run's own tenant gets fresh keys): tokens per hour, or leases.
        QVERIFY2(fleet.startServers(leases ? R"({"policies":[{"id":1,"scope":"USER_MODEL","windowSeconds":3600,"limit":1000000000},
                                                          {"id":2,"scope":"TENANT","unit":"concurrent","limit":4}]})"
                                           : R"({"policies":[{"id":1,"scope":"USER_MODEL","windowSeconds":3600,"limit":1000000000},
                                                          {"id":2,"scope":"TENANT","unit":"tokens","windowSeconds":3600,"limit":3000}]})"),
                 qPrintable(fleet.error));
        const QByteArray tenant = "x" + QByteArray::number(QRandomGenerator::global()->generate64(), 36);
        const QByteArray key = "sluice:{tenant:" + tenant + "}" + (leases ? ":leases" : ":tokens");

        ZcardPoller *poller = nullptr;
        if (leases)
            poller = new ZcardPoller(QStringLiteral("127.0.0.1"), fleet.storePort(), key, this);
        std::vector<LifecycleCaller *> callers;
        for (int c = 0; c < 64; ++c)
            callers.push_back(new LifecycleCaller(fleet.port(c), tenant, leases, leases ? 5 : 6, this));
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 60000 && !std::all_of(callers.begin(), callers.end(), [](LifecycleCaller *c) { return c->finished(); }))
            QTest::qWait(5);
        if (poller)
            poller->stop();
        int admitted = 0, limited = 0;
        qint64 worst = 0, weights = 0;
        for (LifecycleCaller *c : callers) {
            QVERIFY2(!c->failed(), qPrintable(c->error()));
            QVERIFY(c->finished());
            admitted += c->admitted;
            limited += c->limited;
            worst = std::max(worst, c->worstTokenCount);
            weights += c->finalWeights;
            c->deleteLater();
        }
        qInfo("%s: %d admitted, %d refused", QTest::currentDataTag(), admitted, limited);
        QVERIFY(admitted > 0);
        QVERIFY(limited > 0); // demand exceeded supply
        if (leases) {
            // Never more leases held than the limit, at any moment the poller looked; none left.
            qInfo("leases held at most %lld (over %d samples)", poller->max, poller->samples);
            QVERIFY(poller->samples > 0);
            QVERIFY2(poller->max <= kLeaseLimit, qPrintable(QString::number(poller->max)));
            QCOMPARE(fleet.cli({QStringLiteral("ZCARD"), QString::fromUtf8(key)}), QByteArray("0"));
        } else {
            // Every admission fit its estimate under the limit...
            QVERIFY2(worst <= kTokenLimit, qPrintable(QString::number(worst)));
            // ...and the log holds exactly the completed weights, no more, no less.
            qint64 logged = 0;
            // (a log is a list of entries: "<time>", or "<time>:<weight>" when the weight is not 1)
            for (const QByteArray &e : fleet.cli({QStringLiteral("LRANGE"), QString::fromUtf8(key), QStringLiteral("0"), QStringLiteral("-1")}).split('\n')) {
                if (e.isEmpty())
                    continue;
                const qsizetype colon = e.indexOf(':');
                logged += colon < 0 ? 1 : e.mid(colon + 1).toLongLong();
            }
            QCOMPARE(logged, weights);
        }
        QVERIFY(fleet.batched());
        QVERIFY(fleet.stopServers());
    }

    // A token bucket (design §11) shared by 4 instances: while demand exceeds supply, exactly the
    // burst plus what dripped in meanwhile is admitted — never more, and not less.
    void tokenBucketAcrossFourInstances_data()
    {
        QTest::addColumn<QString>("store");
        QTest::addRow("redis") << "redis";
        QTest::addRow("redis-cluster") << "redis-cluster";
    }

    void tokenBucketAcrossFourInstances()
    {
        QFETCH(QString, store);
        constexpr double kRate = 20;  // tokens per second
        constexpr int kBurst = 10;
        constexpr qint64 kRunMs = 1500;
        Fleet fleet;
        SLUICE_REQUIRE_SERVICE(fleet.startStore(store), fleet.error);
        // 20 per second, bursts of 10, per tenant; the other policies never refuse.
        QVERIFY2(fleet.startServers(R"({"policies":[{"id":1,"scope":"USER_MODEL","windowSeconds":3600,"limit":1000000000},
                                                 {"id":2,"scope":"TENANT","windowSeconds":1,"limit":20,"algorithm":"token_bucket","burst":10},
                                                 {"id":3,"scope":"GLOBAL","windowSeconds":3600,"limit":1000000000}]})"),
                 qPrintable(fleet.error));
        const QByteArray body = "{\"userId\":\"u\",\"modelId\":\"m\",\"tenantId\":\"b"
            + QByteArray::number(QRandomGenerator::global()->generate64(), 36) + "\"}";
        QElapsedTimer clock;
        clock.start();
        std::vector<DeadlineCaller *> callers;
        for (int c = 0; c < 64; ++c)
            callers.push_back(new DeadlineCaller(fleet.port(c), body, kRunMs, clock, this));
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 30000 && !std::all_of(callers.begin(), callers.end(), [](DeadlineCaller *c) { return c->finished; }))
            QTest::qWait(2);
        const double elapsedS = static_cast<double>(clock.elapsed()) / 1000.0; // first send to last answer
        int admitted = 0, limited = 0, other = 0;
        for (DeadlineCaller *c : callers) {
            QVERIFY(c->finished);
            admitted += c->admitted;
            limited += c->limited;
            other += c->other;
            c->deleteLater();
        }
        qInfo("%s: %d admitted, %d refused over %.3f s (burst %d + %.1f/s × elapsed = %.1f)", qPrintable(store), admitted, limited,
              elapsedS, kBurst, kRate, kBurst + kRate * elapsedS);
        QCOMPARE(other, 0);
        QVERIFY(limited > 10 * admitted); // demand far above supply
        // Never more than the burst plus what dripped in...
        QVERIFY2(admitted <= kBurst + static_cast<int>(kRate * elapsedS) + 1, qPrintable(QString::number(admitted)));
        // ...and, with callers waiting all along, all of it (the first and last 100 ms aside).
        QVERIFY2(admitted >= kBurst + static_cast<int>(kRate * (static_cast<double>(kRunMs) / 1000.0 - 0.1)) - 1,
                 qPrintable(QString::number(admitted)));
        QVERIFY(fleet.batched());
        QVERIFY(fleet.stopServers());
    }

    void fourInstancesAdmitExactlyTheLimit_data()
    {
        QTest::addColumn<QString>("store");
        QTest::addRow("redis") << "redis";
        QTest::addRow("redis-cluster") << "redis-cluster";
    }

    void fourInstancesAdmitExactlyTheLimit()
    {
        QFETCH(QString, store);
        Fleet fleet;
        SLUICE_REQUIRE_SERVICE(fleet.startStore(store), fleet.error);
        // Every request of a round counts against one USER_MODEL key (limit 100), a tenant key and
        // the global key: three keys, three Cluster slots.
        QVERIFY2(fleet.startServers(R"({"tenants":[{"id":"t","name":"T"}],"users":[],"tiers":[],"models":[],"apiKeys":[],
                                     "policies":[{"id":1,"scope":"USER_MODEL","windowSeconds":3600,"limit":100},
                                                 {"id":2,"scope":"TENANT","windowSeconds":3600,"limit":1000000000},
                                                 {"id":3,"scope":"GLOBAL","windowSeconds":3600,"limit":1000000000}]})",
                                    {QStringLiteral("--instances"), QStringLiteral("4")}),
                 qPrintable(fleet.error));

        for (int round = 0; round < 20; ++round) {
            const QByteArray user = "round-" + QByteArray::number(round) + "-" + QByteArray::number(QRandomGenerator::global()->generate(), 36);
            const QByteArray body = "{\"userId\":\"" + user + "\",\"modelId\":\"gpt-4o\",\"tenantId\":\"t\"}";
            const QByteArray request = "POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\n\r\n" + body;
            std::vector<Client *> clients;
            for (int c = 0; c < 64; ++c)
                clients.push_back(new Client(fleet.port(c), request, 3, this));
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < 30000
                   && !std::all_of(clients.begin(), clients.end(), [](Client *c) { return c->finished(); }))
                QTest::qWait(5);
            int ok = 0, limited = 0, other = 0;
            for (Client *c : clients) {
                QVERIFY(!c->failed());
                QVERIFY(c->finished());
                ok += c->ok;
                limited += c->limited;
                other += c->other;
                c->deleteLater();
            }
            QCOMPARE(other, 0);
            QCOMPARE(ok + limited, 192);
            QVERIFY2(ok == 100, qPrintable(QStringLiteral("round %1: %2 admitted").arg(round).arg(ok)));
        }
        QVERIFY(fleet.batched());
        QVERIFY(fleet.stopServers());
    }
};

QTEST_GUILESS_MAIN(TestExactness)
#include "tst_exactness.moc"
