// SPDX-License-Identifier: Apache-2.0
#include "engine/checkservice.h"

#include <chrono>

namespace sluice {

namespace {

qint64 ceilSeconds(qint64 us) { return us <= 0 ? 0 : (us + 999999) / 1000000; }

qint64 steadyUs()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace

CheckService::CheckService(std::shared_ptr<SnapshotHolder> snapshots, WindowStore *store,
                           std::shared_ptr<Metrics> metrics, std::shared_ptr<TopBlocked> topBlocked)
    : m_snapshots(std::move(snapshots)), m_reader(*m_snapshots), m_store(store), m_metrics(std::move(metrics)), m_topBlocked(std::move(topBlocked))
{
}

const std::shared_ptr<CheckService::CounterSet> &
CheckService::countersFor(const std::shared_ptr<const PolicySnapshot> &snapshot)
{
    if (!m_counters || m_counters->snapshot != snapshot) {
        auto set = std::make_shared<CounterSet>();
        set->snapshot = snapshot;
        set->counters.reserve(snapshot->policies().size());
        for (const PolicyDto &p : snapshot->policies())
            set->counters.push_back(m_metrics->policyCounters(p.id, p.scope));
        m_counters = std::move(set);
    }
    return m_counters;
}

void CheckService::check(const CheckRequest &request, const QString &headerApiKey, Callback done)
{
    const qint64 started = steadyUs();
    const std::shared_ptr<const PolicySnapshot> &snapshot = m_reader.get();
    auto resolved = std::make_shared<ResolvedCheck>(PolicyResolver::resolve(snapshot, request, headerApiKey));
    m_store->check(resolved->batch(), [resolved, done = std::move(done), metrics = m_metrics, top = m_topBlocked, started,
                                       counters = countersFor(snapshot)](WindowOutcome outcome) {
        if (outcome.status == WindowOutcome::Status::Full) {
            metrics->recordStoreError();
            const ApiError error(503, QStringLiteral("store_full"),
                                 QStringLiteral("%1: new callers are refused until idle keys expire (--max-keys)").arg(outcome.error));
            done(&error, Decision());
            return;
        }
        if (outcome.status != WindowOutcome::Status::Ok) {
            metrics->recordStoreError();
            const ApiError error = ApiError::unavailable(
                QStringLiteral("the window store is unavailable (%1) and the failure mode is fail-closed")
                    .arg(outcome.error));
            done(&error, Decision());
            return;
        }
        const Decision decision = decide(*resolved, outcome);
        for (size_t i = 0; i < resolved->applied.size() && i < static_cast<size_t>(decision.policies.size()); ++i) {
            const PolicyUsage &u = decision.policies.at(static_cast<int>(i));
            counters->counters[resolved->snapshot->policyIndex(resolved->applied[i].policy)]->record(u.count, u.limit, u.violated);
        }
        metrics->recordDecision(decision.primary ? std::optional<Scope>(decision.primary->scope) : std::nullopt,
                                decision.allowed, decision.source);
        metrics->recordLatencyUs(steadyUs() - started);
        if (top && !decision.allowed && decision.primary)
            top->record(decision.primary->key, decision.primary->scope, decision.primary->label, resolved->tenantId,
                        resolved->modelId);
        done(nullptr, decision);
    });
}

void CheckService::peek(const CheckRequest &request, const QString &headerApiKey, Callback done)
{
    auto resolved = std::make_shared<ResolvedCheck>(PolicyResolver::resolve(m_reader.get(), request, headerApiKey));
    resolved->windows.cost = 0;
    m_store->usage(resolved->batch().keys, [resolved, done = std::move(done), source = m_store->source()](
                                               bool ok, std::vector<KeyUsage> usage) {
        if (!ok || usage.size() != resolved->batch().keys.size()) {
            const ApiError error = ApiError::unavailable(QStringLiteral("the window store is unavailable"));
            return done(&error, Decision());
        }
        WindowOutcome o;
        o.source = source;
        o.admitted = true;
        o.nowUs = usage.empty() ? 0 : usage.front().nowUs;
        for (size_t i = 0; i < usage.size(); ++i) {
            o.keys.push_back({usage[i].used, usage[i].oldestUs});
            if (usage[i].used > resolved->batch().keys[i].limit)
                o.admitted = false;
        }
        done(nullptr, decide(*resolved, o));
    });
}

Decision CheckService::decide(const ResolvedCheck &resolved, const WindowOutcome &outcome)
{
    Decision d;
    d.allowed = outcome.admitted;
    d.modelTier = resolved.modelTier;
    d.source = outcome.source;
    const qint64 cost = resolved.batch().cost; // the weight the store was asked to add: one source of truth
    const qint64 now = outcome.nowUs;

    int primary = -1;
    qint64 bestHeadroom = 0;
    qint64 retryAfterUs = 0;
    d.policies.reserve(static_cast<int>(resolved.applied.size()));
    for (size_t i = 0; i < resolved.applied.size(); ++i) {
        const AppliedPolicy &a = resolved.applied[i];
        const KeyState state = i < outcome.keys.size() ? outcome.keys[i] : KeyState();
        PolicyUsage u;
        u.scope = a.policy->scope;
        u.label = resolved.label(a);
        u.key = resolved.key(i);
        u.limit = a.policy->limit;
        u.count = state.used + cost;
        u.windowSeconds = a.policy->windowSeconds;
        u.violated = !outcome.admitted && u.count > u.limit;
        d.policies.append(u);
        if (outcome.admitted) {
            // Least headroom left; `applied` is most specific first, so ties keep the more specific.
            const qint64 headroom = u.limit - u.count;
            if (primary < 0 || headroom < bestHeadroom) {
                primary = static_cast<int>(i);
                bestHeadroom = headroom;
            }
        } else if (u.violated) {
            if (primary < 0)
                primary = static_cast<int>(i); // the most specific violated policy
            // Retry when every violated policy has room again: its oldest entry must leave.
            const qint64 windowUs = a.policy->windowSeconds * 1000000;
            const qint64 wait = state.oldestUs >= 0 ? state.oldestUs + windowUs - now : windowUs;
            retryAfterUs = std::max(retryAfterUs, wait);
        }
    }
    if (!outcome.admitted && primary < 0 && !d.policies.isEmpty())
        primary = 0; // refused without a violated key (a Cluster reservation raced): blame the most specific

    if (primary < 0) {
        // No policy applies at all (an operator disabled even the base rule): allowed, nothing counted.
        d.allowed = outcome.admitted || resolved.applied.empty();
        return d;
    }
    const PolicyUsage &p = d.policies.at(primary);
    d.primary = p;
    d.limit = p.limit;
    d.count = p.count;
    d.windowSeconds = p.windowSeconds;
    const KeyState primaryState = static_cast<size_t>(primary) < outcome.keys.size() ? outcome.keys[primary] : KeyState();
    const qint64 windowUs = p.windowSeconds * 1000000;
    if (d.allowed) {
        d.remaining = std::max<qint64>(0, p.limit - p.count);
        const qint64 oldest = primaryState.oldestUs >= 0 ? primaryState.oldestUs : now;
        d.resetSeconds = ceilSeconds(oldest + windowUs - now);
        d.retryAfterSeconds = 0;
    } else {
        d.remaining = std::max<qint64>(0, p.limit - primaryState.used);
        d.resetSeconds = primaryState.oldestUs >= 0 ? ceilSeconds(primaryState.oldestUs + windowUs - now)
                                                    : p.windowSeconds;
        d.retryAfterSeconds = std::max<qint64>(1, ceilSeconds(retryAfterUs));
        QString cause = QStringLiteral("%1 exceeded: %2/%3 in the last %4 seconds (key=%5)")
                            .arg(scopeName(p.scope))
                            .arg(p.count)
                            .arg(p.limit)
                            .arg(p.windowSeconds)
                            .arg(QString::fromUtf8(p.key));
        QStringList others;
        for (int i = 0; i < d.policies.size(); ++i) {
            const PolicyUsage &u = d.policies.at(i);
            if (i != primary && u.violated)
                others.append(QStringLiteral("%1 (%2/%3)").arg(scopeName(u.scope)).arg(u.count).arg(u.limit));
        }
        if (!others.isEmpty())
            cause += QStringLiteral("; also violated: ") + others.join(QStringLiteral(", "));
        d.cause = cause;
    }
    return d;
}

} // namespace sluice
