// SPDX-License-Identifier: Apache-2.0
#include "engine/topblocked.h"

#include <algorithm>

namespace sluice {

void TopBlocked::record(const QByteArray &key, Scope scope, const QString &label, const QString &tenant, const QString &model,
                        const QDateTime &at)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    BlockedEntry &e = m_entries[key];
    if (e.key.isEmpty()) {
        e.key = key;
        e.scope = scope;
    }
    e.label = label;
    e.tenant = tenant;
    e.model = model;
    ++e.blocked;
    e.lastBlockedAt = at;
    if (m_entries.size() > m_cap) {
        QList<qint64> counts;
        counts.reserve(m_entries.size());
        for (const BlockedEntry &x : std::as_const(m_entries))
            counts.append(x.blocked);
        std::nth_element(counts.begin(), counts.begin() + counts.size() / 2, counts.end());
        const qint64 median = counts.at(counts.size() / 2);
        m_entries.removeIf([median, &key](const auto &it) { return it.value().blocked <= median && it.key() != key; });
    }
}

QList<BlockedEntry> TopBlocked::entries() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_entries.values();
}

qint64 TopBlocked::blockedOf(const QByteArray &key) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_entries.constFind(key);
    return it == m_entries.constEnd() ? 0 : it->blocked;
}

std::vector<qint64> TopBlockedBoard::blockedOf(const std::vector<QByteArray> &keys) const
{
    std::vector<std::shared_ptr<TopBlocked>> tables;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        tables = m_tables;
    }
    std::vector<qint64> counts(keys.size(), 0);
    for (const auto &t : tables)
        for (size_t i = 0; i < keys.size(); ++i)
            counts[i] += t->blockedOf(keys[i]);
    return counts;
}

int TopBlocked::size() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return static_cast<int>(m_entries.size());
}

QList<BlockedEntry> topOf(QList<BlockedEntry> all, int n)
{
    std::sort(all.begin(), all.end(), [](const BlockedEntry &a, const BlockedEntry &b) {
        if (a.blocked != b.blocked)
            return a.blocked > b.blocked;
        if (a.lastBlockedAt != b.lastBlockedAt)
            return a.lastBlockedAt > b.lastBlockedAt;
        return a.key < b.key;
    });
    if (all.size() > n)
        all.resize(std::max(0, n));
    return all;
}

std::shared_ptr<TopBlocked> TopBlockedBoard::add()
{
    auto table = std::make_shared<TopBlocked>(m_cap);
    std::lock_guard<std::mutex> lock(m_mutex);
    m_tables.push_back(table);
    return table;
}

QList<BlockedEntry> TopBlockedBoard::top(int n) const
{
    std::vector<std::shared_ptr<TopBlocked>> tables;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        tables = m_tables;
    }
    QHash<QByteArray, BlockedEntry> merged;
    for (const auto &t : tables) {
        for (const BlockedEntry &e : t->entries()) {
            BlockedEntry &m = merged[e.key];
            if (m.key.isEmpty()) {
                m = e;
                continue;
            }
            m.blocked += e.blocked;
            if (e.lastBlockedAt > m.lastBlockedAt) {
                m.lastBlockedAt = e.lastBlockedAt;
                m.label = e.label;
                m.tenant = e.tenant;
                m.model = e.model;
            }
        }
    }
    return topOf(merged.values(), n);
}

} // namespace sluice
