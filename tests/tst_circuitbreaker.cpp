// SPDX-License-Identifier: Apache-2.0
// The circuit breaker with a driven clock, and the failure modes over a store that fails on
// command: open after the threshold, half-open after the interval (doubling while probes fail),
// one probe at a time, and usage/reset calls that never take the probe (the defect that left the
// breaker half-open forever while a live chart polled usage).
#include "failover/circuitbreaker.h"
#include "failover/resilientwindowstore.h"

#include <QtTest>

using namespace sluice;

namespace {

// A remote store that answers at once, Ok or Unavailable as told; counts the calls it gets.
class ScriptedStore final : public WindowStore
{
public:
    bool up = true;
    int checks = 0, usages = 0, resets = 0, completes = 0;
    void check(const WindowBatch &batch, CheckCallback done) override
    {
        ++checks;
        WindowOutcome o;
        o.source = QStringLiteral("redis");
        if (!up) {
            o.status = WindowOutcome::Status::Unavailable;
            o.error = QStringLiteral("down");
        } else {
            o.admitted = true;
            o.keys.resize(batch.keys.size());
        }
        done(o);
    }
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override
    {
        ++usages;
        done(up, up ? std::vector<KeyUsage>(keys.size()) : std::vector<KeyUsage>());
    }
    void reset(const QByteArray &, DoneCallback done) override
    {
        ++resets;
        done(up);
    }
    void complete(const QString &, std::optional<qint64>, ReservationCallback done) override
    {
        ++completes;
        done({up ? ReservationOutcome::Status::Done : ReservationOutcome::Status::Unavailable, {}, 0});
    }
    void extend(const QString &, qint64 leaseUs, ReservationCallback done) override
    {
        done({up ? ReservationOutcome::Status::Done : ReservationOutcome::Status::Unavailable, {}, leaseUs});
    }
    QString source() const override { return QStringLiteral("redis"); }
};

// The local fallback: admits and says so.
class LocalStore final : public WindowStore
{
public:
    qint64 lastLimit = -1;
    QStringList completed;
    void check(const WindowBatch &batch, CheckCallback done) override
    {
        WindowOutcome o;
        o.admitted = true;
        o.keys.resize(batch.keys.size());
        lastLimit = batch.keys.empty() ? -1 : batch.keys.front().limit;
        done(o);
    }
    void usage(const std::vector<WindowSpec> &, UsageCallback done) override { done(true, {}); }
    void reset(const QByteArray &, DoneCallback done) override { done(true); }
    void complete(const QString &id, std::optional<qint64>, ReservationCallback done) override
    {
        completed << id;
        done({ReservationOutcome::Status::Done, {}, 0});
    }
    void extend(const QString &, qint64, ReservationCallback done) override { done({ReservationOutcome::Status::NotFound, {}, 0}); }
    QString source() const override { return QStringLiteral("memory"); }
};

WindowBatch oneKey(qint64 limit = 10)
{
    WindowBatch b;
    b.keys.push_back({QByteArrayLiteral("sluice:{global}"), 1'000'000, limit});
    return b;
}

} // namespace

class TestCircuitBreaker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void opensAfterThresholdAndProbesOnce()
    {
        CircuitBreaker b(3, 1000, 8000);
        for (int i = 0; i < 2; ++i) {
            QVERIFY(b.allow(0));
            b.recordFailure(0);
            QCOMPARE(b.state(0), CircuitBreaker::State::Closed);
        }
        QVERIFY(b.allow(0));
        b.recordFailure(0);
        QCOMPARE(b.state(0), CircuitBreaker::State::Open);
        QCOMPARE(b.opens(), qint64(1));
        QVERIFY(!b.allow(999));
        QCOMPARE(b.state(1000), CircuitBreaker::State::HalfOpen);
        QVERIFY(b.allow(1000));  // the one probe
        QVERIFY(!b.allow(1001)); // nobody else while it is out
        b.recordSuccess();
        QCOMPARE(b.state(1001), CircuitBreaker::State::Closed);
        QCOMPARE(b.consecutiveFailures(), 0);
    }

    void failedProbesDoubleTheIntervalUpToTheCap()
    {
        CircuitBreaker b(1, 1000, 3000);
        b.recordFailure(0);
        qint64 now = 0;
        for (qint64 expected : {1000, 2000, 3000, 3000}) {
            QVERIFY(!b.allow(now + expected - 1));
            QVERIFY(b.allow(now + expected));
            now += expected;
            b.recordFailure(now);
            QCOMPARE(b.state(now), CircuitBreaker::State::Open);
        }
        QVERIFY(b.allow(now + 3000));
        b.recordSuccess();
        // Back to the base interval after a success.
        b.recordFailure(now + 3000);
        QVERIFY(!b.allow(now + 3999));
        QVERIFY(b.allow(now + 4000));
    }

    void failureModesAnswerAtOnce()
    {
        auto clock = std::make_shared<ManualClock>(0);
        auto remote = std::make_unique<ScriptedStore>();
        ScriptedStore *r = remote.get();
        auto local = std::make_shared<LocalStore>();
        ResilientWindowStore store(std::move(remote), FailureMode::Local, local, 4, CircuitBreaker(2, 1000, 30000), clock);
        r->up = false;
        QString source;
        for (int i = 0; i < 5; ++i)
            store.check(oneKey(10), [&](WindowOutcome o) { source = o.source; });
        QCOMPARE(source, QStringLiteral("local"));
        QCOMPARE(local->lastLimit, qint64(2)); // 10 / 4 instances, rounded down
        QCOMPARE(r->checks, 2);                // then the breaker refused at once
        QCOMPARE(store.fallbacks(), qint64(5));
        QCOMPARE(ResilientWindowStore::localLimit(3, 4), qint64(1));
        QCOMPARE(ResilientWindowStore::localLimit(0, 4), qint64(0));
    }

    // The defect: usage() took the half-open probe and never reported it, so every check after it
    // went to the failure mode forever although the remote was back.
    // A reservation made by the local fallback during an outage is completed there; one made by
    // the remote goes to the remote while the breaker is closed, and is refused (503) otherwise,
    // never taking the probe.
    void completionsGoToTheStoreThatReserved()
    {
        auto clock = std::make_shared<ManualClock>(0);
        auto remote = std::make_unique<ScriptedStore>();
        ScriptedStore *r = remote.get();
        auto local = std::make_shared<LocalStore>();
        ResilientWindowStore store(std::move(remote), FailureMode::Local, local, 1, CircuitBreaker(1, 1000, 30000), clock);
        ReservationOutcome::Status status{};
        store.complete(QStringLiteral("rAbc1"), 10, [&](ReservationOutcome o) { status = o.status; });
        QCOMPARE(status, ReservationOutcome::Status::Done);
        QCOMPARE(r->completes, 1);
        r->up = false;
        store.check(oneKey(), [](WindowOutcome) {}); // opens the breaker
        store.complete(QStringLiteral("mXyz2"), 10, [&](ReservationOutcome o) { status = o.status; });
        QCOMPARE(status, ReservationOutcome::Status::Done);
        QCOMPARE(local->completed, QStringList{QStringLiteral("mXyz2")});
        clock->advanceSeconds(1.5); // half-open: still no remote completion, and the probe stays for a check
        store.complete(QStringLiteral("rAbc2"), std::nullopt, [&](ReservationOutcome o) { status = o.status; });
        QCOMPARE(status, ReservationOutcome::Status::Unavailable);
        QCOMPARE(r->completes, 1);
        r->up = true; // the probe is still there for the next check
        QString source;
        store.check(oneKey(), [&](WindowOutcome o) { source = o.source; });
        QCOMPARE(source, QStringLiteral("redis"));
    }

    void usageNeverTakesTheProbe()
    {
        auto clock = std::make_shared<ManualClock>(0);
        auto remote = std::make_unique<ScriptedStore>();
        ScriptedStore *r = remote.get();
        ResilientWindowStore store(std::move(remote), FailureMode::Local, std::make_shared<LocalStore>(), 1,
                                   CircuitBreaker(1, 1000, 30000), clock);
        r->up = false;
        store.check(oneKey(), [](WindowOutcome) {});
        QCOMPARE(store.breaker().state(clock->nowUs() / 1000), CircuitBreaker::State::Open);
        r->up = true;
        clock->advanceSeconds(1.5); // half-open now
        bool usageOk = true;
        bool resetOk = true;
        for (int i = 0; i < 3; ++i) { // the live chart polls...
            store.usage({{QByteArrayLiteral("sluice:{global}"), 1'000'000, 10}}, [&](bool ok, std::vector<KeyUsage>) { usageOk = ok; });
            store.reset(QByteArrayLiteral("sluice:{global}"), [&](bool ok) { resetOk = ok; });
        }
        QVERIFY(!usageOk); // refused at once while not closed
        QVERIFY(!resetOk);
        QCOMPARE(r->usages, 0);
        // ...and the next check still gets the probe, succeeds, and closes the breaker.
        QString source;
        store.check(oneKey(), [&](WindowOutcome o) { source = o.source; });
        QCOMPARE(source, QStringLiteral("redis"));
        QCOMPARE(store.breaker().state(clock->nowUs() / 1000), CircuitBreaker::State::Closed);
        store.usage({{QByteArrayLiteral("sluice:{global}"), 1'000'000, 10}}, [&](bool ok, std::vector<KeyUsage>) { usageOk = ok; });
        QVERIFY(usageOk);
        QCOMPARE(r->usages, 1);
    }

    void failOpenAndFailClosed()
    {
        for (FailureMode mode : {FailureMode::FailOpen, FailureMode::FailClosed}) {
            auto remote = std::make_unique<ScriptedStore>();
            remote->up = false;
            ResilientWindowStore store(std::move(remote), mode, std::make_shared<LocalStore>(), 1, CircuitBreaker(),
                                       std::make_shared<ManualClock>(0));
            WindowOutcome got;
            store.check(oneKey(), [&](WindowOutcome o) { got = o; });
            if (mode == FailureMode::FailOpen) {
                QCOMPARE(got.source, QStringLiteral("fail-open"));
                QVERIFY(got.admitted);
            } else {
                QCOMPARE(got.status, WindowOutcome::Status::Unavailable);
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestCircuitBreaker)
#include "tst_circuitbreaker.moc"
