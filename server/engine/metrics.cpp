// SPDX-License-Identifier: Apache-2.0
#include "engine/metrics.h"

#include <algorithm>

namespace sluice {

size_t Metrics::scopeSlot(std::optional<Scope> scope)
{
    if (!scope)
        return 0;
    const auto it = std::find(kScopesBySpecificity.begin(), kScopesBySpecificity.end(), *scope);
    return 1 + static_cast<size_t>(it - kScopesBySpecificity.begin());
}

size_t Metrics::sourceSlot(const QString &source)
{
    for (size_t i = 0; i + 1 < kSources.size(); ++i) {
        if (source == QLatin1String(kSources[i]))
            return i;
    }
    return kSources.size() - 1;
}

size_t Metrics::statusSlot(int status)
{
    for (size_t i = 0; i + 1 < kRejectedStatuses.size(); ++i) {
        if (kRejectedStatuses[i] == status)
            return i;
    }
    return kRejectedStatuses.size() - 1;
}

std::shared_ptr<PolicyCounters> Metrics::policyCounters(qint64 policyId, Scope scope, Unit unit)
{
    std::lock_guard<std::mutex> lock(m_policyMutex);
    auto &slot = m_policies[{policyId, static_cast<int>(scope) * kUnitCount + unitIndex(unit)}];
    if (!slot)
        slot = std::make_shared<PolicyCounters>(policyId, scope, unit);
    return slot;
}

void Metrics::recordDecision(std::optional<Scope> scope, bool allowed, const QString &source)
{
    (allowed ? m_allowed : m_blocked).fetch_add(1, std::memory_order_relaxed);
    const size_t i = (scopeSlot(scope) * 2 + (allowed ? 0 : 1)) * kSources.size() + sourceSlot(source);
    m_decisions[i].fetch_add(1, std::memory_order_relaxed);
}

qint64 Metrics::decisions(std::optional<Scope> scope, bool allowed, const QString &source) const
{
    return m_decisions[(scopeSlot(scope) * 2 + (allowed ? 0 : 1)) * kSources.size() + sourceSlot(source)].load(
        std::memory_order_relaxed);
}

void Metrics::recordLatencyUs(qint64 us, Door door)
{
    Latency &l = m_latency[static_cast<size_t>(door)];
    const auto it = std::lower_bound(kLatencyBucketsUs.begin(), kLatencyBucketsUs.end(), us);
    l.buckets[static_cast<size_t>(it - kLatencyBucketsUs.begin())].fetch_add(1, std::memory_order_relaxed);
    l.sumUs.fetch_add(us, std::memory_order_relaxed);
    l.count.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::recordRejected(int status)
{
    m_rejected[statusSlot(status)].fetch_add(1, std::memory_order_relaxed);
}

qint64 Metrics::rejected(int status) const { return m_rejected[statusSlot(status)].load(std::memory_order_relaxed); }

QByteArray Metrics::renderPrometheus() const
{
    QByteArray out;
    out += "# HELP sluice_decisions_total Rate-limit decisions by primary scope, result and store.\n"
           "# TYPE sluice_decisions_total counter\n";
    for (size_t scope = 0; scope < kScopeSlots; ++scope) {
        const QByteArray scopeLabel = scope ? scopeName(kScopesBySpecificity[scope - 1]).toUtf8() : QByteArray("NONE");
        for (int result = 0; result < 2; ++result) {
            for (size_t source = 0; source < kSources.size(); ++source) {
                const qint64 n = m_decisions[(scope * 2 + static_cast<size_t>(result)) * kSources.size() + source].load();
                if (n == 0)
                    continue;
                out += "sluice_decisions_total{scope=\"" + scopeLabel + "\",result=\"" + (result ? "blocked" : "allowed")
                    + "\",source=\"" + kSources[source] + "\"} " + QByteArray::number(n) + '\n';
            }
        }
    }
    out += "# HELP sluice_rejected_requests_total Check requests answered with an error, by HTTP status.\n"
           "# TYPE sluice_rejected_requests_total counter\n";
    for (size_t i = 0; i < kRejectedStatuses.size(); ++i) {
        const qint64 n = m_rejected[i].load();
        if (n)
            out += "sluice_rejected_requests_total{status=\""
                + (kRejectedStatuses[i] ? QByteArray::number(kRejectedStatuses[i]) : QByteArray("other")) + "\"} "
                + QByteArray::number(n) + '\n';
    }

    struct Family
    {
        const char *name;
        const char *help;
        std::atomic<qint64> PolicyCounters::*counter;
    };
    static const Family families[] = {
        {"sluice_rate_limit_total_hits_total", "Checks each policy applied to.", &PolicyCounters::totalHits},
        {"sluice_rate_limit_over_limit_total", "Checks that violated the policy.", &PolicyCounters::overLimit},
        {"sluice_rate_limit_near_limit_total", "Checks within the policy at 80 % of its limit or more.", &PolicyCounters::nearLimit},
        {"sluice_rate_limit_within_limit_total", "Checks within the policy.", &PolicyCounters::withinLimit},
        {"sluice_rate_limit_shadow_over_limit_total", "Checks a shadow policy would have refused (it never refuses).",
         &PolicyCounters::shadowOverLimit},
    };
    {
        std::lock_guard<std::mutex> lock(m_policyMutex);
        for (const Family &f : families) {
            out += QByteArray("# HELP ") + f.name + ' ' + f.help + "\n# TYPE " + f.name + " counter\n";
            for (const auto &[key, c] : m_policies)
                out += QByteArray(f.name) + "{scope=\"" + scopeName(c->scope).toUtf8() + "\",unit=\"" + unitName(c->unit).toUtf8() + "\",policy=\""
                    + QByteArray::number(c->policyId) + "\"} " + QByteArray::number((*c.*f.counter).load()) + '\n';
        }
    }

    out += "# HELP sluice_check_latency_seconds Time from a parsed check request to its answer, by door.\n"
           "# TYPE sluice_check_latency_seconds histogram\n";
    for (size_t d = 0; d < kDoorNames.size(); ++d) {
        const Latency &l = m_latency[d];
        const QByteArray door = QByteArray("door=\"") + kDoorNames[d] + '"';
        qint64 cumulative = 0;
        for (size_t i = 0; i <= kLatencyBucketsUs.size(); ++i) {
            cumulative += l.buckets[i].load(std::memory_order_relaxed);
            const QByteArray le = i < kLatencyBucketsUs.size() ? QByteArray::number(kLatencyBucketsUs[i] / 1e6) : "+Inf";
            out += "sluice_check_latency_seconds_bucket{" + door + ",le=\"" + le + "\"} " + QByteArray::number(cumulative) + '\n';
        }
        out += "sluice_check_latency_seconds_sum{" + door + "} " + QByteArray::number(l.sumUs.load() / 1e6) + '\n';
        out += "sluice_check_latency_seconds_count{" + door + "} " + QByteArray::number(l.count.load()) + '\n';
    }
    out += "# HELP sluice_store_errors_total Window store calls that failed or timed out.\n"
           "# TYPE sluice_store_errors_total counter\n"
           "sluice_store_errors_total " + QByteArray::number(m_storeErrors.load()) + '\n';
    return out;
}

} // namespace sluice
