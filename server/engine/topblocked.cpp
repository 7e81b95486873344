// SPDX-License-Identifier: Apache-2.0
#include "topblocked.h"

#include <algorithm>

namespace sluice {

void TopBlocked::record(const QByteArray &key, Scope scope, const QString &label)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    BlockedEntry &e = m_entries[key];
    if (e.key.isEmpty()) {
        e.key = key;
        e.scope = scope;
    }
    e.label = label;
    ++e.blocked;
    e.lastBlockedAt = QDateTime::currentDateTimeUtc();
    if (m_entries.size() > m_cap) {
        QList<qint64> counts;
        for (const BlockedEntry &x : std::as_const(m_entries))
            counts.append(x.blocked);
        std::nth_element(counts.begin(), counts.begin() + counts.size() / 2, counts.end());
        const qint64 median = counts.at(counts.size() / 2);
        m_entries.removeIf([median, &key](const auto &it) { return it.value().blocked <= median && it.key() != key; });
    }
}

QList<BlockedEntry> TopBlocked::top(int n) const
{
    QList<BlockedEntry> all;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        all = m_entries.values();
    }
    std::sort(all.begin(), all.end(), [](const BlockedEntry &a, const BlockedEntry &b) {
        return a.blocked != b.blocked ? a.blocked > b.blocked : a.lastBlockedAt > b.lastBlockedAt;
    });
    if (all.size() > n)
        all.resize(n);
    return all;
}

} // namespace sluice
