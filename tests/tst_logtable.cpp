// SPDX-License-Identifier: Apache-2.0
// The memory store's data on its own: the per-key ring (prune at the window's edge, growth past
// the inline entry, weights), the open-addressing table (find/insert/erase with colliding hashes,
// tombstones reused), bounded expiry with a cursor that goes round, and the store's key bound.
#include "engine/clock.h"
#include "engine/siphash.h"
#include "memory/logtable.h"
#include "memory/memorywindowstore.h"

#include <QtTest>
#include <cstring>

using namespace sluice;

class TestLogTable : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // The store places caller-chosen keys with a keyed PRF: SipHash (the paper's reference vector
    // for SipHash-2-4 checks the implementation; 1-3 shares every line of it but the round counts).
    void keyedHash()
    {
        SipKey key;
        unsigned char k[16], m[15];
        for (int i = 0; i < 16; ++i)
            k[i] = static_cast<unsigned char>(i);
        for (int i = 0; i < 15; ++i)
            m[i] = static_cast<unsigned char>(i);
        std::memcpy(&key.k0, k, 8);
        std::memcpy(&key.k1, k + 8, 8);
        QCOMPARE(sipHash24(key, m, sizeof m), quint64(0xa129ca6149be45e5ULL));
        QVERIFY(sipHash13(key, m, sizeof m) != sipHash24(key, m, sizeof m));
        // A different key gives different hashes: nobody outside the process can precompute them.
        SipKey other = key;
        other.k1 ^= 1;
        QVERIFY(sipHash13(key, "gpt-4o", 6) != sipHash13(other, "gpt-4o", 6));
        QVERIFY(processSipKey().k0 != 0 || processSipKey().k1 != 0);
    }

    void ringPrunesAtTheWindowEdge()
    {
        WindowLog *log = WindowLog::create("sluice:{global}");
        QVERIFY(log->hasKey("sluice:{global}"));
        QVERIFY(!log->hasKey("sluice:{globaL}"));
        QCOMPARE(log->key(), QByteArray("sluice:{global}"));
        QVERIFY(log->empty());
        QCOMPARE(log->oldest(), qint64(-1));
        for (qint64 t = 1; t <= 100; ++t)
            log->append(t * 10, t % 3 + 1); // grows 1 → 2 → … → 128 slots
        QCOMPARE(log->size(), 100);
        qint64 sum = 0;
        for (qint64 t = 1; t <= 100; ++t)
            sum += t % 3 + 1;
        QCOMPARE(log->sum(), sum);
        // Window 500 at now 1000: entries with ts <= 500 leave; ts 510 … 1000 stay (50 of them).
        log->prune(1000, 500);
        QCOMPARE(log->size(), 50);
        QCOMPARE(log->oldest(), qint64(510));
        QCOMPARE(log->newest(), qint64(1000));
        qint64 left = 0;
        for (int i = 0; i < log->size(); ++i)
            left += log->at(i).weight;
        QCOMPARE(log->sum(), left);
        // Wrap-around: append after pruning reuses the front of the ring.
        for (qint64 t = 101; t <= 160; ++t)
            log->append(t * 10, 1);
        QCOMPARE(log->size(), 110);
        QCOMPARE(log->at(109).ts, qint64(1600));
        log->windowUs = 500;
        QVERIFY(!log->idle(1600));
        QVERIFY(log->idle(2100)); // the newest entry (1600) has left a 500 window at 2100
        log->prune(10'000, 500);
        QVERIFY(log->empty());
        QCOMPARE(log->sum(), qint64(0));
        WindowLog::destroy(log);
    }

    void tableHandlesCollidingHashes()
    {
        LogTable t;
        // Every key on the same hash: lookups must still compare keys.
        for (int i = 0; i < 200; ++i)
            QVERIFY(t.insert(42, "k" + QByteArray::number(i)));
        QCOMPARE(t.size(), size_t(200));
        for (int i = 0; i < 200; ++i) {
            WindowLog *log = t.find(42, "k" + QByteArray::number(i));
            QVERIFY(log);
            QCOMPARE(log->key(), "k" + QByteArray::number(i));
        }
        QVERIFY(!t.find(42, "nope"));
        QVERIFY(!t.find(43, "k1"));
        for (int i = 0; i < 200; i += 2)
            QVERIFY(t.erase(42, "k" + QByteArray::number(i)));
        QVERIFY(!t.erase(42, "k0"));
        QCOMPARE(t.size(), size_t(100));
        for (int i = 1; i < 200; i += 2)
            QVERIFY(t.find(42, "k" + QByteArray::number(i))); // found past the tombstones
        for (int i = 0; i < 1000; ++i) // tombstones get reused / cleaned by rebuilds
            t.insert(static_cast<quint64>(i) * 2654435761u, "n" + QByteArray::number(i));
        QCOMPARE(t.size(), size_t(1100));
        QVERIFY(t.capacity() <= 4096);
    }

    void expiryIsBoundedAndGoesRound()
    {
        LogTable t;
        for (int i = 0; i < 1000; ++i) {
            WindowLog *log = t.insert(static_cast<quint64>(i) * 0x9E3779B97F4A7C15ULL, "k" + QByteArray::number(i));
            log->append(100, 1);
            log->windowUs = 1000;
        }
        QCOMPARE(t.expireSome(500, 1'000'000), 0); // nothing idle yet
        // At 2000 every log is idle; each call visits at most `slots` slots.
        int freed = 0, calls = 0;
        while (t.size() > 0 && calls < 10'000) {
            const int n = t.expireSome(2000, 16);
            QVERIFY(n <= 16);
            freed += n;
            ++calls;
        }
        QCOMPARE(freed, 1000);
        QCOMPARE(t.size(), size_t(0));
        QVERIFY(calls >= 1000 / 16);
    }

    void storeRefusesNewKeysAtItsBound()
    {
        auto clock = std::make_shared<ManualClock>();
        MemoryWindowStore store(clock, QStringLiteral("memory"), 3);
        auto batch = [](const QByteArray &key) {
            WindowBatch b;
            b.keys.push_back({key, 60'000'000, 10});
            return b;
        };
        for (const char *k : {"a", "b", "c"})
            QVERIFY(store.checkNow(batch(k)).admitted);
        QCOMPARE(store.keyCount(), qint64(3));
        const WindowOutcome full = store.checkNow(batch("d"));
        QCOMPARE(full.status, WindowOutcome::Status::Full);
        QVERIFY(!full.admitted);
        QCOMPARE(store.refusedFull(), qint64(1));
        QVERIFY(store.checkNow(batch("a")).admitted); // known keys go on
        // Two new keys in one check when one slot is free: refused whole, nothing written.
        store.reset("c", [](bool) {});
        WindowBatch two = batch("x");
        two.keys.push_back({"y", 60'000'000, 10});
        QCOMPARE(store.checkNow(two).status, WindowOutcome::Status::Full);
        QCOMPARE(store.keyCount(), qint64(2));
        // Idle keys expire (housekeeping), and then new ones fit again.
        clock->advanceSeconds(61);
        QCOMPARE(store.housekeep(1'000'000), 2);
        QCOMPARE(store.keyCount(), qint64(0));
        QVERIFY(store.checkNow(two).admitted);
    }

    // Housekeeping is amortized: checks expire idle keys of the shards they hold, so a store whose
    // callers come and go stays near its live set without any sweep.
    void checksExpireIdleKeysAsTheyGo()
    {
        auto clock = std::make_shared<ManualClock>();
        MemoryWindowStore store(clock);
        for (int i = 0; i < 20'000; ++i) {
            WindowBatch b;
            b.keys.push_back({"old" + QByteArray::number(i), 1'000'000, 10});
            store.checkNow(b);
        }
        QCOMPARE(store.keyCount(), qint64(20'000));
        clock->advanceSeconds(2); // every "old" key is idle now
        for (int i = 0; i < 60'000; ++i) {
            WindowBatch b;
            b.keys.push_back({QByteArrayLiteral("sluice:{global}"), 1'000'000, 1'000'000'000});
            b.keys.push_back({"new" + QByteArray::number(i % 1000), 1'000'000, 1'000'000'000});
            store.checkNow(b);
        }
        // 1,001 live keys (global + 1,000 callers); the 20,000 idle ones went along the way.
        QVERIFY2(store.keyCount() < 1'500, qPrintable(QString::number(store.keyCount())));
    }
};

QTEST_GUILESS_MAIN(TestLogTable)
#include "tst_logtable.moc"
