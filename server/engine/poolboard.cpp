// SPDX-License-Identifier: Apache-2.0
#include "engine/poolboard.h"

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

} // namespace sluice
