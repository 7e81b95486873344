// SPDX-License-Identifier: Apache-2.0
// The sliding-window semantics every store must share (design §4), as one table of scripts run
// against each store, so that memory, Redis and Redis Cluster cannot drift apart.
//
// A script is a list of steps over a batch of keys ("keys=<limit>/<window ms>,…"):
//   +      a check over the batch is admitted          -      it is refused
//   +N/-N  N such checks                                aN     advance the clock N ms
//   cost=N weight of the next checks                    only=I the next checks use key I alone
//   all    the next checks use every key again          used=I:N  the last check saw N used on key I
//   retry=I:N  key I's oldest counted entry leaves its window in N ms (±tolerance)
// The memory store runs on a test clock; real stores run in real time with the same scripts
// (rows that need an exact instant are marked exact and run on the test clock only).
#include "memory/memorywindowstore.h"
#include "redis/redisclusterwindowstore.h"
#include "redis/rediswindowstore.h"
#include "services.h"
#include "storetesting.h"
#include "engine/windowkey.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QRandomGenerator>
#include <QtTest>
#include <thread>

using namespace sluice;

namespace {

struct StoreUnderTest
{
    std::unique_ptr<WindowStore> store;
    std::shared_ptr<ManualClock> clock; // null: real time
    qint64 toleranceMs = 0;

    void advanceMs(qint64 ms)
    {
        if (clock)
            clock->advanceUs(ms * 1000);
        else
            QTest::qWait(static_cast<int>(ms));
    }

    WindowOutcome check(const WindowBatch &batch) { return test::checkAndWait(*store, batch); }
};

// Real servers shared by every row of the table, stopped in cleanupTestCase (not at exit).
std::unique_ptr<test::RedisServer> g_redis;
std::unique_ptr<test::RedisCluster> g_cluster;

std::unique_ptr<StoreUnderTest> makeStore(const QString &kind, QString *error)
{
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
    QStringList kinds() const { return {QStringLiteral("memory"), QStringLiteral("redis"), QStringLiteral("redis-cluster")}; }

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
        const QString prefix = QStringLiteral("t%1").arg(QRandomGenerator::global()->generate64(), 0, 36);
        std::vector<WindowSpec> keys;
        int only = -1; // -1: every key
        qint64 cost = 1;
        WindowOutcome last;
        for (const QString &step : script.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
            if (step.startsWith(QStringLiteral("keys="))) {
                int i = 0;
                for (const QString &k : step.mid(5).split(QLatin1Char(','))) {
                    const QStringList lw = k.split(QLatin1Char('/'));
                    keys.push_back({windowKey(Scope::Tenant, prefix, QString::number(i++)), lw[1].toLongLong() * 1000,
                                    lw[0].toLongLong()});
                }
            } else if (step.startsWith(QLatin1Char('+')) || step.startsWith(QLatin1Char('-'))) {
                const bool expectAdmitted = step.startsWith(QLatin1Char('+'));
                const int n = step.size() > 1 ? step.mid(1).toInt() : 1;
                for (int i = 0; i < n; ++i) {
                    WindowBatch batch;
                    batch.cost = cost;
                    if (only >= 0)
                        batch.keys.push_back(keys[static_cast<size_t>(only)]);
                    else
                        batch.keys = keys;
                    last = s->check(batch);
                    QCOMPARE(last.status, WindowOutcome::Status::Ok);
                    QVERIFY2(last.admitted == expectAdmitted,
                             qPrintable(QStringLiteral("step %1 (#%2): expected %3").arg(step).arg(i + 1)
                                            .arg(expectAdmitted ? QStringLiteral("admitted") : QStringLiteral("refused"))));
                    QCOMPARE(last.keys.size(), batch.keys.size());
                }
            } else if (step.startsWith(QLatin1Char('a'))) {
                s->advanceMs(step.mid(1).toLongLong());
            } else if (step.startsWith(QStringLiteral("cost="))) {
                cost = step.mid(5).toLongLong();
            } else if (step.startsWith(QStringLiteral("only="))) {
                only = step.mid(5).toInt();
            } else if (step == QStringLiteral("all")) {
                only = -1;
            } else if (step.startsWith(QStringLiteral("used="))) {
                const QStringList iv = step.mid(5).split(QLatin1Char(':'));
                const size_t i = only >= 0 ? 0 : iv[0].toULongLong();
                QCOMPARE(last.keys.at(i).used, iv[1].toLongLong());
            } else if (step.startsWith(QStringLiteral("retry="))) {
                const QStringList iv = step.mid(6).split(QLatin1Char(':'));
                const KeyState &k = last.keys.at(iv[0].toULongLong());
                QVERIFY(k.oldestUs >= 0);
                const qint64 leavesInMs = (k.oldestUs + keys[iv[0].toULongLong()].windowUs - last.nowUs) / 1000;
                QVERIFY2(std::abs(leavesInMs - iv[1].toLongLong()) <= s->toleranceMs,
                         qPrintable(QStringLiteral("leaves in %1 ms, expected %2").arg(leavesInMs).arg(iv[1])));
            } else {
                QFAIL(qPrintable(QStringLiteral("bad step %1").arg(step)));
            }
        }
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
