// SPDX-License-Identifier: Apache-2.0
// Who is being blocked most: blocked decisions counted per primary window key, for
// GET /admin/top-blocked and the console. Thread-safe; bounded (the least-blocked half is
// dropped when it grows past its cap), so a flood of distinct callers cannot grow it forever.
#pragma once

#include "scope.h"

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QList>
#include <QString>
#include <mutex>

namespace sluice {

struct BlockedEntry
{
    QByteArray key;
    Scope scope = Scope::Global;
    QString label;
    qint64 blocked = 0;
    QDateTime lastBlockedAt;
};

class TopBlocked
{
public:
    explicit TopBlocked(int cap = 10000) : m_cap(cap) {}
    void record(const QByteArray &key, Scope scope, const QString &label);
    QList<BlockedEntry> top(int n) const;

private:
    mutable std::mutex m_mutex;
    QHash<QByteArray, BlockedEntry> m_entries;
    int m_cap;
};

} // namespace sluice
