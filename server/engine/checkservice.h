// SPDX-License-Identifier: Apache-2.0
// The check: resolve the applicable policies, ask the window store (one call, all keys), and
// turn the store's answer into the Decision of design §2/§3 (primary policy, cause, reset and
// retry-after). One instance per server thread (not thread-safe); its store lives on that thread.
#pragma once

#include "engine/layer.h"

#include "checkrequest.h"
#include "decision.h"
#include "engine/metrics.h"
#include "engine/policyresolver.h"
#include "engine/poolboard.h"
#include "engine/topblocked.h"
#include "engine/usagehistory.h"
#include "engine/windowstore.h"

#include <functional>
#include <memory>

namespace sluice {

class CheckService
{
public:
    // error is set (503) when the store could not answer and the failure mode is fail-closed.
    using Callback = std::function<void(const ApiError *error, const Decision &decision)>;

    // topBlocked: this thread's own table (TopBlockedBoard::add()), or null.
    CheckService(std::shared_ptr<SnapshotHolder> snapshots, WindowStore *store, std::shared_ptr<Metrics> metrics,
                 std::shared_ptr<TopBlocked> topBlocked = nullptr);

    // Throws ApiError synchronously for a request the resolver rejects (400/401/403); otherwise
    // calls `done` exactly once, on this thread, possibly before returning.
    // door: which histogram the check's latency goes to (sluice_check_latency_seconds{door}).
    void check(const CheckRequest &request, const QString &headerApiKey, Callback done, Door door = Door::Http);

    // Looks without charging (the gRPC door's hits_addend of 0, Envoy's after-response pass): the
    // decision as if this request weighed nothing, from the store's usage. Writes nothing and
    // counts no decision. Throws like check(); a store that cannot answer is a 503.
    // dryRun: as if the request weighed what a check of it would (its cost): the answer the check
    // would get now (POST /admin/explain), still without writing or counting anything.
    void peek(const CheckRequest &request, const QString &headerApiKey, Callback done, bool dryRun = false);

    // The end of a request's lifecycle (design §10): complete (tokens: the actual count, absent
    // keeps the estimate) and extend, answered by the store that holds the reservation.
    using ReservationCallback = std::function<void(ReservationOutcome)>;
    void complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done);
    void extend(const QString &reservationId, ReservationCallback done);

    // Where this thread's decisions are folded into the usage history (UsageHistory::add()), or null.
    void setUsage(std::shared_ptr<UsageRecorder> usage) { m_usage = std::move(usage); }

    // The pools' live state (design §14): a saturated pool sheds sheddable callers, adaptive limits
    // follow its factor. Null: no pools (every limit static).
    void setPools(std::shared_ptr<PoolBoard> pools);

    // Pure: what the pool does to a resolved check — the pool's part of the decision, and (unless
    // it sheds the request) the adaptive policies' limits scaled in resolved.windows.
    static PoolDecision applyPool(ResolvedCheck &resolved, const QString &poolName, const PoolState &state);
    // The answer to a shed request: refused by no policy, the pool and its signal in the cause.
    static Decision shedDecision(const ResolvedCheck &resolved, const PoolDecision &pool, const PoolState &state,
                                 const PoolRow &thresholds);

    // How long leases and reservations live unless extended (--lease-seconds).
    void setLeaseSeconds(qint64 seconds) { m_leaseUs = seconds * 1000000; }
    qint64 leaseSeconds() const { return m_leaseUs / 1000000; }

    // Pure: the decision for a resolved check and the store's outcome.
    static Decision decide(const ResolvedCheck &resolved, const WindowOutcome &outcome);

    WindowStore *store() const { return m_store; }
    const std::shared_ptr<SnapshotHolder> &snapshots() const { return m_snapshots; }

private:
    // The counter handles of the snapshot's policies (index = PolicySnapshot::policyIndex),
    // resolved when this thread first sees a snapshot: the check path only adds to them.
    struct CounterSet
    {
        std::shared_ptr<const PolicySnapshot> snapshot;
        std::vector<std::shared_ptr<PolicyCounters>> counters;
    };
    const std::shared_ptr<CounterSet> &countersFor(const std::shared_ptr<const PolicySnapshot> &snapshot);
    // The pool's part of a check or a look: nothing for a model in no pool; the answer when it sheds.
    struct PoolAdmission
    {
        std::optional<PoolDecision> pool;
        std::optional<Decision> shed;
        ShedCounters *counters = nullptr;
    };
    PoolAdmission admitByPool(const PolicySnapshot &snapshot, ResolvedCheck &resolved);

    // The end of a check once the store has decided: the decision, its counters, metrics, top
    // blocked and usage history, then `done`. (Plain pointers: the check's own shared_ptrs, or
    // the service's, keep them alive.)
    struct Finish
    {
        Metrics *metrics = nullptr;
        TopBlocked *top = nullptr;
        UsageRecorder *usage = nullptr;
        qint64 started = 0;
        Door door = Door::Http;
        CounterSet *counters = nullptr;
        std::optional<PoolDecision> pool;
        PoolBoard *board = nullptr;
        void operator()(const ResolvedCheck &resolved, const WindowOutcome &outcome, const Callback &done) const;
    };

    std::shared_ptr<SnapshotHolder> m_snapshots;
    std::shared_ptr<CounterSet> m_counters;
    SnapshotHolder::Reader m_reader; // this thread's view of the current snapshot
    WindowStore *m_store;
    std::shared_ptr<Metrics> m_metrics;
    std::shared_ptr<TopBlocked> m_topBlocked;
    std::shared_ptr<UsageRecorder> m_usage;
    std::shared_ptr<PoolBoard> m_pools;
    std::unique_ptr<PoolBoard::Reader> m_poolReader;
    qint64 m_leaseUs = 600'000'000;
};

} // namespace sluice
