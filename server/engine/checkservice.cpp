// SPDX-License-Identifier: Apache-2.0
#include "engine/checkservice.h"

#include "engine/clock.h"

#include "engine/windowrules.h"

#include <QDateTime>
#include <algorithm>

#include <chrono>
#include <cmath>

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
            set->counters.push_back(m_metrics->policyCounters(p.id, p.scope, p.unit));
        m_counters = std::move(set);
    }
    return m_counters;
}

void CheckService::setPools(std::shared_ptr<PoolBoard> pools)
{
    m_pools = std::move(pools);
    m_poolReader = m_pools ? std::make_unique<PoolBoard::Reader>(*m_pools) : nullptr;
}

PoolDecision CheckService::applyPool(ResolvedCheck &resolved, const QString &poolName, const PoolState &state)
{
    PoolDecision pool;
    pool.name = poolName;
    pool.saturation = state.saturation;
    pool.factor = state.factor;
    pool.priority = resolved.priority;
    pool.stale = state.stale;
    if (state.saturated() && resolved.priority == Priority::Sheddable) {
        pool.shed = true;
        return pool;
    }
    // Critical callers meet their static limits; a stale signal leaves every limit static.
    if (resolved.priority == Priority::Critical || state.stale || !resolved.snapshot->hasAdaptivePolicies())
        return pool;
    for (size_t i = 0; i < resolved.applied.size(); ++i) {
        const PolicyDto &p = *resolved.applied[i].policy;
        if (!p.adaptive)
            continue;
        const double f = std::clamp(state.factor, p.minFactor, p.maxFactor);
        WindowSpec &spec = resolved.windows.keys[i];
        // Never below 1 for a limit above 0: a caller keeps a trickle at the smallest factor.
        auto scaled = [f](qint64 limit) { return limit <= 0 ? 0 : std::max<qint64>(1, static_cast<qint64>(std::floor(static_cast<double>(limit) * f))); };
        spec.limit = scaled(p.limit);
        if (spec.isBucket())
            spec.burst = scaled(p.capacity());
    }
    return pool;
}

Decision CheckService::shedDecision(const ResolvedCheck &resolved, const PoolDecision &pool, const PoolState &state,
                                    const PoolRow &thresholds)
{
    Decision d;
    d.allowed = false;
    d.modelTier = resolved.modelTier;
    d.source = QStringLiteral("pool");
    d.retryAfterSeconds = 1; // the signal is read every second
    const bool byQueue = state.queue >= 0 && state.queue / thresholds.queueThreshold >= state.saturation - 1e-9;
    const QString why = state.source == QLatin1String("own")
                            ? QStringLiteral("its requests take %1x their usual time from check to complete")
                                  .arg(state.saturation * kOwnViewTolerance, 0, 'f', 1)
                        : byQueue ? QStringLiteral("queue %1 > %2").arg(state.queue).arg(thresholds.queueThreshold)
                                  : QStringLiteral("KV cache %1 > %2").arg(state.kvCache).arg(thresholds.kvCacheThreshold);
    d.cause = QStringLiteral("pool %1 saturated (%2): sheddable traffic paused").arg(pool.name, why);
    d.pool = pool;
    return d;
}

CheckService::PoolAdmission CheckService::admitByPool(const PolicySnapshot &snapshot, ResolvedCheck &resolved)
{
    PoolAdmission out;
    if (!m_poolReader || resolved.pool < 0)
        return out;
    const PoolRow &row = *snapshot.pool(resolved.pool);
    const PoolLive live = poolLive(m_poolReader->get(), row.name);
    out.pool = applyPool(resolved, row.name, live.state);
    if (out.pool->shed) {
        out.shed = shedDecision(resolved, *out.pool, live.state, row);
        out.counters = live.counters;
    }
    return out;
}

void CheckService::check(const CheckRequest &request, const QString &headerApiKey, Callback done, Door door)
{
    const qint64 started = steadyUs();
    const std::shared_ptr<const PolicySnapshot> &snapshot = m_reader.get();
    ResolvedCheck resolved = PolicyResolver::resolve(snapshot, request, headerApiKey);
    resolved.windows.leaseUs = m_leaseUs;
    PoolAdmission admission = admitByPool(*snapshot, resolved);
    if (admission.shed) {
        // Refused before the store: nothing is counted for a request the pool cannot take.
        if (admission.counters)
            admission.counters->shed[static_cast<size_t>(priorityIndex(resolved.priority))].fetch_add(1, std::memory_order_relaxed);
        m_metrics->recordDecision(std::nullopt, false, admission.shed->source);
        m_metrics->recordLatencyUs(steadyUs() - started, door);
        if (m_usage)
            m_usage->record(QDateTime::currentSecsSinceEpoch(), resolved.tenantId.isNull() ? QString() : resolved.tenantId,
                            resolved.modelId, QStringLiteral("POOL"), Unit::Requests, false, 0);
        done(nullptr, *admission.shed);
        return;
    }
    Finish finish{m_metrics.get(), m_topBlocked.get(), m_usage.get(), started, door, countersFor(snapshot).get(),
                  std::move(admission.pool), nullptr};
    if (finish.pool)
        finish.board = m_pools.get();
    // A store in this process answers at once: nothing to keep alive for later.
    if (std::optional<WindowOutcome> outcome = m_store->checkAtOnce(resolved.batch()))
        return finish(resolved, *outcome, done);
    // Another answers later: what the answer needs is kept until then (the shared_ptrs hold it).
    auto held = std::make_shared<ResolvedCheck>(std::move(resolved));
    m_store->check(held->batch(), [held, done = std::move(done), finish = std::move(finish), metrics = m_metrics,
                                   top = m_topBlocked, usage = m_usage, counters = countersFor(snapshot),
                                   pools = m_pools](WindowOutcome outcome) { finish(*held, outcome, done); });
}

void CheckService::Finish::operator()(const ResolvedCheck &resolved, const WindowOutcome &outcome, const Callback &done) const
{
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
            QStringLiteral("the window store is unavailable (%1) and the failure mode is fail-closed").arg(outcome.error));
        done(&error, Decision());
        return;
    }
    Decision decision = decide(resolved, outcome);
    decision.pool = pool;
    // The pool's own view: how long this request takes from here to its completion.
    if (board && decision.allowed && !decision.reservationId.isEmpty())
        board->admitted(pool->name, decision.reservationId, steadyClock()->nowUs() / 1000);
    for (size_t i = 0; i < resolved.applied.size() && i < static_cast<size_t>(decision.policies.size()); ++i) {
        const PolicyUsage &u = decision.policies.at(static_cast<int>(i));
        counters->counters[resolved.snapshot->policyIndex(resolved.applied[i].policy)]->record(u.count, u.limit, u.violated,
                                                                                              u.shadow);
    }
    metrics->recordDecision(decision.primary ? std::optional<Scope>(decision.primary->scope) : std::nullopt, decision.allowed,
                            decision.source);
    metrics->recordLatencyUs(steadyUs() - started, door);
    if (top && !decision.allowed && decision.primary)
        top->record(decision.primary->key, decision.primary->scope, decision.primary->label, resolved.tenantId, resolved.modelId);
    if (usage) {
        // Tokens: the cost, when the request said one (an estimate) or a tokens policy weighed it.
        const bool tokens = resolved.costGiven || std::any_of(resolved.windows.keys.begin(), resolved.windows.keys.end(),
                                                              [](const WindowSpec &s) { return s.reweighable(); });
        usage->record(QDateTime::currentSecsSinceEpoch(), resolved.tenantId.isNull() ? QString() : resolved.tenantId,
                      resolved.modelId, decision.primary ? scopeName(decision.primary->scope) : QStringLiteral("NONE"),
                      decision.primary ? decision.primary->unit : Unit::Requests, decision.allowed, tokens ? resolved.cost : 0);
    }
    done(nullptr, decision);
}

void CheckService::peek(const CheckRequest &request, const QString &headerApiKey, Callback done, bool dryRun)
{
    const std::shared_ptr<const PolicySnapshot> &snapshot = m_reader.get();
    auto resolved = std::make_shared<ResolvedCheck>(PolicyResolver::resolve(snapshot, request, headerApiKey));
    resolved->windows.leaseUs = m_leaseUs;
    // A look answers like a check would: shed on a saturated pool, the scaled limits otherwise.
    const PoolAdmission admission = admitByPool(*snapshot, *resolved);
    if (admission.shed)
        return done(nullptr, *admission.shed);
    const std::optional<PoolDecision> pool = admission.pool;
    if (!dryRun) {
        for (WindowSpec &spec : resolved->windows.keys)
            spec.weight = 0;
    }
    m_store->usage(resolved->batch().keys, [resolved, done = std::move(done), source = m_store->source(), pool](
                                               bool ok, std::vector<KeyUsage> usage) {
        if (!ok || usage.size() != resolved->batch().keys.size()) {
            const ApiError error = ApiError::unavailable(QStringLiteral("the window store is unavailable"));
            return done(&error, Decision());
        }
        // A look: would the key take nothing more — is it within its limit now (weight 0, the
        // same rule as a check's)? A dry run: would it take this request. Shadow keys never refuse.
        WindowOutcome o;
        o.source = source;
        o.admitted = true;
        o.nowUs = usage.empty() ? 0 : usage.front().nowUs;
        for (size_t i = 0; i < usage.size(); ++i) {
            const WindowSpec &spec = resolved->batch().keys[i];
            KeyState state{usage[i].used, usage[i].oldestUs};
            state.fits = window::fits(spec, state);
            o.keys.push_back(state);
            if (!state.fits && !spec.shadow)
                o.admitted = false;
        }
        Decision decision = decide(*resolved, o);
        decision.pool = pool;
        done(nullptr, decision);
    });
}

void CheckService::complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done)
{
    if (m_pools)
        m_pools->completed(reservationId, steadyClock()->nowUs() / 1000);
    m_store->complete(reservationId, tokens, std::move(done));
}

void CheckService::extend(const QString &reservationId, ReservationCallback done)
{
    m_store->extend(reservationId, m_leaseUs, std::move(done));
}

Decision CheckService::decide(const ResolvedCheck &resolved, const WindowOutcome &outcome)
{
    Decision d;
    d.allowed = outcome.admitted;
    d.modelTier = resolved.modelTier;
    d.source = outcome.source;
    const qint64 now = outcome.nowUs;
    const qint64 leaseUs = resolved.batch().leaseUs;

    int primary = -1;
    qint64 bestHeadroom = 0;
    qint64 retryAfterUs = 0;
    d.policies.reserve(static_cast<int>(resolved.applied.size()));
    for (size_t i = 0; i < resolved.applied.size(); ++i) {
        const AppliedPolicy &a = resolved.applied[i];
        const WindowSpec &spec = resolved.batch().keys[i]; // the weight the store was asked to add: one source of truth
        const KeyState state = i < outcome.keys.size() ? outcome.keys[i] : KeyState();
        PolicyUsage u;
        u.scope = a.policy->scope;
        u.unit = a.policy->unit;
        u.algorithm = a.policy->algorithm;
        u.shadow = spec.shadow;
        u.label = resolved.label(a);
        u.key = spec.key;
        u.windowSeconds = a.policy->windowSeconds;
        // The store's facts, judged by the kind's rules (windowrules.h).
        const bool charged = outcome.admitted && (state.fits || !spec.shadow);
        u.limit = window::capacity(spec);
        u.count = state.used + spec.weight;
        u.violated = !state.fits && (!outcome.admitted || spec.shadow);
        u.remaining = window::remaining(spec, state, charged);
        u.resetSeconds = ceilSeconds(window::resetUs(spec, state, charged, now, leaseUs));
        const qint64 waitUs = window::waitUs(spec, state, now); // until this policy would take the request
        const qint64 headroom = u.limit - u.count;
        const bool violated = u.violated;
        d.policies.append(std::move(u));
        if (spec.shadow)
            continue; // reported, never the primary, never a reason to wait
        if (outcome.admitted) {
            // Least headroom left; `applied` is most specific first, so ties keep the more specific.
            if (primary < 0 || headroom < bestHeadroom) {
                primary = static_cast<int>(i);
                bestHeadroom = headroom;
            }
        } else if (violated) {
            if (primary < 0)
                primary = static_cast<int>(i); // the most specific violated policy
            // Retry when every violated policy has room again.
            retryAfterUs = std::max(retryAfterUs, waitUs);
        }
    }
    if (!outcome.admitted && primary < 0) {
        // Refused without a violated key (a Cluster reservation raced): blame the most specific real one.
        for (size_t i = 0; i < resolved.applied.size() && primary < 0; ++i) {
            if (!resolved.batch().keys[i].shadow)
                primary = static_cast<int>(i);
        }
    }

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
    d.remaining = p.remaining;
    d.resetSeconds = p.resetSeconds;
    if (d.allowed) {
        d.retryAfterSeconds = 0;
        if (!outcome.reservationId.isEmpty()) {
            d.reservationId = outcome.reservationId;
            d.leaseExpiresInSeconds = ceilSeconds(outcome.leaseExpiresUs - now);
        }
    } else {
        d.retryAfterSeconds = std::max<qint64>(1, ceilSeconds(retryAfterUs));
        const QString over = p.unit == Unit::Concurrent ? QStringLiteral("%1 exceeded: %2/%3 held at once (key=%4)")
                                                              .arg(scopeName(p.scope))
                                                              .arg(p.count)
                                                              .arg(p.limit)
                                                              .arg(QString::fromUtf8(p.key))
                                                        : QStringLiteral("%1 exceeded: %2/%3%4 in the last %5 seconds (key=%6)")
                                                              .arg(scopeName(p.scope))
                                                              .arg(p.count)
                                                              .arg(p.limit)
                                                              .arg(p.unit == Unit::Tokens ? QStringLiteral(" tokens") : QString())
                                                              .arg(p.windowSeconds)
                                                              .arg(QString::fromUtf8(p.key));
        QString cause = over;
        const KeyState primaryState = static_cast<size_t>(primary) < outcome.keys.size() ? outcome.keys[static_cast<size_t>(primary)] : KeyState();
        if (primaryState.full && p.count <= p.limit)
            cause = QStringLiteral("%1 exceeded: its log holds %2 entries, the most a sliding-log key keeps (key=%3); "
                                   "use algorithm token_bucket for rates this high")
                        .arg(scopeName(p.scope))
                        .arg(kMaxLogEntries)
                        .arg(QString::fromUtf8(p.key));
        QStringList others;
        for (int i = 0; i < d.policies.size(); ++i) {
            const PolicyUsage &u = d.policies.at(i);
            if (i != primary && u.violated && !u.shadow)
                others.append(QStringLiteral("%1 (%2/%3%4)")
                                  .arg(scopeName(u.scope))
                                  .arg(u.count)
                                  .arg(u.limit)
                                  .arg(u.unit == Unit::Requests ? QString() : QLatin1Char(' ') + unitName(u.unit)));
        }
        if (!others.isEmpty())
            cause += QStringLiteral("; also violated: ") + others.join(QStringLiteral(", "));
        d.cause = cause;
    }
    return d;
}

} // namespace sluice
