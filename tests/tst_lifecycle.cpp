// SPDX-License-Identifier: Apache-2.0
// The request lifecycle of design §10 over real HTTP: tokens reserved at the check and reconciled
// at completion, concurrency leases released at completion or expired by time, several units on
// one request decided together — on every store (memory, a real Redis, a real Redis Cluster) and
// with the policies in a real Postgres (migration 004, written through the admin API).
#include "decision.h"
#include "http/httpapi.h"
#include "httpcall.h"
#include "services.h"
#include "sluiceserver.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

using namespace sluice;

using Answer = test::HttpAnswer;

namespace {
const QByteArray kToken = "lifecycle-token-0123456789";
constexpr int kLeaseSeconds = 2;
} // namespace

class TestLifecycle : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<test::RedisServer> m_redis;
    std::unique_ptr<test::RedisCluster> m_cluster;
    std::unique_ptr<test::PostgresServer> m_pg;
    std::unique_ptr<SluiceServer> m_server;
    QTemporaryDir m_dir;
    QNetworkAccessManager m_nam;
    // Tenants made up per row, so that rows never share a window key (shared Redis too).
    QString m_tok, m_con, m_mix;
    QString m_source; // every check must be decided by the store under test, not the failure mode
    QString m_wrongSource;

    Answer call(const QByteArray &method, const QString &path, const QByteArray &body = QByteArray(),
                const QByteArray &contentType = "application/json")
    {
        return test::httpCall(m_nam, QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_server->port()).arg(path)), method, body,
                              contentType, {{"Authorization", "Bearer " + kToken}});
    }
    Answer check(const QString &tenant, qint64 cost = 1)
    {
        const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("userId"), QStringLiteral("u-") + tenant},
                                                          {QStringLiteral("modelId"), QStringLiteral("gpt-4o")},
                                                          {QStringLiteral("tenantId"), tenant},
                                                          {QStringLiteral("cost"), cost}})
                                    .toJson(QJsonDocument::Compact);
        const Answer a = call("POST", QStringLiteral("/rate-limit/check"), body);
        if ((a.status == 200 || a.status == 429) && a.object().value(QStringLiteral("source")).toString() != m_source)
            m_wrongSource = QStringLiteral("answered by %1, not %2: %3")
                                .arg(a.object().value(QStringLiteral("source")).toString(), m_source, QString::fromUtf8(a.body));
        return a;
    }
    Answer complete(const QString &id, std::optional<qint64> tokens = std::nullopt)
    {
        QJsonObject o{{QStringLiteral("reservationId"), id}};
        if (tokens)
            o.insert(QStringLiteral("tokens"), *tokens);
        return call("POST", QStringLiteral("/rate-limit/complete"), QJsonDocument(o).toJson(QJsonDocument::Compact));
    }
    // The policy of this unit in a check's answer.
    static QJsonObject policyOf(const Answer &a, const QString &unit, const QString &scope = QStringLiteral("TENANT"))
    {
        for (const QJsonValue &v : a.object().value(QStringLiteral("policies")).toArray()) {
            if (v.toObject().value(QStringLiteral("unit")).toString() == unit && v.toObject().value(QStringLiteral("scope")).toString() == scope)
                return v.toObject();
        }
        return {};
    }
    static qint64 countOf(const Answer &a, const QString &unit, const QString &scope = QStringLiteral("TENANT"))
    {
        return policyOf(a, unit, scope).value(QStringLiteral("count")).toInteger(-1);
    }

    // The policies every row uses: tokens only, concurrency only, and all three units at once.
    QList<QJsonObject> policies() const
    {
        auto tenantPolicy = [](const QString &tenant, const char *unit, qint64 limit, qint64 window) {
            QJsonObject p{{QStringLiteral("scope"), QStringLiteral("TENANT")}, {QStringLiteral("tenantId"), tenant},
                          {QStringLiteral("unit"), QLatin1String(unit)}, {QStringLiteral("limit"), limit}};
            if (window > 0)
                p.insert(QStringLiteral("windowSeconds"), window);
            return p;
        };
        return {tenantPolicy(m_tok, "tokens", 1000, 60), tenantPolicy(m_con, "concurrent", 2, 0),
                tenantPolicy(m_mix, "requests", 100, 3600), tenantPolicy(m_mix, "tokens", 1000, 3600),
                tenantPolicy(m_mix, "concurrent", 1, 0)};
    }

    // Starts the server of a row: the store it names, the registry in a file or in Postgres.
    void startServer(const QString &store)
    {
        const QString run = QString::number(QRandomGenerator::global()->generate64(), 36);
        m_tok = QStringLiteral("tok-") + run;
        m_con = QStringLiteral("con-") + run;
        m_mix = QStringLiteral("mix-") + run;
        ServerConfig config;
        config.port = 0;
        config.threads = 2;
        config.adminToken = QString::fromLatin1(kToken);
        config.leaseSeconds = kLeaseSeconds;
        config.redisTimeoutMs = 2000;
        QString error;
        const bool postgres = store == QStringLiteral("postgres");
        if (store == QStringLiteral("redis") || postgres) {
            if (!m_redis)
                m_redis = std::make_unique<test::RedisServer>();
            SLUICE_REQUIRE_SERVICE(m_redis->start(&error), error);
            config.redisUrl = m_redis->url();
        } else if (store == QStringLiteral("redis-cluster")) {
            if (!m_cluster)
                m_cluster = std::make_unique<test::RedisCluster>();
            SLUICE_REQUIRE_SERVICE(m_cluster->start(&error), error);
            config.redisCluster = m_cluster->seeds().split(QLatin1Char(','));
        }
        if (postgres) {
            if (!m_pg)
                m_pg = std::make_unique<test::PostgresServer>();
            SLUICE_REQUIRE_SERVICE(m_pg->start(&error) && m_pg->migrate(&error), error);
            // Migration 004 is forward-only and idempotent: once more changes nothing.
            QVERIFY2(m_pg->migrate(&error), qPrintable(error));
            for (const QString &t : {m_tok, m_con, m_mix})
                QVERIFY(!m_pg->psql(QStringLiteral("INSERT INTO tenant (id, name) VALUES ('%1', '%1')").arg(t), &error).isNull());
            config.postgres = m_pg->conninfo();
        } else {
            QJsonArray tenants, list;
            for (const QString &t : {m_tok, m_con, m_mix})
                tenants.append(QJsonObject{{QStringLiteral("id"), t}, {QStringLiteral("name"), t}});
            int id = 1;
            for (QJsonObject p : policies()) {
                p.insert(QStringLiteral("id"), id++);
                list.append(p);
            }
            const QString file = m_dir.filePath(run + QStringLiteral(".json"));
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QJsonDocument(QJsonObject{{QStringLiteral("tenants"), tenants}, {QStringLiteral("policies"), list}}).toJson());
            f.close();
            config.registryFile = file;
        }
        auto server = std::make_unique<SluiceServer>(config);
        QVERIFY2(server->start(&error), qPrintable(error));
        m_server = std::move(server);
        // The shared store's connections (and a Cluster's slot map) come up asynchronously; until
        // they do, checks are answered by the failure mode (local). Start once /health says ok.
        QElapsedTimer up;
        up.start();
        auto storeOk = [&] {
            return call("GET", QStringLiteral("/health")).object().value(QStringLiteral("store")).toObject().value(QStringLiteral("status"))
                == QStringLiteral("ok");
        };
        while (!storeOk() && up.elapsed() < 10000)
            QTest::qWait(20);
        QVERIFY2(storeOk(), call("GET", QStringLiteral("/health")).body.constData());
        m_source = store == QStringLiteral("memory") ? QStringLiteral("memory")
                 : store == QStringLiteral("redis-cluster") ? QStringLiteral("redis-cluster") : QStringLiteral("redis");
        if (postgres) {
            for (const QJsonObject &p : policies()) {
                const Answer a = call("POST", QStringLiteral("/admin/policies"), QJsonDocument(p).toJson(QJsonDocument::Compact));
                QVERIFY2(a.status == 201, a.body.constData());
                QCOMPARE(a.object().value(QStringLiteral("unit")), p.value(QStringLiteral("unit")));
                if (p.value(QStringLiteral("unit")) == QStringLiteral("concurrent"))
                    QVERIFY(a.object().value(QStringLiteral("windowSeconds")).isNull());
            }
            // The registry reaches the snapshot through NOTIFY: wait (bounded) until the usage view
            // (which charges nothing) governs the last policy's key.
            const QString key = QStringLiteral("sluice:{tenant:%1}:leases").arg(m_mix);
            QElapsedTimer t;
            t.start();
            auto governed = [&] {
                const QJsonArray usage = call("GET", QStringLiteral("/admin/usage?keys=") + key).array();
                return !usage.isEmpty() && usage.at(0).toObject().value(QStringLiteral("limit")).toInteger() == 1;
            };
            while (!governed() && t.elapsed() < 5000)
                QTest::qWait(50);
            QVERIFY(governed());
        }
    }

    static void addStores()
    {
        QTest::addColumn<QString>("store");
        for (const char *s : {"memory", "redis", "redis-cluster", "postgres"})
            QTest::addRow("%s", s) << QString::fromLatin1(s);
    }

private Q_SLOTS:
    void cleanup()
    {
        m_server.reset();
        QVERIFY2(m_wrongSource.isEmpty(), qPrintable(std::exchange(m_wrongSource, QString())));
    }
    void cleanupTestCase()
    {
        m_redis.reset();
        m_cluster.reset();
        m_pg.reset();
    }

    void tokensReserveThenReconcile_data() { addStores(); }
    void tokensReserveThenReconcile()
    {
        QFETCH(QString, store);
        startServer(store);
        if (!m_server || QTest::currentTestFailed()) // failed, or skipped (no such service here)
            return;
        // 1,000 tokens per 60 s: 600 fits, a second 600 does not and charges nothing.
        const Answer first = check(m_tok, 600);
        QCOMPARE(first.status, 200);
        const QString id = first.object().value(QStringLiteral("reservationId")).toString();
        QVERIFY(!id.isEmpty());
        QCOMPARE(first.object().value(QStringLiteral("leaseExpiresInSeconds")).toInteger(), qint64(kLeaseSeconds));
        QCOMPARE(first.headers.value("x-sluice-reservation"), id.toUtf8());
        QCOMPARE(first.headers.value("x-sluice-lease-expires-in"), QByteArray::number(kLeaseSeconds));
        QCOMPARE(countOf(first, QStringLiteral("tokens")), qint64(600));
        QCOMPARE(first.headers.value("x-ratelimit-limit-tokens"), QByteArray("1000"));
        QCOMPARE(first.headers.value("x-ratelimit-remaining-tokens"), QByteArray("400"));
        QCOMPARE(first.headers.value("x-ratelimit-reset-tokens"), QByteArray("1m0s"));
        QCOMPARE(first.headers.value("x-ratelimit-limit-requests"), QByteArray("100")); // the base rule
        const Answer refused = check(m_tok, 600);
        QCOMPARE(refused.status, 429);
        QVERIFY(!refused.object().contains(QStringLiteral("reservationId")));
        QCOMPARE(countOf(refused, QStringLiteral("tokens")), qint64(1200));
        QCOMPARE(refused.headers.value("x-ratelimit-remaining-tokens"), QByteArray("400"));
        QVERIFY(refused.object().value(QStringLiteral("cause")).toString().contains(QStringLiteral("1200/1000 tokens")));
        // The first request used 100: its entry takes 100 in place, so 600 fits again (700 used).
        const Answer done = complete(id, 100);
        QCOMPARE(done.status, 200);
        QCOMPARE(done.object().value(QStringLiteral("completed")).toBool(), true);
        QCOMPARE(done.object().value(QStringLiteral("alreadyCompleted")).toBool(), false);
        const Answer second = check(m_tok, 600);
        QCOMPARE(second.status, 200);
        QCOMPARE(countOf(second, QStringLiteral("tokens")), qint64(700));
        // Completing twice changes nothing and says so.
        const Answer again = complete(id, 1);
        QCOMPARE(again.status, 200);
        QCOMPARE(again.object().value(QStringLiteral("alreadyCompleted")).toBool(), true);
        const Answer full = check(m_tok, 301);
        QCOMPARE(full.status, 429);
        QCOMPARE(countOf(full, QStringLiteral("tokens")), qint64(1001));
        // Requests were charged for the two admitted checks only (the base rule, per user and model).
        QCOMPARE(countOf(full, QStringLiteral("requests"), QStringLiteral("USER_MODEL")), qint64(3));
        // Completing without a count keeps the estimate.
        const QString secondId = second.object().value(QStringLiteral("reservationId")).toString();
        QCOMPARE(complete(secondId).status, 200);
        QCOMPARE(check(m_tok, 301).status, 429);
        QCOMPARE(check(m_tok, 300).status, 200);
    }

    void concurrencyLeases_data() { addStores(); }
    void concurrencyLeases()
    {
        QFETCH(QString, store);
        startServer(store);
        if (!m_server || QTest::currentTestFailed()) // failed, or skipped (no such service here)
            return;
        const Answer a = check(m_con), b = check(m_con);
        QCOMPARE(a.status, 200);
        QCOMPARE(b.status, 200);
        QCOMPARE(countOf(b, QStringLiteral("concurrent")), qint64(2));
        const Answer c = check(m_con);
        QCOMPARE(c.status, 429);
        QCOMPARE(c.headers.value("retry-after"), QByteArray("1"));
        QVERIFY(c.object().value(QStringLiteral("cause")).toString().contains(QStringLiteral("3/2 held at once")));
        // The refusal charged no request quota: the base rule counts a and b only.
        QCOMPARE(countOf(c, QStringLiteral("requests"), QStringLiteral("USER_MODEL")), qint64(3));
        // Complete one: the next is admitted.
        QCOMPARE(complete(a.object().value(QStringLiteral("reservationId")).toString()).status, 200);
        const Answer d = check(m_con);
        QCOMPARE(d.status, 200);
        QCOMPARE(countOf(d, QStringLiteral("requests"), QStringLiteral("USER_MODEL")), qint64(3));
        // Extend d; completing it afterwards leaves nothing to extend (409).
        const QString dId = d.object().value(QStringLiteral("reservationId")).toString();
        const Answer extended = call("POST", QStringLiteral("/rate-limit/extend"), "{\"reservationId\":\"" + dId.toUtf8() + "\"}");
        QCOMPARE(extended.status, 200);
        QCOMPARE(extended.object().value(QStringLiteral("leaseExpiresInSeconds")).toInteger(), qint64(kLeaseSeconds));
        QCOMPARE(check(m_con).status, 429);
        // b and d are never completed: their leases expire by themselves, with no call from anyone.
        QElapsedTimer t;
        t.start();
        Answer e = check(m_con);
        while (e.status != 200 && t.elapsed() < 3 * kLeaseSeconds * 1000) {
            QTest::qWait(100);
            e = check(m_con);
        }
        QCOMPARE(e.status, 200);
        QVERIFY(t.elapsed() >= 500); // not before the leases ran out
        // An expired reservation is gone: completing it is a 404.
        const Answer gone = complete(b.object().value(QStringLiteral("reservationId")).toString());
        QCOMPARE(gone.status, 404);
        QVERIFY(gone.errorMessage().contains(QStringLiteral("expired")));
        QCOMPARE(complete(e.object().value(QStringLiteral("reservationId")).toString()).status, 200);
        QCOMPARE(call("POST", QStringLiteral("/rate-limit/extend"),
                      "{\"reservationId\":\"" + e.object().value(QStringLiteral("reservationId")).toString().toUtf8() + "\"}")
                     .status,
                 409);
    }

    void mixedUnitsDecideTogether_data() { addStores(); }
    void mixedUnitsDecideTogether()
    {
        QFETCH(QString, store);
        startServer(store);
        if (!m_server || QTest::currentTestFailed()) // failed, or skipped (no such service here)
            return;
        const Answer first = check(m_mix, 800);
        QCOMPARE(first.status, 200);
        int tenantPolicies = 0; // one per unit on the tenant (next to the base rule and, from Postgres, the seed's)
        for (const QJsonValue &v : first.object().value(QStringLiteral("policies")).toArray())
            tenantPolicies += v.toObject().value(QStringLiteral("scope")).toString() == QStringLiteral("TENANT");
        QCOMPARE(tenantPolicies, 3);
        // The one lease is held: refused by concurrency alone, nothing charged anywhere.
        const Answer refused = check(m_mix, 100);
        QCOMPARE(refused.status, 429);
        QCOMPARE(policyOf(refused, QStringLiteral("concurrent")).value(QStringLiteral("violated")).toBool(), true);
        QCOMPARE(policyOf(refused, QStringLiteral("tokens")).value(QStringLiteral("violated")).toBool(), false);
        QCOMPARE(refused.object().value(QStringLiteral("primary")).toObject().value(QStringLiteral("unit")).toString(),
                 QStringLiteral("concurrent"));
        QCOMPARE(complete(first.object().value(QStringLiteral("reservationId")).toString(), 100).status, 200);
        const Answer next = check(m_mix, 800);
        QCOMPARE(next.status, 200);
        QCOMPARE(countOf(next, QStringLiteral("tokens")), qint64(900));  // 100 actual + 800: the refused 100 left no trace
        QCOMPARE(countOf(next, QStringLiteral("requests")), qint64(2));  // two admitted
        QCOMPARE(countOf(next, QStringLiteral("concurrent")), qint64(1));
        // Refused by tokens while the lease is free again: the lease is not taken either.
        QCOMPARE(complete(next.object().value(QStringLiteral("reservationId")).toString()).status, 200);
        const Answer tooMany = check(m_mix, 101);
        QCOMPARE(tooMany.status, 429);
        QCOMPARE(policyOf(tooMany, QStringLiteral("tokens")).value(QStringLiteral("violated")).toBool(), true);
        QCOMPARE(check(m_mix, 100).status, 200); // the lease was free: the refusal took none
    }

    void badInputIsRefusedClearly_data()
    {
        QTest::addColumn<QByteArray>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("message");
        QTest::addRow("not JSON") << QByteArray("complete") << QByteArray("{") << 400 << "not valid JSON";
        QTest::addRow("no id") << QByteArray("complete") << QByteArray("{}") << 400 << "reservationId is required";
        QTest::addRow("id not a string") << QByteArray("complete") << QByteArray(R"({"reservationId":5})") << 400 << "reservationId must be a string";
        QTest::addRow("id with odd characters") << QByteArray("complete") << QByteArray(R"({"reservationId":"a b"})") << 400 << "not one this server hands out";
        QTest::addRow("negative tokens") << QByteArray("complete") << QByteArray(R"({"reservationId":"m1","tokens":-1})") << 400 << "tokens must be an integer from 0";
        QTest::addRow("fractional tokens") << QByteArray("complete") << QByteArray(R"({"reservationId":"m1","tokens":1.5})") << 400 << "tokens must be an integer";
        QTest::addRow("tokens as a string") << QByteArray("complete") << QByteArray(R"({"reservationId":"m1","tokens":"7"})") << 400 << "tokens must be an integer";
        QTest::addRow("tokens on extend") << QByteArray("extend") << QByteArray(R"({"reservationId":"m1","tokens":7})") << 400 << "tokens belongs to /rate-limit/complete";
        QTest::addRow("unknown id") << QByteArray("complete") << QByteArray(R"({"reservationId":"mNoSuchThing1"})") << 404 << "there is no reservation";
        QTest::addRow("unknown id on extend") << QByteArray("extend") << QByteArray(R"({"reservationId":"mNoSuchThing1"})") << 404 << "there is no reservation";
    }
    void badInputIsRefusedClearly()
    {
        QFETCH(QByteArray, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, message);
        if (!m_server)
            startServer(QStringLiteral("memory"));
        const Answer a = call("POST", QStringLiteral("/rate-limit/") + QString::fromLatin1(path), body);
        QCOMPARE(a.status, status);
        QVERIFY2(a.errorMessage().contains(message), qPrintable(a.errorMessage()));
        QCOMPARE(call("POST", QStringLiteral("/rate-limit/complete"), "{\"reservationId\":\"m1\"}", "text/plain").status, 415);
        QCOMPARE(call("GET", QStringLiteral("/rate-limit/complete")).status, 405);
    }
};

QTEST_GUILESS_MAIN(TestLifecycle)
#include "tst_lifecycle.moc"
