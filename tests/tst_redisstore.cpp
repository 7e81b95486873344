// SPDX-License-Identifier: Apache-2.0
// The Redis store against a real redis-server: what the script writes (and does not), TTLs,
// NOSCRIPT recovery, and the faults: a slow Redis, a dead one, one that comes back, each failure
// mode, and a client that hangs up while its check waits on Redis. (How checks are batched into
// script calls: tst_checkbatcher.)
#include "failover/resilientwindowstore.h"
#include "memory/memorywindowstore.h"
#include "redis/rediswindowstore.h"
#include "httpcall.h"
#include "services.h"
#include "storetesting.h"
#include "sluiceserver.h"

#include <QElapsedTimer>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QtTest>

#include <algorithm>
#include <optional>

using namespace sluice;
using test::checkAndWait;
using test::uniqueKey;

class TestRedisStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Authenticated Redis (issue 11): a password in the URL, an ACL user, the password from the
    // environment's config; a wrong or missing one is a clear startup error that never shows the
    // password; a password changed under a running server is a clear /health state.
    void passwordsAndAclUsers()
    {
        test::RedisServer redis(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        const QString pw = QStringLiteral("s3cret-%1").arg(QRandomGenerator::global()->generate(), 0, 36);
        QCOMPARE(redis.cli({QStringLiteral("ACL"), QStringLiteral("SETUSER"), QStringLiteral("sluice"), QStringLiteral("on"),
                            QStringLiteral(">user-pw"), QStringLiteral("~*"), QStringLiteral("&*"), QStringLiteral("+@all")}),
                 QByteArray("OK"));
        QCOMPARE(redis.cli({QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("requirepass"), pw}), QByteArray("OK"));
        const QStringList auth{QStringLiteral("--no-auth-warning"), QStringLiteral("-a"), pw};
        QNetworkAccessManager nam;
        auto serve = [&](ServerConfig config, QString *why) -> std::unique_ptr<SluiceServer> {
            config.port = 0;
            config.threads = 1;
            config.redisTimeoutMs = 1000;
            auto server = std::make_unique<SluiceServer>(config);
            if (!server->start(why))
                return nullptr;
            return server;
        };
        auto sourceOf = [&](const SluiceServer &server) {
            QElapsedTimer t;
            t.start();
            QString source;
            while (t.elapsed() < 5000) {
                const test::HttpAnswer a = test::httpCall(nam, QUrl(QStringLiteral("http://127.0.0.1:%1/rate-limit/check").arg(server.port())),
                                                          "POST", R"({"userId":"auth","modelId":"gpt-4o"})");
                source = a.object().value(QStringLiteral("source")).toString();
                if (source == QStringLiteral("redis"))
                    break;
                QTest::qWait(20);
            }
            return source;
        };
        const QString base = QStringLiteral("redis://%1:%2").arg(redis.host()).arg(redis.port());
        {
            ServerConfig c;
            c.redisUrl = QStringLiteral("redis://:%1@%2:%3").arg(pw, redis.host()).arg(redis.port());
            auto server = serve(c, &error);
            QVERIFY2(server, qPrintable(error));
            QCOMPARE(sourceOf(*server), QStringLiteral("redis"));
        }
        {
            ServerConfig c; // an ACL user in the URL
            c.redisUrl = QStringLiteral("redis://sluice:user-pw@%1:%2").arg(redis.host()).arg(redis.port());
            auto server = serve(c, &error);
            QVERIFY2(server, qPrintable(error));
            QCOMPARE(sourceOf(*server), QStringLiteral("redis"));
        }
        {
            ServerConfig c; // the password from SLUICE_REDIS_PASSWORD / --redis-password-file
            c.redisUrl = base;
            c.redisPassword = pw;
            auto server = serve(c, &error);
            QVERIFY2(server, qPrintable(error));
            QCOMPARE(sourceOf(*server), QStringLiteral("redis"));

            // The password changes under it: the next connection is refused, and /health says why.
            QCOMPARE(redis.cli(auth + QStringList{QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("requirepass"),
                                                  QStringLiteral("rotated")}),
                     QByteArray("OK"));
            redis.cli({QStringLiteral("--no-auth-warning"), QStringLiteral("-a"), QStringLiteral("rotated"), QStringLiteral("CLIENT"),
                       QStringLiteral("KILL"), QStringLiteral("TYPE"), QStringLiteral("normal")});
            QElapsedTimer t;
            t.start();
            QByteArray health;
            while (t.elapsed() < 5000) {
                health = test::httpCall(nam, QUrl(QStringLiteral("http://127.0.0.1:%1/health").arg(server->port())), "GET").body;
                if (health.contains("refused the credentials"))
                    break;
                QTest::qWait(20);
            }
            QVERIFY2(health.contains("refused the credentials") && health.contains("WRONGPASS"), health.constData());
            QVERIFY(!health.contains(pw.toUtf8()));
            QCOMPARE(redis.cli({QStringLiteral("--no-auth-warning"), QStringLiteral("-a"), QStringLiteral("rotated"), QStringLiteral("CONFIG"),
                                QStringLiteral("SET"), QStringLiteral("requirepass"), pw}),
                     QByteArray("OK"));
        }
        {
            ServerConfig c; // a wrong password: a clear startup error, without the password in it
            c.redisUrl = QStringLiteral("redis://:not-the-password@%1:%2").arg(redis.host()).arg(redis.port());
            QString why;
            QVERIFY(!serve(c, &why));
            QVERIFY2(why.contains(QStringLiteral("refused the credentials")) && why.contains(QStringLiteral("WRONGPASS")), qPrintable(why));
            QVERIFY(!why.contains(QStringLiteral("not-the-password")));
        }
        {
            ServerConfig c; // none at all, and Redis wants one
            c.redisUrl = base;
            QString why;
            QVERIFY(!serve(c, &why));
            QVERIFY2(why.contains(QStringLiteral("wants a password")) && why.contains(QStringLiteral("SLUICE_REDIS_PASSWORD")), qPrintable(why));
        }
        {
            ServerConfig c; // an unreachable Redis is not a startup error: the failure mode covers it
            c.redisUrl = QStringLiteral("redis://:x@127.0.0.1:%1").arg(test::freePort());
            auto server = serve(c, &error);
            QVERIFY2(server, qPrintable(error));
        }
    }

    // The same credentials reach every Cluster node, the ones learned from CLUSTER SLOTS too.
    void clusterWithAPassword()
    {
        test::RedisCluster cluster(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(cluster.start(&error), error);
        const QString pw = QStringLiteral("cluster-%1").arg(QRandomGenerator::global()->generate(), 0, 36);
        for (quint16 port : cluster.ports())
            QCOMPARE(cluster.cli(port, {QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("requirepass"), pw}, false),
                     QByteArray("OK"));
        ServerConfig c;
        c.port = 0;
        c.threads = 1;
        c.redisTimeoutMs = 1000;
        c.redisCluster = QStringList{cluster.nodes().constFirst()}; // one seed: the others come from CLUSTER SLOTS
        QString why;
        {
            SluiceServer without(c);
            QVERIFY(!without.start(&why));
            QVERIFY2(why.contains(QStringLiteral("wants a password")), qPrintable(why));
        }
        c.redisPassword = pw;
        SluiceServer server(c);
        QVERIFY2(server.start(&error), qPrintable(error));
        QNetworkAccessManager nam;
        QElapsedTimer t;
        t.start();
        int fromCluster = 0;
        // Users spread over the slots, so every node is asked.
        for (int i = 0; i < 200 && t.elapsed() < 10000; ++i) {
            const test::HttpAnswer a = test::httpCall(nam, QUrl(QStringLiteral("http://127.0.0.1:%1/rate-limit/check").arg(server.port())), "POST",
                                                      QStringLiteral(R"({"userId":"u%1","modelId":"gpt-4o"})").arg(i).toUtf8());
            if (a.object().value(QStringLiteral("source")).toString() == QStringLiteral("redis-cluster"))
                ++fromCluster;
            else if (fromCluster > 0)
                QFAIL(a.body.constData()); // once up, every check is the Cluster's
            else
                QTest::qWait(20);
        }
        QVERIFY(fromCluster > 50);
    }

    void deniedChecksWriteNothing()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        const QByteArray a = uniqueKey("a"), b = uniqueKey("b"), zero = uniqueKey("zero");
        WindowBatch batch;
        batch.keys = {{a, 60'000'000, 1}, {b, 60'000'000, 5}};
        QVERIFY(checkAndWait(store, batch).admitted);
        const WindowOutcome refused = checkAndWait(store, batch);
        QCOMPARE(refused.status, WindowOutcome::Status::Ok);
        QVERIFY(!refused.admitted);
        QCOMPARE(refused.keys.at(0).used, qint64(1));
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(a)}), QByteArray("1"));
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(b)}), QByteArray("1"));
        // A key with limit 0 is never created.
        WindowBatch none;
        none.keys = {{zero, 60'000'000, 0}};
        QVERIFY(!checkAndWait(store, none).admitted);
        QCOMPARE(redis.cli({QStringLiteral("EXISTS"), QString::fromUtf8(zero)}), QByteArray("0"));
    }

    // A log is a list of entry times in time order, ~10 bytes an entry (a sorted set took ~100).
    void logsAreCompactLists()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        const QByteArray key = uniqueKey("compact");
        WindowBatch batch;
        batch.keys = {{key, 600'000'000, 1'000'000}};
        for (int i = 0; i < 2000; ++i)
            store.check(batch, [](WindowOutcome) {});
        QTRY_COMPARE_WITH_TIMEOUT(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(key)}), QByteArray("2000"), 10000);
        QCOMPARE(redis.cli({QStringLiteral("TYPE"), QString::fromUtf8(key)}), QByteArray("list"));
        const QList<QByteArray> entries = redis.cli({QStringLiteral("LRANGE"), QString::fromUtf8(key), QStringLiteral("0"), QStringLiteral("-1")}).split('\n');
        for (qsizetype i = 1; i < entries.size(); ++i)
            QVERIFY(entries[i].toLongLong() >= entries[i - 1].toLongLong());
        const qint64 bytes = redis.cli({QStringLiteral("MEMORY"), QStringLiteral("USAGE"), QString::fromUtf8(key)}).toLongLong();
        qInfo("2000 entries: %lld bytes, %.1f per entry", bytes, bytes / 2000.0);
        QVERIFY2(bytes <= 24 * 2000, qPrintable(QString::number(bytes)));
    }

    // Issue 20, defect 6: memory per key and work per call are bounded whatever the limit. A log
    // holds at most kMaxLogEntries entries (a tokens log of limit 10^9 with cost-1 callers would
    // otherwise grow without end), in Redis and in memory alike; one call prunes a weighted log by
    // at most 4,096 entries (a burst leaving the window is pruned over several calls, counted
    // meanwhile), and a log of requests (all of weight 1) with one LTRIM.
    void logsAreBoundedWhateverTheLimit()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 5000);
        QVERIFY(test::waitConnected(store.connection()));
        MemoryWindowStore memory(systemClock(), QStringLiteral("memory"), 10);
        const QByteArray key = uniqueKey("full") + ":tokens";
        WindowSpec spec{key, 3'600'000'000LL, 1'000'000'000};
        spec.kind = WindowKind::TokenLog;
        WindowBatch batch;
        batch.keys = {spec};
        // Redis: the log filled to the bound (entries of now, weight 1), then one more.
        const QString fill = QStringLiteral("local t = redis.call('TIME') local now = t[1] .. string.format('%06d', t[2]) "
                                            "local b = {} for i = 1, 1000 do b[i] = now end "
                                            "for i = 1, tonumber(ARGV[1]) / 1000 do redis.call('RPUSH', KEYS[1], unpack(b)) end "
                                            "return redis.call('LLEN', KEYS[1])");
        QCOMPARE(redis.cli({QStringLiteral("EVAL"), fill, QStringLiteral("1"), QString::fromUtf8(key), QString::number(kMaxLogEntries)}),
                 QByteArray::number(kMaxLogEntries));
        WindowOutcome o = checkAndWait(store, batch);
        QCOMPARE(o.status, WindowOutcome::Status::Ok);
        QVERIFY(!o.admitted);
        QVERIFY(o.keys.at(0).full);
        QCOMPARE(o.keys.at(0).used, kMaxLogEntries);
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(key)}), QByteArray::number(kMaxLogEntries));
        // Memory: the same bound (a log of requests here: no reservation per check to hold).
        WindowBatch plainBatch;
        plainBatch.keys = {{key, 3'600'000'000LL, 1'000'000'000}};
        for (qint64 i = 0; i < kMaxLogEntries; ++i) {
            std::optional<WindowOutcome> r;
            memory.check(plainBatch, [&](WindowOutcome x) { r = std::move(x); });
            QVERIFY(r && r->admitted);
        }
        std::optional<WindowOutcome> last;
        memory.check(plainBatch, [&](WindowOutcome x) { last = std::move(x); });
        QVERIFY(last && !last->admitted && last->keys.at(0).full);
        QCOMPARE(last->keys.at(0).used, kMaxLogEntries);

        // Pruning: 100,000 weighted entries that left the window long ago go 4,096 a call.
        const QByteArray weighted = uniqueKey("prune") + ":tokens";
        QCOMPARE(redis.cli({QStringLiteral("EVAL"),
                            QStringLiteral("local b = {} for i = 1, 1000 do b[i] = '1:2' end "
                                           "for i = 1, 100 do redis.call('RPUSH', KEYS[1], unpack(b)) end "
                                           "redis.call('SET', KEYS[1] .. '#w', 100000) return redis.call('LLEN', KEYS[1])"),
                            QStringLiteral("1"), QString::fromUtf8(weighted)}),
                 QByteArray("100000"));
        WindowSpec w{weighted, 60'000'000, 1'000'000'000};
        w.kind = WindowKind::TokenLog;
        WindowBatch wb;
        wb.keys = {w};
        o = checkAndWait(store, wb);
        QCOMPARE(o.status, WindowOutcome::Status::Ok);
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(weighted)}), QByteArray::number(100000 - 4096 + 1));
        int calls = 1;
        while (redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(weighted)}).toLongLong() > calls && calls < 100) {
            o = checkAndWait(store, wb);
            QCOMPARE(o.status, WindowOutcome::Status::Ok);
            ++calls;
        }
        QCOMPARE(calls, 25); // ceil(100000 / 4096)
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(weighted)}), QByteArray("25"));
        QCOMPARE(redis.cli({QStringLiteral("GET"), QString::fromUtf8(weighted + "#w")}), QByteArray()); // every extra weight left with them
        // Exactly as many expired entries as one call prunes, and nothing else: the log is empty
        // when the bound is reached (the script read its first element anyway and failed, the
        // whole batch answered Unavailable).
        for (const int n : {4095, 4096, 4097}) {
            const QByteArray exact = uniqueKey("prune-exact") + ":tokens";
            QCOMPARE(redis.cli({QStringLiteral("EVAL"),
                                QStringLiteral("local b = {} for i = 1, tonumber(ARGV[1]) do b[#b + 1] = '1:2' "
                                               "if #b == 1000 then redis.call('RPUSH', KEYS[1], unpack(b)) b = {} end end "
                                               "if #b > 0 then redis.call('RPUSH', KEYS[1], unpack(b)) end "
                                               "redis.call('SET', KEYS[1] .. '#w', ARGV[1]) return redis.call('LLEN', KEYS[1])"),
                                QStringLiteral("1"), QString::fromUtf8(exact), QString::number(n)}),
                     QByteArray::number(n));
            WindowSpec e{exact, 60'000'000, 1'000'000'000};
            e.kind = WindowKind::TokenLog;
            WindowBatch eb;
            eb.keys = {e};
            o = checkAndWait(store, eb);
            QVERIFY2(o.status == WindowOutcome::Status::Ok, qPrintable(QStringLiteral("%1 expired entries: %2").arg(n).arg(o.error)));
            QVERIFY(o.admitted);
            // (4097: one is left for the next call, counted meanwhile with its weight)
            QCOMPARE(o.keys.at(0).used, n == 4097 ? qint64(2) : qint64(0));
            QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(exact)}), QByteArray(n == 4097 ? "2" : "1"));
        }
        // Unweighted: 100,000 expired entries go in one call.
        const QByteArray plain = uniqueKey("plain");
        QCOMPARE(redis.cli({QStringLiteral("EVAL"),
                            QStringLiteral("local b = {} for i = 1, 1000 do b[i] = '1' end "
                                           "for i = 1, 100 do redis.call('RPUSH', KEYS[1], unpack(b)) end return redis.call('LLEN', KEYS[1])"),
                            QStringLiteral("1"), QString::fromUtf8(plain)}),
                 QByteArray("100000"));
        WindowBatch pb;
        pb.keys = {{plain, 60'000'000, 1000}};
        o = checkAndWait(store, pb);
        QVERIFY(o.admitted);
        QCOMPARE(o.keys.at(0).used, qint64(0));
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(plain)}), QByteArray("1"));
    }

    // A log of requests is cut where its window starts, found by probing from its front (1, 3, 7,
    // …) and halving between the last two probes: every split of logs of many lengths — none
    // out, some, all but one, all — leaves exactly the entries inside the window, and the check
    // sees their count and the oldest of them.
    void requestLogsAreCutExactlyWhereTheirWindowStarts()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 5000);
        QVERIFY(test::waitConnected(store.connection()));
        // n entries in time order, the first `out` of them two minutes old (outside a 60 s
        // window), the others within the last 10 ms; returns the oldest inside (or -1).
        const QString fill = QStringLiteral(
            "local t = redis.call('TIME') local now = t[1] * 1000000 + t[2] "
            "local n, out = tonumber(ARGV[1]), tonumber(ARGV[2]) local q, first = {}, -1 "
            "for i = 1, n do local ts "
            "  if i <= out then ts = now - 120000000 + i else ts = now - 10000 + i; if first < 0 then first = ts end end "
            "  q[#q + 1] = string.format('%.0f', ts) "
            "  if #q == 1000 or i == n then redis.call('RPUSH', KEYS[1], unpack(q)); q = {} end "
            "end return string.format('%.0f', first)");
        int cases = 0;
        for (const int n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000, 5000}) {
            std::vector<int> outs;
            for (int out = 0; out <= std::min(n, 18); ++out)
                outs.push_back(out);
            for (const int out : {n / 3, n / 2, n - 9, n - 2, n - 1, n}) {
                if (out > 18)
                    outs.push_back(out);
            }
            for (const int out : outs) {
                const QByteArray key = uniqueKey("cut");
                const QByteArray first = redis.cli({QStringLiteral("EVAL"), fill, QStringLiteral("1"), QString::fromUtf8(key),
                                                    QString::number(n), QString::number(out)});
                WindowBatch batch;
                batch.keys = {{key, 60'000'000, 1'000'000}};
                const WindowOutcome o = checkAndWait(store, batch);
                const QString what = QStringLiteral("%1 entries, %2 out").arg(n).arg(out);
                QVERIFY2(o.status == WindowOutcome::Status::Ok && o.admitted, qPrintable(what));
                QVERIFY2(o.keys.at(0).used == n - out, qPrintable(what + QStringLiteral(": used %1").arg(o.keys.at(0).used)));
                QVERIFY2(o.keys.at(0).oldestUs == first.toLongLong(),
                         qPrintable(what + QStringLiteral(": oldest %1, not %2").arg(o.keys.at(0).oldestUs).arg(QString::fromUtf8(first))));
                QVERIFY2(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(key)}) == QByteArray::number(n - out + 1), qPrintable(what));
                ++cases;
            }
        }
        qInfo("%d logs cut", cases);
    }

    // Redis data written by Sluice <= 0.4 (a log as a sorted set of "id" / "id*w" members scored
    // by time, the extra weight in <key>#w) is read and converted on first touch, keeping its TTL.
    void logsOfThePreviousLayoutAreConverted()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        const QByteArray key = uniqueKey("old");
        const QString k = QString::fromUtf8(key);
        const qint64 nowUs = QDateTime::currentMSecsSinceEpoch() * 1000;
        auto us = [nowUs](qint64 agoMs) { return QString::number(nowUs - agoMs * 1000); };
        // three entries in the window (one of weight 5), one that has left it
        redis.cli({QStringLiteral("ZADD"), k, us(120'000), QStringLiteral("r-old"), us(3000), QStringLiteral("r-a"),
                   us(2000), QStringLiteral("r-b*5"), us(1000), QStringLiteral("r-c")});
        redis.cli({QStringLiteral("SET"), k + QStringLiteral("#w"), QStringLiteral("4")});
        redis.cli({QStringLiteral("PEXPIRE"), k, QStringLiteral("50000")});
        WindowBatch batch;
        batch.keys = {{key, 60'000'000, 9}};
        const WindowOutcome first = test::checkAndWait(store, batch);
        QCOMPARE(first.status, WindowOutcome::Status::Ok);
        QCOMPARE(first.keys.at(0).used, qint64(7)); // 1 + 5 + 1
        QVERIFY(first.admitted);
        QCOMPARE(redis.cli({QStringLiteral("TYPE"), k}), QByteArray("list"));
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), k}), QByteArray("4"));
        const QList<QByteArray> entries = redis.cli({QStringLiteral("LRANGE"), k, QStringLiteral("0"), QStringLiteral("-1")}).split('\n');
        QCOMPARE(entries.at(1), us(2000).toUtf8() + ":5");
        QVERIFY(redis.cli({QStringLiteral("PTTL"), k}).toLongLong() > 50'000); // the admission renewed it to the window
        WindowOutcome next = test::checkAndWait(store, batch);
        QCOMPARE(next.keys.at(0).used, qint64(8));
        QVERIFY(next.admitted);
        next = test::checkAndWait(store, batch);
        QCOMPARE(next.keys.at(0).used, qint64(9));
        QVERIFY(!next.admitted);
    }

    void keysHaveTtlsAndVanishAfterTheirWindow()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        const QByteArray a = uniqueKey("ttl"), b = uniqueKey("ttl");
        WindowBatch batch;
        batch.keys = {{a, 1'000'000, 10}, {b, 1'000'000, 10}};
        batch.keys[0].weight = batch.keys[1].weight = 3; // a weighted entry also sets the extra-weight key's TTL
        QVERIFY(checkAndWait(store, batch).admitted);
        // Read first (each redis.cli is a process; the keys live ~1 s): the entry, its time in us
        // (":3" its weight), and when its key and extra-weight key expire.
        const QByteArray entry = redis.cli({QStringLiteral("LINDEX"), QString::fromUtf8(a), QStringLiteral("0")});
        const QByteArray logExpiry = redis.cli({QStringLiteral("PEXPIRETIME"), QString::fromUtf8(a)});
        const QByteArray weightExpiry = redis.cli({QStringLiteral("PEXPIRETIME"), QString::fromUtf8(a + "#w")});
        const qint64 entryUs = entry.left(entry.indexOf(':')).toLongLong();
        QVERIFY2(entryUs > 0, entry.constData());
        bool numeric = false;
        const qint64 expiresMs = logExpiry.toLongLong(&numeric);
        if (numeric) { // (PEXPIRETIME: Redis >= 7.0)
            // Redis keeps a key through its expiry's millisecond: the log lives while its newest
            // entry counts (until entry + 1 s), and its extra weight expires at the same moment.
            QVERIFY2((expiresMs + 1) * 1000 > entryUs + 1'000'000,
                     qPrintable(QStringLiteral("%1 ms, entry %2 us").arg(expiresMs).arg(entryUs)));
            QCOMPARE(weightExpiry, logExpiry);
        } else {
            qInfo("PEXPIRETIME not known to this Redis (%s): expiry moments not compared", logExpiry.constData());
        }
        // Each expires about when its entry leaves the window: now + 1 s, rounded up to Redis'
        // milliseconds (so up to 1001 ms from the millisecond the script ran in).
        for (const QByteArray &k : {a, b, a + "#w", b + "#w"}) {
            const qint64 ttl = redis.cli({QStringLiteral("PTTL"), QString::fromUtf8(k)}).toLongLong();
            QVERIFY2(ttl > 0 && ttl <= 1001, qPrintable(QStringLiteral("%1: %2").arg(QString::fromUtf8(k)).arg(ttl)));
        }
        QTRY_COMPARE_WITH_TIMEOUT(redis.cli({QStringLiteral("EXISTS"), QString::fromUtf8(a), QString::fromUtf8(b),
                                             QString::fromUtf8(a + "#w"), QString::fromUtf8(b + "#w")}),
                                  QByteArray("0"), 3000);
    }

    void scriptFlushRecovers()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        WindowBatch batch;
        batch.keys = {{uniqueKey("flush"), 60'000'000, 100}};
        QVERIFY(checkAndWait(store, batch).admitted);
        QCOMPARE(redis.cli({QStringLiteral("SCRIPT"), QStringLiteral("FLUSH")}), QByteArray("OK"));
        const WindowOutcome o = checkAndWait(store, batch);
        QCOMPARE(o.status, WindowOutcome::Status::Ok);
        QVERIFY(o.admitted);
        QCOMPARE(o.keys.at(0).used, qint64(1));
    }

    void slowRedisTimesOut()
    {
        test::RedisServer redis(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 50);
        QVERIFY(test::waitConnected(store.connection()));
        WindowBatch batch;
        batch.keys = {{uniqueKey("slow"), 60'000'000, 100}};
        QVERIFY(checkAndWait(store, batch).admitted);
        // Twice: Redis sleeps, a check times out, Redis wakes up. The timed-out check ran after
        // all and is taken back (a check of a log alone has no id until then: each take-back is
        // named when it is made, so the second is not mistaken for the first), so the key holds
        // the first entry alone.
        for (int round = 1; round <= 2; ++round) {
            redis.cliDetached({QStringLiteral("DEBUG"), QStringLiteral("SLEEP"), QStringLiteral("0.6")});
            QTest::qWait(100); // let the sleep begin
            QElapsedTimer t;
            t.start();
            const WindowOutcome o = checkAndWait(store, batch);
            QCOMPARE(o.status, WindowOutcome::Status::Unavailable);
            QVERIFY2(o.error.contains(QStringLiteral("timeout")), qPrintable(o.error));
            QVERIFY2(t.elapsed() < 450, "answered long before Redis woke up"); // 50 ms timeout vs a 600 ms sleep
            QTRY_VERIFY_WITH_TIMEOUT(store.health().value(QStringLiteral("tookBack")).toInteger() == round
                                         && store.health().value(QStringLiteral("compensations")).toObject().value(QStringLiteral("done")).toInteger() == round,
                                     5000);
            QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(batch.keys[0].key)}), QByteArray("1"));
        }
        // The store works again without being recreated.
        QTRY_VERIFY_WITH_TIMEOUT(checkAndWait(store, batch).status == WindowOutcome::Status::Ok, 5000);
    }

    // Defect (review): checks queued behind calls to a stuck Redis had no deadline: each waited
    // for the calls before it to time out one by one (here 200 × 50 ms), and the queue had no end.
    // Now one that waited longer than the call timeout fails at once, and nothing is sent for it.
    void queuedChecksFailAfterTheTimeout()
    {
        test::RedisServer redis(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 50);
        store.setBatchLimit(1); // one check a call: the queue is what decides
        QVERIFY(test::waitConnected(store.connection()));
        WindowBatch batch;
        batch.keys = {{uniqueKey("queued"), 60'000'000, 1000}};
        redis.cliDetached({QStringLiteral("DEBUG"), QStringLiteral("SLEEP"), QStringLiteral("2")});
        QTest::qWait(100); // let the sleep begin
        const qint64 callsBefore = store.batcher().calls();
        int answered = 0, unavailable = 0;
        for (int i = 0; i < 200; ++i) {
            store.check(batch, [&](WindowOutcome o) {
                ++answered;
                unavailable += o.status == WindowOutcome::Status::Unavailable ? 1 : 0;
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(answered, 200, 8000);
        QCOMPARE(unavailable, 200);
        const qint64 calls = store.batcher().calls() - callsBefore;
        qInfo("200 checks behind a stuck Redis: %lld calls sent", calls);
        QVERIFY2(calls <= 10, qPrintable(QString::number(calls)));
        // the calls sent timed out, and are counted so (sluice_store_call_timeouts_total)
        QCOMPARE(store.batcher().timedOutCalls(), calls);
        QCOMPARE(store.batcher().failedCalls(), calls);
        QCOMPARE(store.health().value(QStringLiteral("timedOutCalls")).toInteger(), calls);
    }

    void failureModes_data()
    {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<int>("expectedStatus"); // 0 ok, 1 unavailable
        QTest::addColumn<QString>("source");
        QTest::addRow("local") << "local" << 0 << "local";
        QTest::addRow("fail-open") << "fail-open" << 0 << "fail-open";
        QTest::addRow("fail-closed") << "fail-closed" << 1 << "redis";
    }

    void failureModes()
    {
        QFETCH(QString, mode);
        QFETCH(int, expectedStatus);
        QFETCH(QString, source);
        test::RedisServer redis(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        auto remote = std::make_unique<RedisWindowStore>(redis.host(), redis.port(), 0, 50);
        QVERIFY(test::waitConnected(remote->connection()));
        auto local = std::make_shared<MemoryWindowStore>();
        ResilientWindowStore store(std::move(remote), *failureModeFromName(mode), local, 4);
        WindowBatch batch;
        batch.keys = {{uniqueKey("mode"), 60'000'000, 10}};
        QCOMPARE(checkAndWait(store, batch).source, QStringLiteral("redis"));
        QVERIFY(redis.stop());
        // Every answer comes at once, by the mode; the breaker opens after 5 failures.
        int admitted = 0;
        for (int i = 0; i < 12; ++i) {
            QElapsedTimer t;
            t.start();
            const WindowOutcome o = checkAndWait(store, batch);
            QVERIFY(t.elapsed() < 1000);
            QCOMPARE(static_cast<int>(o.status), expectedStatus);
            if (o.status == WindowOutcome::Status::Ok) {
                QCOMPARE(o.source, source);
                admitted += o.admitted;
            }
        }
        QCOMPARE(store.breaker().state(std::numeric_limits<qint64>::min() / 2), CircuitBreaker::State::Open);
        QCOMPARE(store.health().value(QStringLiteral("status")).toString(), QStringLiteral("degraded"));
        if (mode == QStringLiteral("local"))
            QCOMPARE(admitted, 2); // limit 10 shared by 4 instances → 2 here
        if (mode == QStringLiteral("fail-open"))
            QCOMPARE(admitted, 12);
        // Redis comes back: the breaker probes and the store is "redis" again, by itself.
        QVERIFY(redis.start());
        auto backOnRedis = [&] {
            const WindowOutcome o = checkAndWait(store, batch);
            return o.status == WindowOutcome::Status::Ok && o.source == QStringLiteral("redis");
        };
        QTRY_VERIFY_WITH_TIMEOUT(backOnRedis(), 15000);
        QCOMPARE(store.breaker().state(0), CircuitBreaker::State::Closed);
    }

    void redisKilledUnderLoad()
    {
        test::RedisServer redis(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        auto remote = std::make_unique<RedisWindowStore>(redis.host(), redis.port(), 0, 50);
        QVERIFY(test::waitConnected(remote->connection()));
        ResilientWindowStore store(std::move(remote), FailureMode::Local, std::make_shared<MemoryWindowStore>(), 1);
        WindowBatch batch;
        batch.keys = {{uniqueKey("load"), 60'000'000, 1'000'000}};
        // 400 checks, a few in flight at any time; Redis dies a quarter of the way in.
        constexpr int kChecks = 400;
        int answered = 0;
        qint64 slowestMs = 0;
        QStringList sources;
        QElapsedTimer clock;
        clock.start();
        for (int i = 0; i < kChecks; ++i) {
            if (i == kChecks / 4)
                redis.cliDetached({QStringLiteral("SHUTDOWN"), QStringLiteral("NOSAVE")});
            const qint64 sent = clock.elapsed();
            store.check(batch, [&, sent](WindowOutcome o) {
                ++answered;
                slowestMs = std::max(slowestMs, clock.elapsed() - sent);
                if (!sources.contains(o.source))
                    sources << o.source;
                QCOMPARE(o.status, WindowOutcome::Status::Ok);
                QVERIFY(o.admitted);
            });
            QTest::qWait(1);
        }
        QTRY_COMPARE_WITH_TIMEOUT(answered, kChecks, 5000);
        QVERIFY(sources.contains(QStringLiteral("redis")));
        QVERIFY(sources.contains(QStringLiteral("local")));
        // Each answer came within the per-call timeout (50 ms) plus scheduling slack, never hung.
        QVERIFY2(slowestMs < 1000, qPrintable(QStringLiteral("slowest answer %1 ms").arg(slowestMs)));
        QCOMPARE(store.breaker().state(std::numeric_limits<qint64>::min() / 2), CircuitBreaker::State::Open);
    }

    void clientHangsUpWhileItsCheckWaits()
    {
        test::RedisServer redis(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        ServerConfig config;
        config.port = 0;
        config.threads = 1;
        config.redisUrl = redis.url();
        config.redisTimeoutMs = 2000;
        SluiceServer server(config);
        QVERIFY2(server.start(&error), qPrintable(error));
        const QByteArray body = R"({"userId":"hangup","modelId":"gpt-4o"})";
        const QByteArray request = "POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
            + QByteArray::number(body.size()) + "\r\n\r\n" + body;
        auto roundTrip = [&]() {
            QTcpSocket s;
            s.connectToHost(QHostAddress::LocalHost, server.port());
            if (!s.waitForConnected(2000))
                return QByteArray();
            s.write(request);
            QByteArray got;
            QElapsedTimer t;
            t.start();
            while (!got.contains("\"policies\"") && t.elapsed() < 5000) {
                if (s.waitForReadyRead(100))
                    got += s.readAll();
            }
            return got;
        };
        QTRY_VERIFY_WITH_TIMEOUT(roundTrip().contains("\"source\":\"redis\""), 5000);
        // Hold Redis, send checks, hang up while they wait; then let Redis answer into the void.
        redis.cliDetached({QStringLiteral("DEBUG"), QStringLiteral("SLEEP"), QStringLiteral("0.5")});
        QTest::qWait(100);
        for (int i = 0; i < 20; ++i) {
            auto *s = new QTcpSocket(this);
            s->connectToHost(QHostAddress::LocalHost, server.port());
            QVERIFY(s->waitForConnected(2000));
            s->write(request);
            s->flush();
            s->waitForBytesWritten(100);
            s->abort();
            s->deleteLater();
        }
        QTest::qWait(900); // Redis wakes up and the answers find no client
        const QByteArray after = roundTrip();
        QVERIFY2(after.startsWith("HTTP/1.1 200"), after.constData());
        QVERIFY(after.contains("\"source\":\"redis\""));
    }

    // Defect 1: the live chart's usage polling took the breaker's half-open probe and never
    // reported it, so after an outage every check went to the failure mode forever.
    void breakerRecoversWhileALiveChartPolls()
    {
        test::RedisServer redis(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        test::ServerProcess server;
        QVERIFY2(server.start({QStringLiteral("--redis"), redis.url(), QStringLiteral("--threads"), QStringLiteral("1"),
                               QStringLiteral("--admin-token"), QStringLiteral("t")},
                              &error),
                 qPrintable(error));
        QNetworkAccessManager nam;
        auto source = [&] {
            const test::HttpAnswer a = test::httpCall(nam, server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check"))), "POST",
                                                      R"({"userId":"chart","modelId":"gpt-4o"})");
            return a.object().value(QStringLiteral("source")).toString();
        };
        QCOMPARE(source(), QStringLiteral("redis"));
        // The console's Live usage page: /admin/events streaming usage every 250 ms throughout.
        QNetworkRequest r(server.baseUrl().resolved(QUrl(QStringLiteral("/admin/events?keys=sluice:%7Bglobal%7D"))));
        r.setRawHeader("Authorization", "Bearer t");
        r.setTransferTimeout(0);
        QNetworkReply *stream = nam.get(r);
        int events = 0;
        connect(stream, &QNetworkReply::readyRead, this, [&] { events += static_cast<int>(stream->readAll().count("event: usage")); });
        QTRY_VERIFY_WITH_TIMEOUT(events > 0, 5000);

        QVERIFY(redis.stop());
        QString during;
        for (int i = 0; i < 10; ++i)
            during = source(); // failures open the breaker
        QCOMPARE(during, QStringLiteral("local"));
        QTest::qWait(2500); // past the open interval: half-open, while usage polls go on
        QVERIFY(redis.start(&error));
        QElapsedTimer t;
        t.start();
        QString after;
        while (t.elapsed() < 10000 && (after = source()) != QStringLiteral("redis"))
            QTest::qWait(100);
        QCOMPARE(after, QStringLiteral("redis"));
        QVERIFY2(t.elapsed() < 10000, qPrintable(QString::number(t.elapsed())));
        const int before = events;
        QTRY_VERIFY_WITH_TIMEOUT(events > before, 3000); // the stream went on all along
        stream->abort();
        stream->deleteLater();
    }
};

QTEST_GUILESS_MAIN(TestRedisStore)
#include "tst_redisstore.moc"
