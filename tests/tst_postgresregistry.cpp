// SPDX-License-Identifier: Apache-2.0
// The Postgres registry against a real Postgres: migrations (fresh, then again), the seed equals
// the built-in demo registry, live reload across two sluice-server processes, Postgres going
// away and coming back, refusing to start without a first snapshot, and awkward ids; the schema
// version and `sluice-server migrate`.
#include "httpcall.h"
#include "engine/registryjson.h"
#include "postgres/registryloader.h"
#include "postgres/schema.h"
#include "services.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSignalSpy>
#include <QElapsedTimer>
#include <QtTest>
#include <thread>

using namespace sluice;

namespace {

template <typename T, typename Less>
QList<T> sorted(QList<T> list, Less less)
{
    std::sort(list.begin(), list.end(), less);
    return list;
}

} // namespace

class TestPostgresRegistry : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;
    std::unique_ptr<test::PostgresServer> m_seedPg;

    using Answer = test::HttpAnswer;

    Answer http(const QUrl &base, const QByteArray &method, const QString &path, const QByteArray &body = QByteArray(),
                const QByteArray &token = QByteArray())
    {
        QList<QPair<QByteArray, QByteArray>> headers;
        if (!token.isEmpty())
            headers.append({"Authorization", "Bearer " + token});
        return test::httpCall(m_nam, base.resolved(QUrl(path)), method, body, "application/json", headers);
    }

    // The primary limit a check for (user, model) gets, or -1.
    qint64 limitFor(const QUrl &base, const QByteArray &user, const QByteArray &model, const QByteArray &tenant = "enterprise_co")
    {
        const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("userId"), QString::fromUtf8(user)},
                                                          {QStringLiteral("modelId"), QString::fromUtf8(model)},
                                                          {QStringLiteral("tenantId"), QString::fromUtf8(tenant)}})
                                    .toJson(QJsonDocument::Compact);
        const Answer a = http(base, "POST", QStringLiteral("/rate-limit/check"), body);
        const QJsonArray policies = QJsonDocument::fromJson(a.body).object().value(QStringLiteral("policies")).toArray();
        return policies.isEmpty() ? -1 : policies.at(0).toObject().value(QStringLiteral("limit")).toInteger();
    }

    // Polls (bounded) until limitFor() answers `expected`; returns the last answer.
    qint64 waitForLimit(const QUrl &base, const QByteArray &user, const QByteArray &model, qint64 expected, int timeoutMs)
    {
        QElapsedTimer t;
        t.start();
        qint64 got = limitFor(base, user, model);
        while (got != expected && t.elapsed() < timeoutMs) {
            QTest::qWait(20);
            got = limitFor(base, user, model);
        }
        return got;
    }

    struct Run
    {
        int exitCode = -1;
        QByteArray output; // stdout and stderr
    };
    // sluice-server with these arguments, to its exit (bounded).
    static Run runServerBinary(const QStringList &args)
    {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(QStringLiteral(SLUICE_SERVER_BINARY), args);
        if (!p.waitForFinished(60000)) {
            p.kill();
            p.waitForFinished();
            return {-1, "did not finish within 60 s: " + p.readAll()};
        }
        return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAll()};
    }
    Run migrate(const QString &conninfo, bool demo = false)
    {
        QStringList args{QStringLiteral("migrate"), QStringLiteral("--postgres"), conninfo};
        if (demo)
            args.append(QStringLiteral("--demo"));
        return runServerBinary(args);
    }
    // Starting a server on it fails; its error output.
    QByteArray refusedStart(const QString &conninfo)
    {
        const Run r = runServerBinary({QStringLiteral("--postgres"), conninfo, QStringLiteral("--port"), QStringLiteral("0")});
        return r.exitCode == 1 ? r.output : QByteArray("UNEXPECTED exit ") + QByteArray::number(r.exitCode) + ": " + r.output;
    }

private Q_SLOTS:
    void cleanupTestCase() { m_seedPg.reset(); }

    // Issue 12: `sluice-server migrate` applies the shipped migrations and records the schema
    // version; the server refuses a schema older or newer than its own; the demo seed only with --demo.
    void migrateCommandVersionsTheSchema()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error), error);
        const int shipped = pg::shippedSchemaVersion();
        QVERIFY(shipped >= 6);
        const QString v = QString::number(shipped);

        // Never migrated: a clear refusal that says what to do.
        QByteArray out = refusedStart(pg.conninfo());
        QVERIFY2(out.contains("no Sluice schema version") && out.contains("sluice-server migrate"), out.constData());

        Run r = migrate(pg.conninfo());
        QVERIFY2(r.exitCode == 0, r.output.constData());
        QVERIFY2(r.output.contains("applied 001_create_types_and_tables, 003_seed_verification_columns,")
                     && r.output.contains("the schema is at version " + v.toLatin1()),
                 r.output.constData());
        QCOMPARE(pg.psql(QStringLiteral("SELECT max(version) FROM sluice_schema_version")), v.toLatin1());
        // No demo rows (its API key is public) unless asked.
        QCOMPARE(pg.psql(QStringLiteral("SELECT (SELECT count(*) FROM tenant) + (SELECT count(*) FROM rate_limit_policy) "
                                        "+ (SELECT count(*) FROM api_key)")),
                 QByteArray("0"));
        r = migrate(pg.conninfo());
        QVERIFY2(r.exitCode == 0 && r.output.contains("already at version " + v.toLatin1()), r.output.constData());

        // An empty registry at the right version serves: the design's base rule alone (100/h).
        {
            test::ServerProcess server;
            QVERIFY2(server.start({QStringLiteral("--postgres"), pg.conninfo()}, &error), qPrintable(error));
            QCOMPARE(limitFor(server.baseUrl(), "ent-user-2", "gpt-4o"), qint64(100));
        }
        r = migrate(pg.conninfo(), true);
        QVERIFY2(r.exitCode == 0 && r.output.contains("demo registry is seeded"), r.output.constData());
        QCOMPARE(pg.psql(QStringLiteral("SELECT count(*) FROM rate_limit_policy")), QByteArray("11"));
        r = migrate(pg.conninfo(), true); // the seed is idempotent too
        QVERIFY2(r.exitCode == 0, r.output.constData());
        QCOMPARE(pg.psql(QStringLiteral("SELECT count(*) FROM rate_limit_policy")), QByteArray("11"));

        // Older than the server: refused; migrate applies only what is missing.
        QVERIFY(!pg.psql(QStringLiteral("DELETE FROM sluice_schema_version WHERE version = %1").arg(shipped)).isNull());
        out = refusedStart(pg.conninfo());
        QVERIFY2(out.contains("needs version " + v.toLatin1()) && out.contains("run `sluice-server migrate`"), out.constData());
        r = migrate(pg.conninfo());
        QVERIFY2(r.exitCode == 0, r.output.constData());
        QVERIFY2(r.output.contains("applied " + pg::shippedMigrations().constLast().name.toLatin1() + ";"), r.output.constData());

        // Migrated before versions were recorded (every file applied, no version table): migrate
        // records them all and keeps the data.
        QVERIFY(!pg.psql(QStringLiteral("DROP TABLE sluice_schema_version")).isNull());
        out = refusedStart(pg.conninfo());
        QVERIFY2(out.contains("no Sluice schema version"), out.constData());
        r = migrate(pg.conninfo());
        QVERIFY2(r.exitCode == 0 && r.output.contains("the schema is at version " + v.toLatin1()), r.output.constData());
        QCOMPARE(pg.psql(QStringLiteral("SELECT count(*) FROM rate_limit_policy")), QByteArray("11"));
        QCOMPARE(pg.psql(QStringLiteral("SELECT count(*) FROM sluice_schema_version")), QByteArray::number(shipped - 1)); // no 002
        // Such a database was seeded unasked by the old migration 002: its published API key is
        // revoked (migration 007); asking for the demo again makes it work.
        QCOMPARE(pg.psql(QStringLiteral("SELECT revoked_at IS NOT NULL FROM api_key WHERE id = 1")), QByteArray("t"));
        r = migrate(pg.conninfo(), true);
        QVERIFY2(r.exitCode == 0, r.output.constData());
        QCOMPARE(pg.psql(QStringLiteral("SELECT revoked_at IS NOT NULL FROM api_key WHERE id = 1")), QByteArray("f"));

        // A running server while the schema moves past it: it keeps serving its last snapshot and
        // says why in /health; newer than the server at start: refused; migrate refuses too.
        test::ServerProcess server;
        QVERIFY2(server.start({QStringLiteral("--postgres"), pg.conninfo()}, &error), qPrintable(error));
        QCOMPARE(limitFor(server.baseUrl(), "ent-user-2", "gpt-4o"), qint64(10));
        QVERIFY(!pg.psql(QStringLiteral("INSERT INTO sluice_schema_version VALUES (999, '999_future')")).isNull());
        QVERIFY(!pg.psql(QStringLiteral("UPDATE rate_limit_policy SET limit_value = 4 WHERE id = 9")).isNull());
        auto registry = [&] {
            return QJsonDocument::fromJson(http(server.baseUrl(), "GET", QStringLiteral("/health")).body)
                .object()
                .value(QStringLiteral("registry"))
                .toObject();
        };
        QTRY_VERIFY_WITH_TIMEOUT(registry().value(QStringLiteral("lastError")).toString().contains(QStringLiteral("upgrade sluice-server")), 10000);
        QCOMPARE(registry().value(QStringLiteral("status")).toString(), QStringLiteral("degraded"));
        QCOMPARE(limitFor(server.baseUrl(), "ent-user-2", "gpt-4o"), qint64(10));
        out = refusedStart(pg.conninfo());
        QVERIFY2(out.contains("at version 999, newer than this sluice-server understands"), out.constData());
        r = migrate(pg.conninfo());
        QVERIFY2(r.exitCode == 1 && r.output.contains("newer than this sluice-server"), r.output.constData());
        // Back to its version: the running server reloads (the edit made meanwhile arrives).
        QVERIFY(!pg.psql(QStringLiteral("DELETE FROM sluice_schema_version WHERE version = 999")).isNull());
        QCOMPARE(waitForLimit(server.baseUrl(), "ent-user-2", "gpt-4o", 4, 15000), qint64(4));

        // Nothing to migrate: a clear error, the password never printed.
        r = migrate(QStringLiteral("host=127.0.0.1 port=%1 dbname=sluice user=sluice password=Pg-Secret-4711 connect_timeout=2")
                        .arg(test::freePort()));
        QVERIFY2(r.exitCode == 1 && r.output.startsWith("sluice-server migrate: ") && !r.output.contains("Pg-Secret-4711"),
                 r.output.constData());
        r = runServerBinary({QStringLiteral("migrate")});
        QVERIFY2(r.exitCode == 2 && r.output.contains("no Postgres to migrate"), r.output.constData());
    }

    void migrationsApplyTwiceAndSeedTheDemo()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error), error);
        QVERIFY2(pg.migrate(&error), qPrintable(error));
        QVERIFY2(pg.migrate(&error), qPrintable(error)); // idempotent
        // The seed's nine, then migration 005's two demo rows (a token bucket and a shadow policy).
        QCOMPARE(pg.psql(QStringLiteral("SELECT count(*) FROM rate_limit_policy")), QByteArray("11"));
        QCOMPARE(pg.psql(QStringLiteral("SELECT string_agg(id || ':' || display_name, ',' ORDER BY id) FROM tenant")),
                 QByteArray("enterprise_co:Enterprise Co,free_co:Free Co"));
        QCOMPARE(pg.psql(QStringLiteral("SELECT string_agg(id || ':' || tier_id, ',' ORDER BY id) FROM model")),
                 QByteArray("gpt-4o:premium,gpt-4o-mini:standard,tiny-model:free"));
        QCOMPARE(pg.psql(QStringLiteral("SELECT string_agg(scope || '=' || limit_value, ',' ORDER BY id) FROM rate_limit_policy")),
                 QByteArray("GLOBAL=1000000,TENANT=500,TENANT=50,API_KEY=20,MODEL_TIER=1000,MODEL_TIER=100,MODEL_TIER=10,"
                            "USER_MODEL=100,USER_MODEL=10,USER_MODEL=60,MODEL=30"));
        QCOMPARE(pg.psql(QStringLiteral("SELECT count(*) FROM rate_limit_policy WHERE window_seconds <> 3600")), QByteArray("2"));
        QCOMPARE(pg.psql(QStringLiteral("SELECT string_agg(algorithm || ':' || coalesce(burst::text, '-') || ':' || shadow, ',' ORDER BY id) "
                                        "FROM rate_limit_policy WHERE id > 9")),
                 QByteArray("token_bucket:10:false,sliding_log:-:true"));

        // What the server loads from Postgres is what the embedded mode serves.
        RegistryLoader loader(pg.conninfo());
        RegistryData fromPostgres;
        QVERIFY2(loader.loadInitial(&fromPostgres, &error), qPrintable(error));
        const RegistryData demo = builtInDemoRegistry();
        auto byId = [](const auto &a, const auto &b) { return a.id < b.id; };
        QCOMPARE(sorted(fromPostgres.tenants, byId), sorted(demo.tenants, byId));
        QCOMPARE(sorted(fromPostgres.users, byId), sorted(demo.users, byId));
        QCOMPARE(sorted(fromPostgres.tiers, byId), sorted(demo.tiers, byId));
        QCOMPARE(sorted(fromPostgres.models, byId), sorted(demo.models, byId));
        QCOMPARE(sorted(fromPostgres.apiKeys, byId), sorted(demo.apiKeys, byId));
        QCOMPARE(fromPostgres.policies.size(), demo.policies.size());
        for (int i = 0; i < demo.policies.size(); ++i)
            QVERIFY2(sorted(fromPostgres.policies, byId).at(i) == sorted(demo.policies, byId).at(i),
                     qPrintable(QStringLiteral("policy %1 differs").arg(demo.policies.at(i).id)));
    }

    void editsReachEveryInstanceWithinASecond()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error) && pg.migrate(&error), error);
        const QByteArray token = "reload-token";
        test::ServerProcess a, b;
        const QStringList args{QStringLiteral("--postgres"), pg.conninfo(), QStringLiteral("--admin-token"), QString::fromLatin1(token)};
        QVERIFY2(a.start(args, &error), qPrintable(error));
        QVERIFY2(b.start(args, &error), qPrintable(error));
        QCOMPARE(limitFor(b.baseUrl(), "ent-user-1", "tiny-model"), qint64(100));

        // A policy made through A's admin API is enforced by B.
        const Answer created = http(a.baseUrl(), "POST", QStringLiteral("/admin/policies"),
                                    R"({"scope":"USER_MODEL","userId":"ent-user-1","modelId":"tiny-model","windowSeconds":60,"limit":7})", token);
        QCOMPARE(created.status, 201);
        const qint64 id = QJsonDocument::fromJson(created.body).object().value(QStringLiteral("id")).toInteger();
        QCOMPARE(waitForLimit(b.baseUrl(), "ent-user-1", "tiny-model", 7, 1000), qint64(7));
        // An UPDATE straight in SQL likewise.
        QVERIFY(!pg.psql(QStringLiteral("UPDATE rate_limit_policy SET limit_value = 3 WHERE id = %1").arg(id)).isNull());
        QCOMPARE(waitForLimit(b.baseUrl(), "ent-user-1", "tiny-model", 3, 1000), qint64(3));
        QCOMPARE(waitForLimit(a.baseUrl(), "ent-user-1", "tiny-model", 3, 1000), qint64(3));
        // A deleted policy stops applying.
        QCOMPARE(http(b.baseUrl(), "DELETE", QStringLiteral("/admin/policies/%1").arg(id), QByteArray(), token).status, 204);
        QCOMPARE(waitForLimit(a.baseUrl(), "ent-user-1", "tiny-model", 100, 1000), qint64(100));
        // The admin log names the action, never a secret: neither the token nor a key's plaintext.
        const Answer key = http(a.baseUrl(), "POST", QStringLiteral("/admin/api-keys"), R"({"tenantId":"free_co"})", token);
        QCOMPARE(key.status, 201);
        const QByteArray plaintext = QJsonDocument::fromJson(key.body).object().value(QStringLiteral("apiKey")).toString().toUtf8();
        QVERIFY(plaintext.size() > 40);
        QTest::qWait(100);
        QVERIFY(a.output().contains("create USER_MODEL policy"));
        QVERIFY(a.output().contains("create API key for tenant free_co"));
        QVERIFY(!a.output().contains(token));
        QVERIFY(!a.output().contains(plaintext));
        QVERIFY(!b.output().contains(plaintext));
        QVERIFY(!pg.psql(QStringLiteral("SELECT row_to_json(k)::text FROM api_key k")).contains(plaintext));
    }

    // Issue 25: a model's own upstream for the inference door (migration 009): read from Postgres,
    // reloaded on change, shown by /admin/models; anything but http://host[:port][/prefix] refused.
    void aModelsUpstreamComesFromPostgres()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error) && pg.migrate(&error), error);
        const QByteArray token = "upstream-token";
        test::ServerProcess server;
        QVERIFY2(server.start({QStringLiteral("--postgres"), pg.conninfo(), QStringLiteral("--admin-token"), QString::fromLatin1(token)}, &error),
                 qPrintable(error));
        auto upstreamOf = [&](const QString &model) {
            const QJsonArray models = QJsonDocument::fromJson(http(server.baseUrl(), "GET", QStringLiteral("/admin/models"), QByteArray(), token).body).array();
            for (const QJsonValue &m : models)
                if (m.toObject().value(QStringLiteral("id")).toString() == model)
                    return m.toObject().value(QStringLiteral("upstream"));
            return QJsonValue(QJsonValue::Undefined);
        };
        QCOMPARE(upstreamOf(QStringLiteral("gpt-4o")), QJsonValue(QJsonValue::Null));
        QVERIFY(!pg.psql(QStringLiteral("UPDATE model SET upstream = 'http://10.0.0.5:8000/openai' WHERE id = 'gpt-4o'")).isNull());
        QElapsedTimer t;
        t.start();
        while (upstreamOf(QStringLiteral("gpt-4o")).toString().isEmpty() && t.elapsed() < 5000)
            QTest::qWait(50);
        QCOMPARE(upstreamOf(QStringLiteral("gpt-4o")).toString(), QStringLiteral("http://10.0.0.5:8000/openai"));
        QString refused;
        QVERIFY(pg.psql(QStringLiteral("UPDATE model SET upstream = 'https://x' WHERE id = 'gpt-4o'"), &refused).isNull());
        QVERIFY2(refused.contains(QStringLiteral("model_upstream_http")), qPrintable(refused));
    }

    void postgresDownThenBack()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error) && pg.migrate(&error), error);
        test::ServerProcess server;
        QVERIFY2(server.start({QStringLiteral("--postgres"), pg.conninfo()}, &error), qPrintable(error));
        auto health = [&] {
            return QJsonDocument::fromJson(http(server.baseUrl(), "GET", QStringLiteral("/health")).body).object();
        };
        QCOMPARE(health().value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
        // No store flag: the counts are per instance, and the server says so (issue 20, defect 9).
        QVERIFY(health().value(QStringLiteral("warnings")).toArray().at(0).toString().contains(QStringLiteral("each instance admits")));
        QVERIFY(server.output().contains("sluice-server: warning: the registry is in Postgres but the counts are in this process's memory"));
        QVERIFY(pg.stop());
        // Checks go on from the last snapshot; /health says the registry is degraded.
        QCOMPARE(limitFor(server.baseUrl(), "ent-user-2", "gpt-4o"), qint64(10));
        QTRY_COMPARE_WITH_TIMEOUT(health().value(QStringLiteral("status")).toString(), QStringLiteral("degraded"), 5000);
        const QJsonObject registry = health().value(QStringLiteral("registry")).toObject();
        QCOMPARE(registry.value(QStringLiteral("status")).toString(), QStringLiteral("degraded"));
        QVERIFY(registry.contains(QStringLiteral("snapshotAgeSeconds")));
        QVERIFY(!registry.value(QStringLiteral("lastError")).toString().isEmpty());
        QCOMPARE(limitFor(server.baseUrl(), "ent-user-2", "gpt-4o"), qint64(10));
        // Postgres back: reconnect, reload, and later edits apply again.
        QVERIFY(pg.start(&error));
        QTRY_COMPARE_WITH_TIMEOUT(health().value(QStringLiteral("status")).toString(), QStringLiteral("ok"), 15000);
        QVERIFY(!pg.psql(QStringLiteral("UPDATE rate_limit_policy SET limit_value = 4 WHERE id = 9")).isNull());
        QCOMPARE(waitForLimit(server.baseUrl(), "ent-user-2", "gpt-4o", 4, 2000), qint64(4));
    }

    // Defect: the seed's own verification queries failed on our schema (migration 003).
    void seedVerificationQueriesWorkVerbatim_data()
    {
        QTest::addColumn<QString>("query");
        QTest::addColumn<QStringList>("rows"); // psql -At rows, in any order
        QTest::addRow("tenant names") << QStringLiteral("SELECT name FROM tenant;") << QStringList{QStringLiteral("enterprise_co"), QStringLiteral("free_co")};
        QTest::addRow("users") << QStringLiteral("SELECT external_id, tenant_id FROM user_account;")
                               << QStringList{QStringLiteral("ent-user-1|enterprise_co"), QStringLiteral("ent-user-2|enterprise_co"), QStringLiteral("free-user-1|free_co")};
        QTest::addRow("tiers") << QStringLiteral("SELECT name FROM model_tier;") << QStringList{QStringLiteral("premium"), QStringLiteral("standard"), QStringLiteral("free")};
        QTest::addRow("models") << QStringLiteral("SELECT name, tier_id FROM model;")
                                << QStringList{QStringLiteral("gpt-4o|premium"), QStringLiteral("gpt-4o-mini|standard"), QStringLiteral("tiny-model|free")};
        QTest::addRow("limits") << QStringLiteral("SELECT scope, limit_value FROM rate_limit_policy;")
                                << QStringList{QStringLiteral("GLOBAL|1000000"), QStringLiteral("TENANT|500"), QStringLiteral("TENANT|50"), QStringLiteral("API_KEY|20"), QStringLiteral("MODEL_TIER|1000"),
                                               QStringLiteral("MODEL_TIER|100"), QStringLiteral("MODEL_TIER|10"), QStringLiteral("USER_MODEL|100"), QStringLiteral("USER_MODEL|10"),
                                               // + migration 005's demo rows (design §11)
                                               QStringLiteral("USER_MODEL|60"), QStringLiteral("MODEL|30")};
        QTest::addRow("windows") << QStringLiteral("SELECT scope, window_seconds, limit_value FROM rate_limit_policy;")
                                 << QStringList{QStringLiteral("GLOBAL|3600|1000000"), QStringLiteral("TENANT|3600|500"), QStringLiteral("TENANT|3600|50"), QStringLiteral("API_KEY|3600|20"),
                                                QStringLiteral("MODEL_TIER|3600|1000"), QStringLiteral("MODEL_TIER|3600|100"), QStringLiteral("MODEL_TIER|3600|10"),
                                                QStringLiteral("USER_MODEL|3600|100"), QStringLiteral("USER_MODEL|3600|10"),
                                                QStringLiteral("USER_MODEL|60|60"), QStringLiteral("MODEL|60|30")};
        QTest::addRow("tier descriptions") << QStringLiteral("SELECT name, description FROM model_tier;")
                                           << QStringList{QStringLiteral("premium|Expensive, high-capacity models like GPT-4"),
                                                          QStringLiteral("standard|Mid-tier models"), QStringLiteral("free|Cheaper/smaller models")};
    }

    void seedVerificationQueriesWorkVerbatim()
    {
        QFETCH(QString, query);
        QFETCH(QStringList, rows);
        QString error;
        if (!m_seedPg) { // one private Postgres, freshly migrated, for every row (no other test's rows)
            m_seedPg = std::make_unique<test::PostgresServer>(test::Sharing::Private);
            SLUICE_REQUIRE_SERVICE(m_seedPg->start(&error) && m_seedPg->migrate(&error), error);
        }
        checkRows(*m_seedPg, query, rows);
    }

    void seedVerificationStarQueries()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error) && pg.migrate(&error), error);
        for (const char *q : {"SELECT * FROM tenant;", "SELECT * FROM model_tier;", "SELECT * FROM model;"}) {
            const QByteArray out = pg.psql(QString::fromLatin1(q), &error);
            QVERIFY2(!out.isNull(), qPrintable(error));
            QCOMPARE(out.split('\n').size(), QString::fromLatin1(q).contains(QStringLiteral("tenant")) ? 2 : 3);
        }
        // A tenant written with a readable name keeps it as display_name; name stays the id.
        QVERIFY(!pg.psql(QStringLiteral("INSERT INTO tenant (id, name) VALUES ('acme', 'Acme Inc')"), &error).isNull());
        QCOMPARE(pg.psql(QStringLiteral("SELECT name || '|' || display_name FROM tenant WHERE id = 'acme'")), QByteArray("acme|Acme Inc"));
    }

    // Defect: the six tables were read in READ COMMITTED, so one load could mix two states. A
    // slow first table (a view that sleeps per row) leaves room for a commit in the middle of the
    // load: the snapshot must show all of it or none of it.
    void registryLoadIsOneSnapshot()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error) && pg.migrate(&error), error);
        QVERIFY2(!pg.psql(QStringLiteral("ALTER TABLE tenant RENAME TO tenant_data; "
                                         "CREATE VIEW tenant AS SELECT * FROM tenant_data WHERE pg_sleep(1) IS NOT NULL"),
                          &error).isNull(), qPrintable(error));
        RegistryLoader loader(pg.conninfo());
        RegistryData data;
        bool loaded = false;
        QString loadError;
        std::thread load([&] { loaded = loader.loadInitial(&data, &loadError); });
        QTest::qWait(300); // the load is inside its first (2 s) query now
        const QByteArray committed = pg.psql(QStringLiteral(
            "BEGIN; INSERT INTO tenant_data (id, name) VALUES ('late_co', 'late_co'); "
            "INSERT INTO rate_limit_policy (scope, tenant_id, window_seconds, limit_value) VALUES ('TENANT', 'late_co', 60, 5); "
            "COMMIT"), &error);
        load.join();
        QVERIFY2(!committed.isNull(), qPrintable(error));
        QVERIFY2(loaded, qPrintable(loadError));
        QSet<QString> tenants;
        for (const TenantRow &t : data.tenants)
            tenants.insert(t.id);
        for (const PolicyDto &p : data.policies)
            QVERIFY2(p.tenantId.isNull() || tenants.contains(p.tenantId),
                     qPrintable(QStringLiteral("policy %1 names tenant %2, which the same load did not see").arg(p.id).arg(p.tenantId)));
        QCOMPARE(data.tenants.size(), 2); // the load began before the commit: it sees none of it
    }

    void noFirstSnapshotNoServing()
    {
        test::ServerProcess server;
        QString error;
        // Defect: the start-up error printed the whole conninfo, password included.
        const QString conninfo =
            QStringLiteral("host=127.0.0.1 port=%1 dbname=sluice user=sluice password=Pg-Secret-4711 connect_timeout=2").arg(test::freePort());
        QVERIFY(!server.start({QStringLiteral("--postgres"), conninfo}, &error));
        QVERIFY2(error.contains(QStringLiteral("cannot load the registry from Postgres")), qPrintable(error));
        QVERIFY2(!error.contains(QStringLiteral("Pg-Secret-4711")) && !server.output().contains("Pg-Secret-4711"), qPrintable(error));
        QVERIFY2(server.output().contains("password=****"), server.output().constData());
        // The same as a postgresql:// URI.
        test::ServerProcess uri;
        const QString url = QStringLiteral("postgresql://sluice:Pg-Secret-4711@127.0.0.1:%1/sluice?connect_timeout=2").arg(test::freePort());
        QVERIFY(!uri.start({QStringLiteral("--postgres"), url}, &error));
        QVERIFY2(!error.contains(QStringLiteral("Pg-Secret-4711")) && !uri.output().contains("Pg-Secret-4711"), qPrintable(error));
    }

    void awkwardIdsRoundTrip()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error) && pg.migrate(&error), error);
        // Quotes, %, ;, a colon and braces, Unicode beyond the BMP, 128 characters.
        QString tenant = QStringLiteral("o'neil \"co\" 100%; DROP TABLE tenant; -- :{x}") + QString::fromUtf8("\xF0\x9F\x9A\x80ü");
        while (tenant.size() < 200 && [&] { int n = 0; for (QChar c : tenant) n += !c.isLowSurrogate(); return n; }() < 128)
            tenant += QStringLiteral("é");
        QString sqlTenant = tenant;
        sqlTenant.replace(QLatin1Char('\''), QStringLiteral("''"));
        QVERIFY(!pg.psql(QStringLiteral("INSERT INTO tenant (id, name) VALUES ('%1', 'Awkward')").arg(sqlTenant), &error).isNull());
        const QByteArray token = "t";
        test::ServerProcess server;
        QVERIFY2(server.start({QStringLiteral("--postgres"), pg.conninfo(), QStringLiteral("--admin-token"), QString::fromLatin1(token)}, &error),
                 qPrintable(error));
        const QByteArray policy = QJsonDocument(QJsonObject{{QStringLiteral("scope"), QStringLiteral("TENANT")},
                                                            {QStringLiteral("tenantId"), tenant},
                                                            {QStringLiteral("windowSeconds"), 60},
                                                            {QStringLiteral("limit"), 2},
                                                            {QStringLiteral("description"), QStringLiteral("it's 100%; fine")}})
                                      .toJson(QJsonDocument::Compact);
        const Answer created = http(server.baseUrl(), "POST", QStringLiteral("/admin/policies"), policy, token);
        QCOMPARE(created.status, 201);
        const QJsonObject back = QJsonDocument::fromJson(created.body).object();
        QCOMPARE(back.value(QStringLiteral("tenantId")).toString(), tenant);
        QCOMPARE(back.value(QStringLiteral("description")).toString(), QStringLiteral("it's 100%; fine"));
        QCOMPARE(pg.psql(QStringLiteral("SELECT count(*) FROM tenant")), QByteArray("3"));
        // The check with that tenant: its limit applies once the snapshot has it.
        const QByteArray check = QJsonDocument(QJsonObject{{QStringLiteral("userId"), tenant},
                                                           {QStringLiteral("modelId"), QStringLiteral("gpt-4o")},
                                                           {QStringLiteral("tenantId"), tenant}})
                                     .toJson(QJsonDocument::Compact);
        QElapsedTimer t;
        t.start();
        QJsonObject decision;
        do {
            QTest::qWait(20);
            decision = QJsonDocument::fromJson(http(server.baseUrl(), "POST", QStringLiteral("/rate-limit/check"), check).body).object();
        } while (t.elapsed() < 2000 && decision.value(QStringLiteral("policies")).toArray().at(1).toObject().value(QStringLiteral("limit")).toInt() != 2);
        const QJsonObject tenantPolicy = decision.value(QStringLiteral("policies")).toArray().at(1).toObject();
        QCOMPARE(tenantPolicy.value(QStringLiteral("limit")).toInt(), 2);
        QCOMPARE(tenantPolicy.value(QStringLiteral("label")).toString(), QStringLiteral("tenant ") + tenant);
    }

private:
    static void checkRows(const test::PostgresServer &pg, const QString &query, QStringList rows)
    {
        QString error;
        const QByteArray out = pg.psql(query, &error); // verbatim, through psql
        QVERIFY2(!out.isNull(), qPrintable(error));
        QStringList got = QString::fromUtf8(out).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        got.sort();
        rows.sort();
        QCOMPARE(got, rows);
    }
};

QTEST_GUILESS_MAIN(TestPostgresRegistry)
#include "tst_postgresregistry.moc"
