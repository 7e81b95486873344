// SPDX-License-Identifier: Apache-2.0
// Process-wide counters for GET /metrics (Prometheus text format). The check path does atomic adds
// only (design §13, like prometheus-cpp's Family<T>::Add handles and envoy ratelimit's
// limit.Stats): decisions land in a fixed array indexed by (primary scope, result, source), and
// per-policy counters are handles (PolicyCounters) that a CheckService resolves once per policy
// snapshot, never per check. The mutex here guards only the creation of policy handles and the
// listing at render time.
#pragma once

#include "engine/layer.h"

#include "scope.h"
#include "unit.h"

#include <QByteArray>
#include <QString>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace sluice {

// Per-policy decision counters, named as envoyproxy/ratelimit's: every check a policy applied to is
// a hit; over = it was violated; within = it was not; near = within and at 80 % of its limit or more.
struct PolicyCounters
{
    PolicyCounters(qint64 id, Scope s, Unit u) : policyId(id), scope(s), unit(u) {}
    const qint64 policyId; // 0: the built-in base rule
    const Scope scope;
    const Unit unit;
    std::atomic<qint64> totalHits{0};
    std::atomic<qint64> overLimit{0};
    std::atomic<qint64> nearLimit{0};
    std::atomic<qint64> withinLimit{0};
    std::atomic<qint64> shadowOverLimit{0}; // a shadow policy's would-be blocks

    void record(qint64 count, qint64 limit, bool violated, bool shadow = false)
    {
        totalHits.fetch_add(1, std::memory_order_relaxed);
        if (violated && shadow) {
            shadowOverLimit.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        if (violated) {
            overLimit.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        withinLimit.fetch_add(1, std::memory_order_relaxed);
        if (limit > 0 && count * 5 >= limit * 4)
            nearLimit.fetch_add(1, std::memory_order_relaxed);
    }
};

// The way a check came in (design §12): each has its own latency histogram.
enum class Door : int { Http = 0, ForwardAuth = 1, Grpc = 2, Inference = 3 };
inline constexpr std::array<const char *, 4> kDoorNames = {"http", "forward-auth", "grpc", "inference"};

class Metrics
{
public:
    static constexpr std::array<qint64, 12> kLatencyBucketsUs = {50, 100, 250, 500, 1000, 2000, 5000,
                                                                 10000, 25000, 50000, 100000, 250000};
    // Sources a decision can come from ("other" catches anything new).
    static constexpr std::array<const char *, 7> kSources = {"memory", "redis", "redis-cluster", "local", "fail-open", "pool", "other"};
    // HTTP statuses a refused check request can get ("other" last).
    static constexpr std::array<int, 11> kRejectedStatuses = {400, 401, 403, 404, 405, 411, 413, 415, 431, 503, 0};

    // The handle of a policy's counters: created on first use and kept for the process's life
    // (bounded by the policies ever defined). Thread-safe; called once per policy per snapshot.
    std::shared_ptr<PolicyCounters> policyCounters(qint64 policyId, Scope scope, Unit unit = Unit::Requests);

    // scope: the primary policy's, or nullopt when no policy applied.
    void recordDecision(std::optional<Scope> scope, bool allowed, const QString &source);
    void recordLatencyUs(qint64 us, Door door = Door::Http);
    void recordRejected(int status);
    void recordStoreError() { m_storeErrors.fetch_add(1, std::memory_order_relaxed); }

    qint64 allowedTotal() const { return m_allowed.load(std::memory_order_relaxed); }
    qint64 blockedTotal() const { return m_blocked.load(std::memory_order_relaxed); }
    qint64 decisions(std::optional<Scope> scope, bool allowed, const QString &source) const;
    qint64 rejected(int status) const;

    // The counters in Prometheus text exposition format (gauges are appended by the caller).
    QByteArray renderPrometheus() const;

private:
    static constexpr size_t kScopeSlots = kScopesBySpecificity.size() + 1; // + "none"
    static size_t scopeSlot(std::optional<Scope> scope);
    static size_t sourceSlot(const QString &source);
    static size_t statusSlot(int status);

    std::array<std::atomic<qint64>, kScopeSlots * 2 * kSources.size()> m_decisions{};
    std::array<std::atomic<qint64>, kRejectedStatuses.size()> m_rejected{};
    struct Latency
    {
        std::array<std::atomic<qint64>, kLatencyBucketsUs.size() + 1> buckets{};
        std::atomic<qint64> sumUs{0};
        std::atomic<qint64> count{0};
    };
    std::array<Latency, kDoorNames.size()> m_latency{};
    std::atomic<qint64> m_storeErrors{0};
    std::atomic<qint64> m_allowed{0};
    std::atomic<qint64> m_blocked{0};

    mutable std::mutex m_policyMutex; // handle creation and rendering only
    std::map<std::pair<qint64, int>, std::shared_ptr<PolicyCounters>> m_policies;
};

} // namespace sluice
