// SPDX-License-Identifier: Apache-2.0
// The sliding-window semantics every store must share (design §4), as one table of scripts run
// against each store, so that memory, Redis and Redis Cluster cannot drift apart.
//
// The script language and its interpreter: tests/support/windowscript.h.
// The memory store runs on a test clock; real stores run in real time with the same scripts
// (rows that need an exact instant are marked exact and run on the test clock only). The Redis
// stores run every row twice: alone, and "batched": every check of the script is sent among
// other checks (on keys of the same hash slots), so that it is decided inside a batch.
#include "memory/memorywindowstore.h"
#include "redis/redisclusterwindowstore.h"
#include "redis/rediswindowstore.h"
#include "services.h"
#include "storetesting.h"
#include "windowscript.h"
#include "windowkey.h"
#include "unit.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QRandomGenerator>
#include <QtTest>
#include <map>
#include <thread>

using namespace sluice;

namespace {

using test::CrowdedStore;
using test::StoreUnderTest;

// Real servers shared by every row of the table, stopped in cleanupTestCase (not at exit).
std::unique_ptr<test::RedisServer> g_redis;
std::unique_ptr<test::RedisCluster> g_cluster;

std::unique_ptr<StoreUnderTest> makeStore(const QString &kind, QString *error)
{
    if (kind.endsWith(QLatin1String(", batched"))) {
        auto s = makeStore(kind.chopped(9), error);
        if (s)
            s->store = std::make_unique<CrowdedStore>(std::move(s->store));
        return s;
    }
    auto s = std::make_unique<StoreUnderTest>();
    if (kind == QStringLiteral("memory")) {
        s->clock = std::make_shared<ManualClock>();
        s->store = std::make_unique<MemoryWindowStore>(s->clock);
        return s;
    }
    if (kind == QStringLiteral("redis")) {
        if (!g_redis)
            g_redis = std::make_unique<test::RedisServer>();
        if (!g_redis->start(error))
            return nullptr;
        auto store = std::make_unique<RedisWindowStore>(g_redis->host(), g_redis->port(), 0, 2000);
        if (!test::waitConnected(store->connection())) {
            *error = store->connection().lastError();
            return nullptr;
        }
        s->store = std::move(store);
        s->toleranceMs = 60; // real time: the steps themselves take a few ms
        return s;
    }
    if (kind == QStringLiteral("redis-cluster")) {
        if (!g_cluster)
            g_cluster = std::make_unique<test::RedisCluster>();
        if (!g_cluster->start(error))
            return nullptr;
        auto store = std::make_unique<RedisClusterWindowStore>(g_cluster->seeds().split(QLatin1Char(',')), 2000);
        QElapsedTimer t;
        t.start();
        while (store->topology().slotsKnown() < 16384 && t.elapsed() < 5000)
            QTest::qWait(10);
        if (store->topology().slotsKnown() < 16384) {
            *error = QStringLiteral("no slot map from %1").arg(g_cluster->seeds());
            return nullptr;
        }
        s->store = std::move(store);
        s->toleranceMs = 60;
        return s;
    }
    *error = QStringLiteral("unknown store %1").arg(kind);
    return nullptr;
}

} // namespace

class TestWindowStores : public QObject
{
    Q_OBJECT

private:
    QStringList kinds() const
    {
        return {QStringLiteral("memory"), QStringLiteral("redis"), QStringLiteral("redis-cluster"), QStringLiteral("redis, batched"),
                QStringLiteral("redis-cluster, batched")};
    }

private Q_SLOTS:
    void cleanupTestCase()
    {
        g_redis.reset();
        g_cluster.reset();
    }

    void semantics_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("script");
        QTest::addColumn<bool>("exact");
        struct Row { const char *name; const char *script; bool exact; };
        const Row rows[] = {
            {"fills to the limit then refuses", "keys=3/1000 + + + - - used=0:3", false},
            {"partial expiry frees the oldest only", "keys=3/1000 + a400 + + - a700 + - used=0:3", false},
            {"all entries expire after the window", "keys=2/800 +2 - a900 +2 -", false},
            {"an entry exactly at the boundary has left", "keys=1/1000 + a999 - a1 +", true},
            {"limit zero refuses everything", "keys=0/1000 -3 used=0:0", false},
            {"very large limit", "keys=1000000000000/1000 +50 used=0:49", false},
            {"refused writes nothing on any key", "keys=2/5000,5/5000 +2 -3 only=1 +3 - used=0:5", false},
            {"all or nothing across keys", "keys=5/5000,1/5000 + - only=0 +4 - used=0:5", false},
            {"cost weighs the entry", "keys=10/5000 cost=4 +2 - cost=2 + - used=0:10", false},
            {"cost above the limit never fits", "keys=5/5000 cost=6 -2 cost=1 +5", false},
            {"retry-after is when the oldest entry leaves", "keys=2/2000 + a500 + - retry=0:1500", false},
            {"retry-after exact", "keys=2/10000 + a2500 + - retry=0:7500 a7499 - a1 +", true},
            {"windows are per key", "keys=2/500,2/3000 +2 - a600 - only=0 +2", false},
            {"tokens: a refusal charges nothing, completion reweighs in place",
             "keys=1000/60000t cost=600 + - complete=0:100 + used=0:100 again=0 cost=301 - cost=300 +", false},
            {"tokens: the completed entry keeps its admission time",
             "keys=100/1000t cost=60 + a500 complete=0:10 cost=90 + used=0:10 a600 cost=10 + used=0:90", false},
            {"tokens: completing with 0 and above the estimate",
             "keys=100/60000t cost=100 + - complete=0:0 cost=10 + used=0:0 complete=1:95 cost=6 - cost=5 + used=0:95", false},
            {"tokens: completing without a count keeps the estimate",
             "keys=100/60000t cost=70 + complete=0 cost=31 - cost=30 + used=0:70", false},
            // Defect: with entries of weight 0 (completed with 0 tokens) the extra weight could pass
            // through 0, and entries leaving the window then went unaccounted: over-admission.
            {"tokens: weights of 0 leaving the window keep the sum exact",
             "keys=1000/2000t cost=10 +3 complete=0:0 complete=1:0 complete=2:0 a500 cost=4 + a1600 cost=997 - cost=996 + used=0:4", false},
            // Defect (review): the extra-weight key kept the TTL of the last weighted entry while
            // later unit entries renewed the log's: it expired first, and the weighted entry then
            // left a negative sum behind (over-admission).
            {"tokens: the extra weight lives as long as its log",
             "keys=1000/1000t cost=500 + a500 cost=1 + a600 + used=0:1", false},
            {"bucket: the burst at once, then one per drip", "keys=10/1000b3 +3 - drip=0:100 a130 + - a330 +3 -", false},
            {"bucket: retry exact", "keys=4/1000b2 +2 - drip=0:250 a249 - a1 + -", true},
            {"bucket: refill is capped at the burst", "keys=10/1000b3 a2000 +3 - used=0:3", false},
            {"bucket: a cost drains that many tokens", "keys=10/1000b5 cost=3 + - cost=2 + -", false},
            {"bucket: a cost above the burst never fits", "keys=10/1000b5 cost=6 -2 cost=5 +", false},
            {"bucket: limit zero refuses everything", "keys=0/1000b3 -3", false},
            {"bucket and log decided together, a refusal charges neither",
             "keys=5/60000,10/100000b2 +2 - only=0 +3 - used=0:5", false},
            {"bucket of tokens: completion gives back what was not used",
             "keys=1000/60000b1000t cost=600 + - complete=0:100 cost=900 + used=0:100 -", false},
            {"shadow at 0 never refuses and keeps nothing", "keys=0/60000s +3 used=0:0", false},
            {"shadow keeps only what it would have admitted", "keys=2/60000s +4 used=0:2", false},
            {"shadow beside a real limit: the real one refuses", "keys=1/60000,0/60000s + - used=0:1", false},
            {"shadow bucket never refuses", "keys=10/1000b1s +3 used=0:1", false},
            {"a window of 31 days", "keys=2/2678400000 +2 - used=0:2", false},
            {"a bucket over 31 days", "keys=2/2678400000b1 + - a1000 -", false},
            {"a window of one second", "keys=2/1000 +2 - a1100 +2 -", false},
            {"concurrent: leases held at once", "keys=2/c + + - complete=0 + - used=0:2 again=0", false},
            {"concurrent: a lease not completed expires by itself", "lease=400 keys=1/c + - a500 + used=0:0", false},
            {"concurrent: extend renews a lease", "lease=600 keys=1/c + a300 extend=0 a400 - a500 + used=0:0", false},
            {"concurrent: an expired reservation is gone", "lease=300 keys=1/c + a400 gone=0", false},
            {"mixed units: a refusal charges none of them",
             "keys=100/60000,1000/60000t,1/c cost=500 + - - only=0 + used=0:1 only=1 + used=0:500", false},
            {"mixed units: completion releases and reweighs together",
             "keys=100/60000,1000/60000t,1/c cost=800 + - complete=0:100 + used=1:100 used=2:0 used=0:1", false},
            // Issue 21, defects 3 and 4: a look (usage, peek) sees what a check sees, every kind (but a
            // log at its entry bound, kMaxLogEntries: usage reports counts, not the bound).
            {"usage and look: a log", "keys=3/60000 look+ +2 usage=0:2 look+ + usage=0:3 look+ - usage=0:3", false},
            {"usage and look: tokens", "keys=100/60000t cost=60 + usage=0:60 look+ cost=41 - usage=0:60 complete=0:90 usage=0:90", false},
            {"usage and look: leases", "keys=2/c + usage=0:1 + usage=0:2 look+ - complete=0 usage=0:1", false},
            {"usage and look: a bucket reads its level", "keys=10/60000b3 +2 usage=0:2 look+ + usage=0:3 look+ - usage=0:3", false},
            {"usage and look: a bucket of tokens", "keys=10/60000b100t cost=60 + usage=0:60 look+ complete=0:20 usage=0:20", false},
            {"look: a bucket over its rate but within its burst", "keys=2/60000b5 +4 usage=0:4 look+ + - look+", false},
            {"look: a shadow key never refuses a look", "keys=1/60000,0/60000s + look+", false},
        };
        for (const QString &kind : kinds()) {
            for (const Row &r : rows) {
                if (r.exact && kind != QStringLiteral("memory"))
                    continue;
                QTest::addRow("%s: %s", qPrintable(kind), r.name) << kind << QString::fromLatin1(r.script) << r.exact;
            }
        }
    }

    void semantics()
    {
        QFETCH(QString, kind);
        QFETCH(QString, script);
        QString error;
        auto s = makeStore(kind, &error);
        SLUICE_REQUIRE_SERVICE(s != nullptr, error);
        test::runWindowScript(*s, script, QStringLiteral("t%1").arg(QRandomGenerator::global()->generate64(), 0, 36));
    }

    void manyKeysAndEviction()
    {
        auto clock = std::make_shared<ManualClock>();
        MemoryWindowStore store(clock);
        for (int i = 0; i < 20000; ++i) {
            WindowBatch b;
            b.keys.push_back({windowKey(Scope::UserModel, QString::number(i), QStringLiteral("m")), 1000000, 5});
            QVERIFY(store.checkNow(b).admitted);
        }
        QCOMPARE(store.keyCount(), qint64(20000));
        clock->advanceUs(500000);
        QCOMPARE(store.housekeep(1 << 20), 0);
        clock->advanceUs(500000);
        QCOMPARE(store.housekeep(1 << 20), 20000);
        QCOMPARE(store.keyCount(), qint64(0));
        // The table keeps working after mass eviction and single resets (tombstones, rehash).
        for (int i = 0; i < 3000; ++i) {
            WindowBatch b;
            b.keys.push_back({windowKey(Scope::Tenant, QString::number(i)), 1000000, 5});
            QVERIFY(store.checkNow(b).admitted);
        }
        for (int i = 0; i < 3000; i += 2)
            store.reset(windowKey(Scope::Tenant, QString::number(i)), [](bool) {});
        QCOMPARE(store.keyCount(), qint64(1500));
        for (int i = 0; i < 3000; ++i) {
            WindowBatch b;
            b.keys.push_back({windowKey(Scope::Tenant, QString::number(i)), 1000000, 5});
            QCOMPARE(store.checkNow(b).keys.at(0).used, qint64(i % 2 == 0 ? 0 : 1));
        }
        QCOMPARE(store.keyCount(), qint64(3000));
    }

    // Reservations live until their leases expire: the memory store bounds them like keys (503
    // store_full beyond), and they go again as they expire, housekeeping or not.
    void reservationsAreBounded()
    {
        auto clock = std::make_shared<ManualClock>();
        MemoryWindowStore store(clock, QStringLiteral("memory"), 3);
        WindowBatch b;
        b.leaseUs = 1'000'000;
        b.keys.push_back({windowKey(Scope::Tenant, QStringLiteral("bounded")) + unitKeySuffix(Unit::Concurrent), 0, 100});
        b.keys.back().kind = WindowKind::Leases;
        for (int i = 0; i < 3; ++i)
            QVERIFY(store.checkNow(b).admitted);
        QCOMPARE(store.reservationCount(), qint64(3));
        const WindowOutcome full = store.checkNow(b);
        QCOMPARE(full.status, WindowOutcome::Status::Full);
        QVERIFY(full.reservationId.isEmpty());
        QCOMPARE(full.keys.at(0).used, qint64(3)); // nothing was written
        clock->advanceUs(1'000'001);
        store.housekeep(1);
        QCOMPARE(store.reservationCount(), qint64(0));
        const WindowOutcome again = store.checkNow(b);
        QVERIFY(again.admitted);
        QCOMPARE(again.keys.at(0).used, qint64(0)); // the expired leases freed their slots
    }

    // Extending a lease that is gone (the key was reset) renews nothing and says so; extending in
    // a loop keeps one reservation, which still expires once it is let go.
    void extendOnlyWhatIsHeld()
    {
        auto clock = std::make_shared<ManualClock>();
        MemoryWindowStore store(clock);
        WindowBatch b;
        b.leaseUs = 1'000'000;
        b.keys.push_back({windowKey(Scope::Tenant, QStringLiteral("extend")) + unitKeySuffix(Unit::Concurrent), 0, 5});
        b.keys.back().kind = WindowKind::Leases;
        const WindowOutcome first = store.checkNow(b);
        QVERIFY(first.admitted);
        for (int i = 0; i < 1000; ++i) {
            clock->advanceUs(500);
            QCOMPARE(store.extendNow(first.reservationId, 1'000'000).status, ReservationOutcome::Status::Done);
        }
        QCOMPARE(store.reservationCount(), qint64(1));
        clock->advanceUs(1'000'001);
        store.housekeep(1);
        QCOMPARE(store.reservationCount(), qint64(0));
        QCOMPARE(store.extendNow(first.reservationId, 1'000'000).status, ReservationOutcome::Status::NotFound);
        const WindowOutcome second = store.checkNow(b);
        store.reset(b.keys.front().key, [](bool) {});
        QCOMPARE(store.extendNow(second.reservationId, 1'000'000).status, ReservationOutcome::Status::NotFound);
    }

    // Many checks sent at once over shared keys of every kind: the Redis stores decide them in
    // batches, in the order they were sent, each seeing the entries of those before it — so a
    // single Redis decides exactly as the memory store deciding them one by one. A Cluster
    // decides each slot in that order too but may under-admit (reserve-then-confirm): it must
    // never exceed a limit.
    void batchesDecideInOrder_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::newRow("redis") << QStringLiteral("redis");
        QTest::newRow("redis-cluster") << QStringLiteral("redis-cluster");
    }

    void batchesDecideInOrder()
    {
        QFETCH(QString, kind);
        QString error;
        auto s = makeStore(kind, &error);
        SLUICE_REQUIRE_SERVICE(s != nullptr, error);
        const QByteArray p = "b" + QByteArray::number(QRandomGenerator::global()->generate64(), 36);
        auto spec = [&p](const char *name, qint64 limit) { return WindowSpec{"sluice:{" + p + ":" + name + "}", 60'000'000, limit}; };
        std::vector<WindowBatch> batches;
        QRandomGenerator rng(42);
        for (int i = 0; i < 80; ++i) {
            WindowBatch b;
            b.keys.push_back(spec("global", 30));
            WindowSpec tokens = spec(i % 2 ? "tenant1:tokens" : "tenant0:tokens", 400);
            tokens.kind = WindowKind::TokenLog;
            tokens.weight = 1 + rng.bounded(60);
            b.keys.push_back(tokens);
            b.keys.push_back(spec(QByteArray("user" + QByteArray::number(i % 5)).constData(), 4));
            if (i % 3 == 0) {
                WindowSpec bucket = spec("bucket", 10);
                bucket.kind = WindowKind::RequestBucket;
                bucket.burst = 6;
                bucket.key += ":bucket";
                b.keys.push_back(bucket);
            }
            if (i % 4 == 0) {
                WindowSpec lease = spec("streams", 3);
                lease.windowUs = 0;
                lease.kind = WindowKind::Leases;
                b.keys.push_back(lease);
            }
            WindowSpec shadow = spec("shadow", 7);
            shadow.shadow = true;
            b.keys.push_back(shadow);
            batches.push_back(std::move(b));
        }
        // What deciding them one by one gives.
        MemoryWindowStore memory(std::make_shared<ManualClock>());
        std::vector<WindowOutcome> expected;
        for (const WindowBatch &b : batches)
            expected.push_back(test::checkAndWait(memory, b));
        // All sent before any answer can come back.
        std::vector<std::optional<WindowOutcome>> got(batches.size());
        for (size_t i = 0; i < batches.size(); ++i)
            s->store->check(batches[i], [&got, i](WindowOutcome o) { got[i] = std::move(o); });
        QTRY_VERIFY_WITH_TIMEOUT(std::all_of(got.begin(), got.end(), [](const auto &o) { return o.has_value(); }), 10000);
        const QJsonObject health = s->store->health();
        qInfo("%s: %lld checks in %lld script calls", qPrintable(kind), qint64(health.value(QStringLiteral("batchedChecks")).toDouble()),
              qint64(health.value(QStringLiteral("batches")).toDouble()));
        QVERIFY(health.value(QStringLiteral("batches")).toDouble() < health.value(QStringLiteral("batchedChecks")).toDouble());
        std::map<QByteArray, qint64> charged;
        int admitted = 0;
        for (size_t i = 0; i < batches.size(); ++i) {
            const WindowOutcome &o = *got[i];
            QCOMPARE(o.status, WindowOutcome::Status::Ok);
            if (o.admitted) {
                ++admitted;
                for (const WindowSpec &k : batches[i].keys)
                    charged[k.key] += k.isBucket() || k.shadow ? 0 : k.weight;
            }
            if (kind != QStringLiteral("redis"))
                continue;
            QVERIFY2(o.admitted == expected[i].admitted, qPrintable(QStringLiteral("check %1").arg(i)));
            for (size_t k = 0; k < o.keys.size(); ++k)
                QVERIFY2(o.keys[k].used == expected[i].keys[k].used, qPrintable(QStringLiteral("check %1 key %2: %3, one by one %4")
                                                                                     .arg(i).arg(k).arg(o.keys[k].used).arg(expected[i].keys[k].used)));
        }
        QVERIFY(admitted > 0);
        for (const WindowBatch &b : batches) {
            for (const WindowSpec &k : b.keys)
                QVERIFY2(charged[k.key] <= k.limit, k.key.constData());
        }
    }

    // Defect (review): a Cluster rollback took back the entry of every key of an admitted slot
    // group, shadow keys that had refused (and so got nothing) included: it removed another
    // check's entry of the same time from them. Two checks decided in one batch (same time) show it.
    void clusterRollbackSparesUnwrittenShadowKeys()
    {
        QString error;
        auto s = makeStore(QStringLiteral("redis-cluster"), &error);
        SLUICE_REQUIRE_SERVICE(s != nullptr, error);
        const QByteArray p = "rb" + QByteArray::number(QRandomGenerator::global()->generate64(), 36);
        WindowSpec shadow{"sluice:{" + p + "}", 60'000'000, 1};
        shadow.shadow = true;
        const WindowSpec same{"sluice:{" + p + "}:real", 60'000'000, 100};   // same slot as the shadow key
        const WindowSpec refuses{"sluice:{" + p + "x}", 60'000'000, 0};     // another slot, refuses all
        WindowBatch filler, first, second;
        filler.keys = {WindowSpec{"sluice:{" + p + "}:filler", 60'000'000, 100}};
        first.keys = {shadow, same};
        second.keys = {shadow, same, refuses};
        int answered = 0;
        std::optional<WindowOutcome> a, b;
        // the four checks of one event-loop turn go in one call, in order (one time; before
        // batching by turn two fillers held the slot's two calls so that these two went together)
        s->store->check(filler, [&](WindowOutcome) { ++answered; });
        s->store->check(filler, [&](WindowOutcome) { ++answered; });
        s->store->check(first, [&](WindowOutcome o) { a = std::move(o); ++answered; });
        s->store->check(second, [&](WindowOutcome o) { b = std::move(o); ++answered; });
        QTRY_COMPARE_WITH_TIMEOUT(answered, 4, 5000);
        QVERIFY(a->admitted);
        QVERIFY(!b->admitted);
        QTest::qWait(200); // the rollback is sent after the answer
        std::optional<std::vector<KeyUsage>> usage;
        s->store->usage({shadow, same}, [&](bool ok, std::vector<KeyUsage> u) { if (ok) usage = std::move(u); });
        QTRY_VERIFY_WITH_TIMEOUT(usage.has_value(), 5000);
        QCOMPARE(usage->at(0).used, qint64(1)); // the first check's entry stays on the shadow key
        QCOMPARE(usage->at(1).used, qint64(1)); // the second's is taken back from the real one
    }

    void concurrentChecksAdmitExactlyTheLimit()
    {
        // 100 threads × 10 checks on one key with limit 100 → exactly 100 admitted.
        MemoryWindowStore store;
        std::atomic<int> admitted{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 100; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 10; ++i) {
                    WindowBatch b;
                    b.keys.push_back({QByteArrayLiteral("sluice:{global}"), 3600LL * 1000000, 100});
                    b.keys.push_back({windowKey(Scope::Tenant, QString::number(i % 3)), 3600LL * 1000000, 1000});
                    if (store.checkNow(b).admitted)
                        admitted.fetch_add(1);
                }
            });
        }
        for (auto &t : threads)
            t.join();
        QCOMPARE(admitted.load(), 100);
    }

    void keysAreEscaped_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addRow("colon cannot join ids") << "a:b" << "a";
        QTest::addRow("braces cannot close the tag") << "x}y" << "x";
        QTest::addRow("percent is escaped first") << "%3A" << ":";
    }

    void keysAreEscaped()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QVERIFY(windowKey(Scope::UserModel, a, QStringLiteral("m")) != windowKey(Scope::UserModel, b, QStringLiteral("b:m")));
        QVERIFY(windowKey(Scope::Tenant, a) != windowKey(Scope::Tenant, b));
        const QByteArray key = windowKey(Scope::UserModel, a, b);
        QCOMPARE(key.count('{'), 1);
        QCOMPARE(key.count('}'), 1);
        QCOMPARE(windowKey(Scope::UserModel, QStringLiteral("ünï"), QStringLiteral("m")),
                 QByteArray("sluice:{user_model:\xc3\xbcn\xc3\xaf:m}"));
    }
};

QTEST_GUILESS_MAIN(TestWindowStores)
#include "tst_windowstores.moc"
