// SPDX-License-Identifier: Apache-2.0
// Process-wide counters for GET /metrics (Prometheus text format): decisions by primary scope,
// tier and result, check latency histogram, rejected requests by status, store errors.
// Thread-safe; the hot path is a few relaxed atomic increments.
#pragma once

#include "scope.h"

#include <QByteArray>
#include <QHash>
#include <QString>
#include <array>
#include <atomic>
#include <mutex>

namespace sluice {

class Metrics
{
public:
    static constexpr std::array<qint64, 12> kLatencyBucketsUs = {50, 100, 250, 500, 1000, 2000, 5000,
                                                                 10000, 25000, 50000, 100000, 250000};

    // scope: the primary policy's, or nullopt when no policy applied.
    void recordDecision(std::optional<Scope> scope, const QString &tier, bool allowed, const QString &source);
    void recordLatencyUs(qint64 us);
    void recordRejected(int status);
    void recordStoreError() { m_storeErrors.fetch_add(1, std::memory_order_relaxed); }

    qint64 allowedTotal() const { return m_allowed.load(std::memory_order_relaxed); }
    qint64 blockedTotal() const { return m_blocked.load(std::memory_order_relaxed); }

    // The counters in Prometheus text exposition format (gauges are appended by the caller).
    QByteArray renderPrometheus() const;

private:
    struct Key
    {
        int scope; // 0 = none
        QString tier;
        bool allowed;
        QString source;
        bool operator==(const Key &o) const
        {
            return scope == o.scope && allowed == o.allowed && tier == o.tier && source == o.source;
        }
    };
    friend size_t qHash(const Key &k, size_t seed) { return qHashMulti(seed, k.scope, k.tier, k.allowed, k.source); }

    mutable std::mutex m_mutex;
    QHash<Key, qint64> m_decisions;
    QHash<int, qint64> m_rejected;
    std::array<std::atomic<qint64>, kLatencyBucketsUs.size() + 1> m_latency{};
    std::atomic<qint64> m_latencySumUs{0};
    std::atomic<qint64> m_latencyCount{0};
    std::atomic<qint64> m_storeErrors{0};
    std::atomic<qint64> m_allowed{0};
    std::atomic<qint64> m_blocked{0};
};

} // namespace sluice
