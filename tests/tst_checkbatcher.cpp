// SPDX-License-Identifier: Apache-2.0
// Checks batched into window_check.lua calls (CheckBatcher, through the Redis store, against a real
// redis-server): the checks of one turn go as one call, each seeing those before it; the call's
// table of keys, its largest size, the two forms a check is written in, kind codes, what the
// batcher refuses at once, and the two calls that may be in flight.
#include "redis/rediswindowstore.h"
#include "redis/redisscripts.h"
#include "services.h"
#include "storetesting.h"

#include <QtTest>

#include <algorithm>
#include <optional>

using namespace sluice;
using test::checkAndWait;
using test::uniqueKey;

namespace {

// The batches checked in one turn of the event loop (the batcher may send them as one call):
// their outcomes in order once every one came (none if not all came within 5 s), and *calls the
// script calls they took.
std::vector<WindowOutcome> checkInOneTurn(RedisWindowStore &store, const std::vector<WindowBatch> &batches, qint64 *calls)
{
    const qint64 before = store.batcher().calls();
    auto got = std::make_shared<std::vector<std::optional<WindowOutcome>>>(batches.size()); // (a late answer finds it)
    for (size_t i = 0; i < batches.size(); ++i)
        store.check(batches[i], [got, i](WindowOutcome o) { (*got)[i] = std::move(o); });
    const bool all = QTest::qWaitFor([&got] { return std::all_of(got->begin(), got->end(), [](const auto &o) { return o.has_value(); }); }, 5000);
    *calls = store.batcher().calls() - before;
    std::vector<WindowOutcome> out;
    if (!all)
        return out;
    for (std::optional<WindowOutcome> &o : *got)
        out.push_back(std::move(*o));
    return out;
}

// Submits `item` to a batcher that counts what it sends: the error the check was refused with at
// once, after verifying that nothing was sent or left waiting (empty: it was not refused).
QString refusedAtOnce(CheckBatcher::Item item)
{
    int sent = 0;
    CheckBatcher batcher([&sent](const QByteArray &, CheckBatcher::SendCallback, CheckBatcher::SendCallback) { ++sent; });
    std::optional<CheckBatcher::Result> result;
    item.done = [&result](CheckBatcher::Result r) { result = std::move(r); };
    batcher.submit(std::move(item));
    QCoreApplication::sendPostedEvents();
    if (!result || sent != 0 || batcher.queued() != 0)
        return QString();
    return result->error;
}

} // namespace

class TestCheckBatcher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // The checks handled in one turn of the event loop go to Redis as one call (before, the first
    // two went alone because two calls may be in flight: three calls for these ten), in order.
    void checksOfOneTurnGoAsOneCall()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        const QByteArray shared = uniqueKey("turn");
        const qint64 callsBefore = store.batcher().calls();
        std::vector<qint64> counts;
        int refused = 0;
        for (int i = 0; i < 10; ++i) {
            WindowBatch batch;
            batch.keys = {{shared, 60'000'000, 100}, {uniqueKey("turn-own"), 60'000'000, 100}};
            store.check(batch, [&](WindowOutcome o) {
                refused += o.admitted ? 0 : 1;
                counts.push_back(o.keys.empty() ? -1 : o.keys.at(0).used);
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(counts.size(), size_t(10), 5000);
        QCOMPARE(refused, 0);
        QCOMPARE(store.batcher().calls() - callsBefore, qint64(1));
        for (size_t i = 0; i < counts.size(); ++i)
            QCOMPARE(counts[i], qint64(i)); // each saw the entries of those before it
    }

    // A call of many distinct keys (its table of keys grows twice while the checks are taken):
    // every key is found again where it was, the shared one once, each check's own ones apart.
    void aCallOfManyKeys()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        const QByteArray shared = uniqueKey("many");
        std::vector<WindowBatch> batches(40);
        std::vector<QByteArray> own;
        for (size_t i = 0; i < batches.size(); ++i) {
            own.push_back(uniqueKey("many-own"));
            batches[i].keys = {{own.back(), 60'000'000, 10}, {shared, 60'000'000, 100}, {uniqueKey("many-other"), 60'000'000, 10}};
            if (i > 0)
                batches[i].keys.push_back({own[i - 1], 60'000'000, 10}); // the previous check's own key
        }
        qint64 calls = 0;
        const std::vector<WindowOutcome> outcomes = checkInOneTurn(store, batches, &calls);
        QCOMPARE(outcomes.size(), batches.size());
        QCOMPARE(calls, qint64(1));
        for (size_t i = 0; i < outcomes.size(); ++i) {
            const WindowOutcome &o = outcomes[i];
            QVERIFY(o.status == WindowOutcome::Status::Ok && o.admitted);
            QCOMPARE(o.keys.at(0).used, qint64(0));
            QCOMPARE(o.keys.at(1).used, qint64(i)); // the shared key, in order
            QCOMPARE(o.keys.at(2).used, qint64(0));
            if (i > 0)
                QCOMPARE(o.keys.at(3).used, qint64(1)); // the previous check's entry in its own key
        }
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(shared)}), QByteArray("40"));
        QCOMPARE(redis.cli({QStringLiteral("LLEN"), QString::fromUtf8(own.front())}), QByteArray("2"));
    }

    // The script makes its reply at full size at once up to 4,000 elements (Lua's unpack limit)
    // and grows it past that: the largest call the batch limit allows (--redis-batch 1000) of
    // checks with every key a check may have is answered whole, each check in order.
    void theLargestCallIsAnsweredWhole()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 5000);
        store.setBatchLimit(1000);
        QVERIFY(test::waitConnected(store.connection()));
        std::vector<QByteArray> shared;
        for (size_t k = 0; k < kMaxKeysPerCheck; ++k)
            shared.push_back(uniqueKey("largest"));
        std::vector<WindowBatch> batches(1000);
        for (size_t i = 0; i < batches.size(); ++i) {
            for (size_t k = 0; k < kMaxKeysPerCheck; ++k)
                batches[i].keys.push_back({shared[k], 60'000'000, 10'000});
            batches[i].keys[i % kMaxKeysPerCheck].weight = 3; // (a weight of its own: two arguments)
        }
        qint64 calls = 0;
        const std::vector<WindowOutcome> outcomes = checkInOneTurn(store, batches, &calls);
        QCOMPARE(outcomes.size(), batches.size());
        QCOMPARE(calls, qint64(1)); // 1 + 1,000 + 2 * 18,000 elements in its reply
        std::vector<qint64> used(kMaxKeysPerCheck, 0);
        for (size_t i = 0; i < outcomes.size(); ++i) {
            QVERIFY(outcomes[i].status == WindowOutcome::Status::Ok && outcomes[i].admitted);
            for (size_t k = 0; k < kMaxKeysPerCheck; ++k) {
                QCOMPARE(outcomes[i].keys.at(k).used, used[k]);
                used[k] += batches[i].keys[k].weight;
            }
        }
    }

    // A check is told to the script by its key count alone, unless it has a lease key or a
    // reservation record: then its id, lease time and record follow. Checks of both forms, in
    // one call, each get what is theirs: the plain ones their counts, the lease its member (its
    // reservation id) scored by its expiry, the tokens check its record naming its keys.
    void plainAndReservingChecksShareOneCall()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        const QByteArray shared = uniqueKey("forms");
        WindowSpec lease{uniqueKey("forms") + ":concurrent", 60'000'000, 5};
        lease.kind = WindowKind::Leases;
        WindowSpec tokens{uniqueKey("forms") + ":tokens", 60'000'000, 1000};
        tokens.kind = WindowKind::TokenLog;
        tokens.weight = 250;
        std::vector<WindowBatch> batches(5);
        batches[0].keys = {{shared, 60'000'000, 100}};
        batches[1].keys = {{shared, 60'000'000, 100}, lease};
        batches[1].leaseUs = 30'000'000;
        batches[2].keys = {{shared, 60'000'000, 100}};
        batches[3].keys = {{shared, 60'000'000, 100}, tokens};
        batches[3].leaseUs = 30'000'000;
        batches[4].keys = {{shared, 60'000'000, 100}, lease};
        batches[4].leaseUs = 30'000'000;
        qint64 calls = 0;
        const std::vector<WindowOutcome> outcomes = checkInOneTurn(store, batches, &calls);
        QCOMPARE(outcomes.size(), batches.size());
        QCOMPARE(calls, qint64(1));
        for (size_t i = 0; i < outcomes.size(); ++i) {
            QVERIFY2(outcomes[i].status == WindowOutcome::Status::Ok && outcomes[i].admitted, qPrintable(QString::number(i)));
            QCOMPARE(outcomes[i].keys.at(0).used, qint64(i)); // the shared key, in order
        }
        QVERIFY(outcomes[0].reservationId.isEmpty());
        QVERIFY(outcomes[2].reservationId.isEmpty());
        QCOMPARE(outcomes[4].keys.at(1).used, qint64(1)); // the first lease counted
        // The leases: members are the two checks' reservation ids, scored by their expiries.
        const QString leaseKey = QString::fromUtf8(lease.key);
        const QByteArray members = redis.cli({QStringLiteral("ZRANGE"), leaseKey, QStringLiteral("0"), QStringLiteral("-1")});
        QVERIFY2(members.contains(outcomes[1].reservationId.toUtf8()) && members.contains(outcomes[4].reservationId.toUtf8()),
                 members.constData());
        const qint64 expiry = redis.cli({QStringLiteral("ZSCORE"), leaseKey, outcomes[1].reservationId}).toLongLong();
        QCOMPARE(expiry, outcomes[1].leaseExpiresUs);
        // The tokens check: its entry of 250 and its record naming both its keys.
        QCOMPARE(redis.cli({QStringLiteral("GET"), QString::fromUtf8(tokens.key + "#w")}), QByteArray("249"));
        const QByteArray record = redis.cli({QStringLiteral("HGET"), QString::fromUtf8(reservationKey(outcomes[3].reservationId.toUtf8())),
                                             QStringLiteral("keys")});
        QVERIFY2(record.contains(tokens.key) && record.contains(shared), record.constData());
    }

    // The script tells a log from its whole kind code ('r', 't', 'r!', 't!') when it asks whether
    // any log of the call holds weighted entries: a burst is written for buckets only, so a log's
    // spec that carries one (a bucket's capacity left on it) still has its extra weight counted.
    void aLogsExtraWeightCountsWhateverItsSpecCarries()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        QVERIFY(test::waitConnected(store.connection()));
        for (const bool shadow : {false, true}) {
            WindowBatch batch;
            WindowSpec tokens{uniqueKey("burst-on-a-log") + ":tokens", 60'000'000, 1000};
            tokens.kind = WindowKind::TokenLog;
            tokens.weight = 250;
            tokens.burst = 7;
            tokens.shadow = shadow;
            batch.keys = {tokens};
            for (qint64 used : {0, 250, 500}) {
                qint64 calls = 0;
                const std::vector<WindowOutcome> outcomes = checkInOneTurn(store, {batch}, &calls);
                QCOMPARE(outcomes.size(), size_t(1));
                QVERIFY(outcomes[0].status == WindowOutcome::Status::Ok && outcomes[0].admitted);
                QCOMPARE(outcomes[0].keys.at(0).used, used);
            }
        }
        // And the script refuses a log's code with a burst (its extra weight would go unread).
        std::optional<RedisResult> refused;
        store.connection().command({"EVAL", RedisScript::check().source, "1", uniqueKey("burst-on-a-log"), "1", "1", "1000000",
                                    "60000000", "100", "r7", "1", "1"},
                                   [&refused](const RedisResult &r) { refused = r; });
        QTRY_VERIFY_WITH_TIMEOUT(refused.has_value(), 5000);
        QVERIFY2(refused->ok && refused->reply.isError() && refused->reply.str.contains("a burst for a key of kind r"),
                 refused->reply.str.constData());
    }

    // The key count is what tells the script that a check's id and record follow: a record for a
    // check of no keys is refused at once, and nothing is sent.
    void aRecordWithoutKeysIsRefused()
    {
        CheckBatcher::Item item;
        item.id = "no-keys";
        item.recordKey = reservationKey(item.id);
        QCOMPARE(refusedAtOnce(std::move(item)), QStringLiteral("a reservation record for a check of no keys"));
    }

    // A check's id is what names its leases (their sorted set's members): a check with a lease key
    // or a record but no id is refused at once, and nothing is sent. (The stores give one to every
    // check that reserves; one that reserves nothing needs none.)
    void aLeaseWithoutAnIdIsRefused()
    {
        WindowSpec lease{uniqueKey("no-id") + ":concurrent", 0, 5};
        lease.kind = WindowKind::Leases;
        CheckBatcher::Item item;
        item.specs = {lease};
        item.leaseUs = 30'000'000;
        QCOMPARE(refusedAtOnce(std::move(item)), QStringLiteral("a check with a lease key or a record but no id"));
    }

    // More checks in one turn than a call takes: the two calls that may be in flight go out
    // together (the first version of batching by turn sent one and let the rest wait for its reply).
    void aTurnOverTheBatchLimitFillsBothCalls()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore store(redis.host(), redis.port(), 0, 1000);
        store.setBatchLimit(4);
        QVERIFY(test::waitConnected(store.connection()));
        const qint64 callsBefore = store.batcher().calls();
        int answered = 0;
        for (int i = 0; i < 8; ++i) {
            WindowBatch batch;
            batch.keys = {{uniqueKey("fill"), 60'000'000, 100}};
            store.check(batch, [&](WindowOutcome) { ++answered; });
        }
        QCoreApplication::sendPostedEvents(); // the batcher's flush, and nothing from the sockets yet
        QCOMPARE(store.batcher().calls() - callsBefore, qint64(2));
        QCOMPARE(store.connection().inFlight(), 2);
        QTRY_COMPARE_WITH_TIMEOUT(answered, 8, 5000);
        QCOMPARE(store.batcher().calls() - callsBefore, qint64(2));
    }
};

QTEST_GUILESS_MAIN(TestCheckBatcher)
#include "tst_checkbatcher.moc"
