// SPDX-License-Identifier: Apache-2.0
// The interpreter of the cross-store table (tests/tst_windowstores.cpp): a script of steps run
// against any WindowStore, so that memory, Redis and Redis Cluster are held to the same semantics,
// every window kind (server/engine/windowkind.h) on every store. Header-only: the support library
// does not link the server; the store tests do.
//
// A script is a list of steps over a batch of keys ("keys=<key>,<key>,…"), a key being
//   <limit>/<window ms>      requests (each entry weighs 1)
//   <limit>/<window ms>t     tokens (weighs `cost`, reweighable)
//   <limit>/c                concurrent (a lease)
//   <limit>/<window ms>b<burst>[t]   a token bucket of that capacity refilled at limit per window
//                            (with t: of tokens)
//   …s                       (at the end) a shadow key: never refuses, written only where it fits
// Steps:
//   +      a check over the batch is admitted          -      it is refused
//   +N/-N  N such checks                                aN     advance the clock N ms
//   cost=N weight of the next checks (only on token keys when some key is one)
//   only=I the next checks use key I alone              all    every key again
//   used=I:N   the last check saw N used on key I
//   retry=I:N  key I's oldest counted entry leaves its window in N ms (±tolerance)
//   drip=I:N   bucket key I has room for the refused request in N ms (±tolerance)
//   usage=I:N  the store's usage() reports N used on key I (a look at the key, nothing written)
//   look+ / look-   a look without charging (CheckService::peek, gRPC hits_addend 0): every key
//              that is not a shadow is within its limit now (window::fits at weight 0), or not
// Units and the request lifecycle (design §10): admitted checks that reserve are numbered from 0:
//   lease=N   leases live N ms        complete=K[:T]  reservation K completes (with T tokens)
//   extend=K  renews K's leases       again=K  completing K again says "already completed"
//   gone=K    K is unknown or expired (a completion is not found)
#pragma once

#include "engine/clock.h"
#include "engine/windowrules.h"
#include "engine/windowstore.h"
#include "storetesting.h"
#include "unit.h"
#include "windowkey.h"

#include <QStringList>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <memory>

namespace sluice::test {

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

    WindowOutcome check(const WindowBatch &batch) { return checkAndWait(*store, batch); }
};

// Sends every check among others, so that the Redis stores decide it inside a batch: two before it
// (the first goes alone and holds the connection or slot), two after it (queued with it). The others
// use keys of their own beside each key of the check (same hash tag: same Cluster slot).
class CrowdedStore final : public WindowStore
{
public:
    explicit CrowdedStore(std::unique_ptr<WindowStore> inner) : m_inner(std::move(inner)) {}
    void check(const WindowBatch &batch, CheckCallback done) override
    {
        auto crowd = [this, &batch] {
            WindowBatch other;
            for (const WindowSpec &s : batch.keys)
                other.keys.push_back({s.key + ":crowd" + QByteArray::number(++m_crowd), 60'000'000, 1'000'000});
            m_inner->check(other, [](WindowOutcome) {});
        };
        crowd();
        crowd();
        m_inner->check(batch, std::move(done));
        crowd();
        crowd();
    }
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override { m_inner->usage(keys, std::move(done)); }
    void complete(const QString &id, std::optional<qint64> tokens, ReservationCallback done) override
    {
        m_inner->complete(id, tokens, std::move(done));
    }
    void extend(const QString &id, qint64 leaseUs, ReservationCallback done) override { m_inner->extend(id, leaseUs, std::move(done)); }
    void reset(const QByteArray &key, DoneCallback done) override { m_inner->reset(key, std::move(done)); }
    QString source() const override { return m_inner->source(); }

private:
    std::unique_ptr<WindowStore> m_inner;
    qint64 m_crowd = 0;
};

// One key of a script ("10/1000b3t", "2/c", …) as a policy makes it: kind, window, limit, burst,
// and the key its scope and kind give it (window::specFor's suffixes).
inline WindowSpec scriptKey(const QString &text, const QString &prefix, int index)
{
    const QStringList lw = text.split(QLatin1Char('/'));
    QString window = lw.value(1);
    PolicyDto p;
    p.scope = Scope::Tenant;
    p.limit = lw.value(0).toLongLong();
    p.shadow = window.endsWith(QLatin1Char('s'));
    if (p.shadow)
        window.chop(1);
    if (window.endsWith(QLatin1Char('t'))) {
        p.unit = Unit::Tokens;
        window.chop(1);
    }
    const qsizetype b = window.indexOf(QLatin1Char('b'));
    if (b > 0) {
        p.algorithm = Algorithm::TokenBucket;
        p.burst = window.mid(b + 1).toLongLong();
        window = window.left(b);
    }
    if (window == QStringLiteral("c")) {
        p.unit = Unit::Concurrent;
        p.windowSeconds = 0;
    }
    WindowSpec spec = window::specFor(p, windowKey(Scope::Tenant, prefix, QString::number(index)));
    if (p.unit != Unit::Concurrent)
        spec.windowUs = window.toLongLong() * 1000; // (milliseconds: finer than a policy's seconds)
    return spec;
}

// Runs one script; a failed step fails the test (QTest), so the caller checks QTest::currentTestFailed().
inline void runWindowScript(StoreUnderTest &s, const QString &script, const QString &prefix)
{
    std::vector<WindowSpec> keys;
    int only = -1; // -1: every key
    qint64 cost = 1;
    qint64 leaseMs = 600000;
    QStringList reservations; // ids of admitted checks that reserved, in order
    auto anyTokens = [](const std::vector<WindowSpec> &ks) {
        return std::any_of(ks.begin(), ks.end(), [](const WindowSpec &k) { return k.reweighable(); });
    };
    auto batchNow = [&] {
        WindowBatch batch;
        batch.leaseUs = leaseMs * 1000;
        if (only >= 0)
            batch.keys.push_back(keys[static_cast<size_t>(only)]);
        else
            batch.keys = keys;
        for (WindowSpec &spec : batch.keys)
            spec.weight = spec.isLease() ? 1 : spec.reweighable() || !anyTokens(keys) ? cost : 1;
        return batch;
    };
    auto usageNow = [&](const std::vector<WindowSpec> &specs) {
        auto result = std::make_shared<std::optional<std::vector<KeyUsage>>>(); // (see checkAndWait)
        s.store->usage(specs, [result](bool ok, std::vector<KeyUsage> u) { *result = ok ? std::move(u) : std::vector<KeyUsage>(); });
        QElapsedTimer t;
        t.start();
        while (!*result && t.elapsed() < 5000)
            QTest::qWait(1);
        return result->value_or(std::vector<KeyUsage>());
    };
    WindowOutcome last;
    for (const QString &step : script.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
        if (step.startsWith(QStringLiteral("keys="))) {
            int i = 0;
            for (const QString &k : step.mid(5).split(QLatin1Char(',')))
                keys.push_back(scriptKey(k, prefix, i++));
        } else if (step.startsWith(QLatin1Char('+')) || step.startsWith(QLatin1Char('-'))) {
            const bool expectAdmitted = step.startsWith(QLatin1Char('+'));
            const int n = step.size() > 1 ? step.mid(1).toInt() : 1;
            for (int i = 0; i < n; ++i) {
                const WindowBatch batch = batchNow();
                last = s.check(batch);
                QCOMPARE(last.status, WindowOutcome::Status::Ok);
                QCOMPARE(!last.reservationId.isEmpty(), last.admitted && batch.reserves());
                if (!last.reservationId.isEmpty())
                    reservations << last.reservationId;
                QVERIFY2(last.admitted == expectAdmitted,
                         qPrintable(QStringLiteral("step %1 (#%2): expected %3").arg(step).arg(i + 1)
                                        .arg(expectAdmitted ? QStringLiteral("admitted") : QStringLiteral("refused"))));
                QCOMPARE(last.keys.size(), batch.keys.size());
                // The store's judgement per key is the rules' on what it reports.
                for (size_t k = 0; k < batch.keys.size(); ++k)
                    QVERIFY2(last.keys[k].fits == window::fits(batch.keys[k], last.keys[k]),
                             qPrintable(QStringLiteral("step %1: key %2 fits %3, the rules say otherwise").arg(step).arg(k).arg(last.keys[k].fits)));
            }
        } else if (step.startsWith(QLatin1Char('a'))) {
            s.advanceMs(step.mid(1).toLongLong());
        } else if (step.startsWith(QStringLiteral("drip="))) {
            const QStringList iv = step.mid(5).split(QLatin1Char(':'));
            const size_t i = iv[0].toULongLong();
            WindowSpec spec = keys[i];
            spec.weight = batchNow().keys.at(only >= 0 ? 0 : i).weight;
            const KeyState &k = last.keys.at(only >= 0 ? 0 : i);
            const double waitMs = static_cast<double>(window::waitUs(spec, k, last.nowUs)) / 1000.0;
            QVERIFY2(std::abs(waitMs - iv[1].toDouble()) <= std::max<qint64>(1, s.toleranceMs),
                     qPrintable(QStringLiteral("room in %1 ms, expected %2").arg(waitMs).arg(iv[1])));
        } else if (step.startsWith(QStringLiteral("lease="))) {
            leaseMs = step.mid(6).toLongLong();
        } else if (step.startsWith(QStringLiteral("complete=")) || step.startsWith(QStringLiteral("again="))
                   || step.startsWith(QStringLiteral("extend=")) || step.startsWith(QStringLiteral("gone="))) {
            const QString verb = step.section(QLatin1Char('='), 0, 0);
            const QStringList kt = step.section(QLatin1Char('='), 1).split(QLatin1Char(':'));
            const QString id = reservations.value(kt[0].toInt());
            QVERIFY2(!id.isEmpty(), qPrintable(QStringLiteral("step %1: no such reservation").arg(step)));
            const std::optional<qint64> tokens = kt.size() > 1 ? std::optional<qint64>(kt[1].toLongLong()) : std::nullopt;
            const bool extend = verb == QStringLiteral("extend");
            const ReservationOutcome o = reservationAndWait(*s.store, id, tokens, extend, leaseMs * 1000);
            const ReservationOutcome::Status expected = verb == QStringLiteral("again") ? ReservationOutcome::Status::AlreadyCompleted
                                                      : verb == QStringLiteral("gone")  ? ReservationOutcome::Status::NotFound
                                                                                        : ReservationOutcome::Status::Done;
            QVERIFY2(o.status == expected, qPrintable(QStringLiteral("step %1: status %2 (%3)").arg(step).arg(int(o.status)).arg(o.error)));
            if (extend)
                QCOMPARE(o.leaseExpiresInUs / 1000 <= leaseMs && o.leaseExpiresInUs / 1000 >= leaseMs - 100, true);
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
            QVERIFY2(std::abs(leavesInMs - iv[1].toLongLong()) <= s.toleranceMs,
                     qPrintable(QStringLiteral("leaves in %1 ms, expected %2").arg(leavesInMs).arg(iv[1])));
        } else if (step.startsWith(QStringLiteral("usage="))) {
            const QStringList iv = step.mid(6).split(QLatin1Char(':'));
            const std::vector<KeyUsage> u = usageNow(keys);
            QCOMPARE(u.size(), keys.size());
            QCOMPARE(u.at(iv[0].toULongLong()).used, iv[1].toLongLong());
        } else if (step == QStringLiteral("look+") || step == QStringLiteral("look-")) {
            std::vector<WindowSpec> looked = batchNow().keys;
            const std::vector<KeyUsage> u = usageNow(looked);
            QCOMPARE(u.size(), looked.size());
            bool within = true;
            for (size_t k = 0; k < looked.size(); ++k) {
                looked[k].weight = 0;
                within = within && (looked[k].shadow || window::fits(looked[k], KeyState{u[k].used, u[k].oldestUs}));
            }
            QVERIFY2(within == (step == QStringLiteral("look+")), qPrintable(QStringLiteral("step %1").arg(step)));
        } else {
            QFAIL(qPrintable(QStringLiteral("bad step %1").arg(step)));
        }
    }
}

} // namespace sluice::test
