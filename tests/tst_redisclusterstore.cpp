// SPDX-License-Identifier: Apache-2.0
// The Redis Cluster store against a real 3-primary cluster: the slot function, MOVED followed
// from a wrong slot map, a refused group rolling back the others, a restarted node.
#include "redis/clusterslots.h"
#include "redis/redisclusterwindowstore.h"
#include "services.h"
#include "storetesting.h"
#include "windowkey.h"

#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QtTest>

using namespace sluice;
using test::checkAndWait;

namespace {

bool waitForSlots(RedisClusterWindowStore &store)
{
    QElapsedTimer t;
    t.start();
    while (store.topology().slotsKnown() < kClusterSlots && t.elapsed() < 5000)
        QTest::qWait(10);
    return store.topology().slotsKnown() == kClusterSlots;
}

QString unique() { return QString::number(QRandomGenerator::global()->generate64(), 36); }

} // namespace

class TestRedisClusterStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void slotsMatchTheCluster()
    {
        QCOMPARE(clusterSlot("123456789"), int(0x31C3 % 16384)); // the CRC16/XMODEM check value
        QCOMPARE(clusterSlot("{user1000}.following"), clusterSlot("{user1000}.followers"));
        // The hash-tag rules of the Redis Cluster spec, each against an independent computation:
        // an empty first tag hashes the whole key (not "bar" of the second tag) …
        QCOMPARE(clusterSlot("foo{}{bar}"), int(crc16Xmodem("foo{}{bar}", 10) % 16384));
        QVERIFY(clusterSlot("foo{}{bar}") != clusterSlot("bar"));
        // … only the first tag counts, and a tag ends at the first '}'.
        QCOMPARE(clusterSlot("foo{bar}{zap}"), int(crc16Xmodem("bar", 3) % 16384));
        QCOMPARE(clusterSlot("foo{{bar}}zap"), int(crc16Xmodem("{bar", 4) % 16384));
        QCOMPARE(clusterSlot("foo{bar"), int(crc16Xmodem("foo{bar", 7) % 16384)); // unclosed: the whole key
        test::RedisCluster cluster;
        QString error;
        SLUICE_REQUIRE_SERVICE(cluster.start(&error), error);
        for (const QByteArray &key : {windowKey(Scope::Global), windowKey(Scope::Tenant, QStringLiteral("a:b{c}")),
                                      windowKey(Scope::UserModel, QStringLiteral("ü"), QStringLiteral("gpt-4o")),
                                      QByteArray("plain-key"), QByteArray("foo{}{bar}"), QByteArray("foo{bar}{zap}"),
                                      QByteArray("foo{{bar}}zap"), QByteArray("foo{bar")})
            QCOMPARE(cluster.cli(cluster.ports().first(), {QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"), QString::fromUtf8(key)}).toInt(),
                     clusterSlot(key));
    }

    void refusalRollsBackTheOtherGroups()
    {
        test::RedisCluster cluster;
        QString error;
        SLUICE_REQUIRE_SERVICE(cluster.start(&error), error);
        RedisClusterWindowStore store(cluster.seeds().split(QLatin1Char(',')), 1000);
        QVERIFY(waitForSlots(store));
        const QString id = unique();
        // Three keys in three slots; the last one has room for one request only.
        WindowBatch batch;
        batch.keys = {{windowKey(Scope::Tenant, id + QStringLiteral("a")), 60'000'000, 10},
                      {windowKey(Scope::Model, id + QStringLiteral("b")), 60'000'000, 10},
                      {windowKey(Scope::ModelTier, id + QStringLiteral("c")), 60'000'000, 1}};
        QVERIFY(clusterSlot(batch.keys[0].key) != clusterSlot(batch.keys[2].key));
        QVERIFY(checkAndWait(store, batch).admitted);
        for (int i = 0; i < 5; ++i) {
            const WindowOutcome o = checkAndWait(store, batch);
            QCOMPARE(o.status, WindowOutcome::Status::Ok);
            QVERIFY(!o.admitted);
        }
        // The reservations made on a and b were taken back: one entry each.
        QTRY_COMPARE_WITH_TIMEOUT(cluster.cli(cluster.ports().first(), {QStringLiteral("LLEN"), QString::fromUtf8(batch.keys[0].key)}),
                                  QByteArray("1"), 2000);
        QCOMPARE(cluster.cli(cluster.ports().first(), {QStringLiteral("LLEN"), QString::fromUtf8(batch.keys[1].key)}), QByteArray("1"));
        QCOMPARE(cluster.cli(cluster.ports().first(), {QStringLiteral("LLEN"), QString::fromUtf8(batch.keys[2].key)}), QByteArray("1"));
    }

    void movedIsFollowed()
    {
        test::RedisCluster cluster;
        QString error;
        SLUICE_REQUIRE_SERVICE(cluster.start(&error), error);
        RedisClusterWindowStore store(cluster.seeds().split(QLatin1Char(',')), 1000);
        QVERIFY(waitForSlots(store));
        // Pretend everything lives on the first node: two thirds of the keys answer MOVED.
        store.topology().mapAllSlotsTo(QStringLiteral("127.0.0.1"), cluster.ports().first());
        const QString id = unique();
        for (int i = 0; i < 12; ++i) {
            WindowBatch batch;
            batch.keys = {{windowKey(Scope::Tenant, id + QString::number(i)), 60'000'000, 5}};
            const WindowOutcome o = checkAndWait(store, batch);
            QCOMPARE(o.status, WindowOutcome::Status::Ok);
            QVERIFY(o.admitted);
        }
        QTRY_COMPARE_WITH_TIMEOUT(store.topology().slotsKnown(), kClusterSlots, 3000);
        QCOMPARE(store.health().value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
    }

    void restartedNodeIsFoundAgain()
    {
        test::RedisCluster cluster(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(cluster.start(&error), error);
        RedisClusterWindowStore store(cluster.seeds().split(QLatin1Char(',')), 200);
        QVERIFY(waitForSlots(store));
        const quint16 victim = cluster.ports().at(1);
        // A key served by the victim node.
        QByteArray key;
        for (int i = 0; key.isEmpty() && i < 1000; ++i) {
            const QByteArray k = windowKey(Scope::Tenant, QStringLiteral("restart-%1").arg(i));
            // Asked directly, a node answers for its own slots and MOVED for the others.
            const QByteArray reply = cluster.cli(victim, {QStringLiteral("EXISTS"), QString::fromUtf8(k)}, false);
            if (reply == "0" || reply == "1")
                key = k;
        }
        QVERIFY(!key.isEmpty());
        WindowBatch batch;
        batch.keys = {{key, 60'000'000, 100}};
        QVERIFY(checkAndWait(store, batch).admitted);
        QVERIFY(cluster.stopNode(victim));
        QCOMPARE(checkAndWait(store, batch).status, WindowOutcome::Status::Unavailable);
        QVERIFY(cluster.startNode(victim));
        QTRY_VERIFY_WITH_TIMEOUT(checkAndWait(store, batch).status == WindowOutcome::Status::Ok, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(store.health().value(QStringLiteral("status")).toString(), QStringLiteral("ok"), 10000);
    }
};

QTEST_GUILESS_MAIN(TestRedisClusterStore)
#include "tst_redisclusterstore.moc"
