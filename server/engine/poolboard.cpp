// SPDX-License-Identifier: Apache-2.0
#include "engine/poolboard.h"

#include <algorithm>
#include <vector>

namespace sluice {

void PoolBoard::publish(const std::unordered_map<QString, PoolState, FastHash> &states)
{
    auto view = std::make_shared<PoolView>();
    for (const auto &[name, state] : states)
        view->emplace(name, PoolLive{state, counters(name)});
    std::atomic_store(&m_view, std::shared_ptr<const PoolView>(std::move(view)));
    m_version.fetch_add(1, std::memory_order_release);
}

void PoolBoard::push(const QString &pool, double queue, double kvCache, qint64 nowMs)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_pushes[pool] = {queue, kvCache, nowMs};
}

PoolReading PoolBoard::pushed(const QString &pool, qint64 nowMs) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_pushes.find(pool);
    if (it == m_pushes.end())
        return {};
    return {it->second.queue, it->second.kvCache, std::max<qint64>(0, nowMs - it->second.atMs), QStringLiteral("push")};
}

void PoolBoard::setSourceError(const QString &pool, const QString &source, const QString &error)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    QJsonObject &errors = m_errors[pool];
    if (error.isEmpty())
        errors.remove(source);
    else
        errors.insert(source, error);
}

QJsonObject PoolBoard::sourceErrors(const QString &pool) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_errors.find(pool);
    return it == m_errors.end() ? QJsonObject() : it->second;
}

ShedCounters *PoolBoard::counters(const QString &pool)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    auto &slot = m_counters[pool];
    if (!slot)
        slot = std::make_unique<ShedCounters>();
    return slot.get();
}

std::unordered_map<QString, std::array<qint64, kPriorityCount>, FastHash> PoolBoard::shedTotals() const
{
    std::unordered_map<QString, std::array<qint64, kPriorityCount>, FastHash> out;
    std::lock_guard<std::mutex> lock(m_mutex);
    for (const auto &[name, c] : m_counters) {
        auto &totals = out[name];
        for (int i = 0; i < kPriorityCount; ++i)
            totals[static_cast<size_t>(i)] = c->shed[static_cast<size_t>(i)].load(std::memory_order_relaxed);
    }
    return out;
}

void PoolBoard::admitted(const QString &pool, const QString &reservationId, qint64 nowMs)
{
    std::lock_guard<std::mutex> lock(m_ownMutex);
    if (m_open.size() >= kMaxOpen)
        return;
    if (m_open.emplace(reservationId, Open{pool, nowMs}).second)
        ++m_inFlight[pool];
}

void PoolBoard::completed(const QString &reservationId, qint64 nowMs)
{
    std::lock_guard<std::mutex> lock(m_ownMutex);
    const auto it = m_open.find(reservationId);
    if (it == m_open.end())
        return; // admitted by another instance, forgotten, or completed twice
    --m_inFlight[it->second.pool];
    auto &latencies = m_latencies[it->second.pool];
    latencies.emplace_back(nowMs, static_cast<double>(std::max<qint64>(0, nowMs - it->second.atMs)));
    if (latencies.size() > kMaxLatencies)
        latencies.pop_front();
    m_open.erase(it);
}

OwnView PoolBoard::ownView(const QString &pool, qint64 nowMs, qint64 windowMs) const
{
    OwnView view;
    std::vector<double> recent, ages;
    {
        std::lock_guard<std::mutex> lock(m_ownMutex);
        const auto f = m_inFlight.find(pool);
        view.inFlight = f == m_inFlight.end() ? 0 : f->second;
        const auto l = m_latencies.find(pool);
        if (l != m_latencies.end())
            for (auto it = l->second.rbegin(); it != l->second.rend() && it->first >= nowMs - windowMs; ++it)
                recent.push_back(it->second);
        // Few completions while requests are in flight: how long those have waited (a hung pool).
        if (recent.size() < static_cast<size_t>(kOwnViewMinCompletions) && view.inFlight >= kOwnViewMinCompletions)
            for (const auto &[id, open] : m_open)
                if (open.pool == pool)
                    ages.push_back(static_cast<double>(std::max<qint64>(0, nowMs - open.atMs)));
    }
    auto median = [](std::vector<double> &v) {
        const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
        std::nth_element(v.begin(), mid, v.end());
        return *mid;
    };
    view.completions = static_cast<int>(recent.size());
    if (!recent.empty())
        view.medianLatencyMs = median(recent);
    if (!ages.empty())
        view.medianInFlightAgeMs = median(ages);
    return view;
}

void PoolBoard::forget(qint64 nowMs, qint64 olderThanMs)
{
    std::lock_guard<std::mutex> lock(m_ownMutex);
    for (auto it = m_open.begin(); it != m_open.end();) {
        if (it->second.atMs < nowMs - olderThanMs) {
            --m_inFlight[it->second.pool];
            it = m_open.erase(it);
        } else {
            ++it;
        }
    }
    for (auto &[pool, latencies] : m_latencies)
        while (!latencies.empty() && latencies.front().first < nowMs - kOwnViewBaselineMs)
            latencies.pop_front();
}

void PoolBoard::setOwnSummary(const QString &pool, const QJsonObject &summary)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (summary.isEmpty())
        m_ownSummaries.erase(pool);
    else
        m_ownSummaries[pool] = summary;
}

QJsonObject PoolBoard::ownSummary(const QString &pool) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_ownSummaries.find(pool);
    return it == m_ownSummaries.end() ? QJsonObject() : it->second;
}

} // namespace sluice

namespace sluice {

void PoolBoard::upstreamRefused(const QString &pool, qint64 nowMs)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_upstreamRefusals[pool] = nowMs;
}

qint64 PoolBoard::lastUpstreamRefusalMs(const QString &pool) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_upstreamRefusals.find(pool);
    return it == m_upstreamRefusals.end() ? -1 : it->second;
}

} // namespace sluice
