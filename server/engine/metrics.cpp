// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"

#include <algorithm>

namespace sluice {

void Metrics::recordDecision(std::optional<Scope> scope, const QString &tier, bool allowed, const QString &source)
{
    (allowed ? m_allowed : m_blocked).fetch_add(1, std::memory_order_relaxed);
    const Key key{scope ? static_cast<int>(*scope) : 0, tier, allowed, source};
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_decisions[key];
}

void Metrics::recordLatencyUs(qint64 us)
{
    const auto it = std::lower_bound(kLatencyBucketsUs.begin(), kLatencyBucketsUs.end(), us);
    m_latency[static_cast<size_t>(it - kLatencyBucketsUs.begin())].fetch_add(1, std::memory_order_relaxed);
    m_latencySumUs.fetch_add(us, std::memory_order_relaxed);
    m_latencyCount.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::recordRejected(int status)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_rejected[status];
}

QByteArray Metrics::renderPrometheus() const
{
    QByteArray out;
    out += "# HELP sluice_decisions_total Rate-limit decisions by primary scope, model tier, result and store.\n"
           "# TYPE sluice_decisions_total counter\n";
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto it = m_decisions.cbegin(); it != m_decisions.cend(); ++it) {
            const QByteArray scope = it.key().scope ? scopeName(static_cast<Scope>(it.key().scope)).toUtf8()
                                                    : QByteArray("NONE");
            QByteArray tier = it.key().tier.toUtf8();
            tier.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            out += "sluice_decisions_total{scope=\"" + scope + "\",tier=\"" + tier + "\",result=\""
                + (it.key().allowed ? "allowed" : "blocked") + "\",source=\"" + it.key().source.toUtf8() + "\"} "
                + QByteArray::number(it.value()) + '\n';
        }
        out += "# HELP sluice_rejected_requests_total Check requests answered with an error, by HTTP status.\n"
               "# TYPE sluice_rejected_requests_total counter\n";
        for (auto it = m_rejected.cbegin(); it != m_rejected.cend(); ++it)
            out += "sluice_rejected_requests_total{status=\"" + QByteArray::number(it.key()) + "\"} "
                + QByteArray::number(it.value()) + '\n';
    }
    out += "# HELP sluice_check_latency_seconds Time from a parsed check request to its answer.\n"
           "# TYPE sluice_check_latency_seconds histogram\n";
    qint64 cumulative = 0;
    for (size_t i = 0; i <= kLatencyBucketsUs.size(); ++i) {
        cumulative += m_latency[i].load(std::memory_order_relaxed);
        const QByteArray le = i < kLatencyBucketsUs.size() ? QByteArray::number(kLatencyBucketsUs[i] / 1e6) : "+Inf";
        out += "sluice_check_latency_seconds_bucket{le=\"" + le + "\"} " + QByteArray::number(cumulative) + '\n';
    }
    out += "sluice_check_latency_seconds_sum " + QByteArray::number(m_latencySumUs.load() / 1e6) + '\n';
    out += "sluice_check_latency_seconds_count " + QByteArray::number(m_latencyCount.load()) + '\n';
    out += "# HELP sluice_store_errors_total Window store calls that failed or timed out.\n"
           "# TYPE sluice_store_errors_total counter\n"
           "sluice_store_errors_total " + QByteArray::number(m_storeErrors.load()) + '\n';
    return out;
}

} // namespace sluice
