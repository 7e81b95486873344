// SPDX-License-Identifier: Apache-2.0
// Who is being blocked most: blocked decisions counted per primary window key, for
// GET /admin/top-blocked and the console. One TopBlocked per server thread (its mutex is taken by
// that thread's blocked checks and by a reader now and then: never contended by other checks);
// TopBlockedBoard merges them on read. Bounded: when a thread's table grows past its cap, the
// least-blocked half is dropped (amortized O(1) per record), so a flood of distinct callers cannot
// grow it forever.
#pragma once

#include "engine/layer.h"

#include "scope.h"

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QList>
#include <QString>
#include <memory>
#include <mutex>
#include <vector>

namespace sluice {

struct BlockedEntry
{
    QByteArray key;
    Scope scope = Scope::Global;
    QString label;
    QString tenant;     // of the last blocked request (null when it named none)
    QString model;      // of the last blocked request
    qint64 blocked = 0;
    QDateTime lastBlockedAt;
};

class TopBlocked
{
public:
    explicit TopBlocked(int cap = 10000) : m_cap(cap) {}
    void record(const QByteArray &key, Scope scope, const QString &label, const QString &tenant = QString(),
                const QString &model = QString(), const QDateTime &at = QDateTime::currentDateTimeUtc());
    // Every entry (unsorted).
    QList<BlockedEntry> entries() const;
    // How often this key was refused (0 when the table does not hold it).
    qint64 blockedOf(const QByteArray &key) const;
    int size() const;

private:
    mutable std::mutex m_mutex;
    QHash<QByteArray, BlockedEntry> m_entries;
    int m_cap;
};

// Sorts most blocked first (then most recent), keeps n.
QList<BlockedEntry> topOf(QList<BlockedEntry> entries, int n);

class TopBlockedBoard
{
public:
    explicit TopBlockedBoard(int capPerThread = 10000) : m_cap(capPerThread) {}
    // A new per-thread table, registered with the board.
    std::shared_ptr<TopBlocked> add();
    // Merged over every thread: the same key blocked on several threads adds up.
    QList<BlockedEntry> top(int n) const;
    // Refusals of each key over every thread (as far as the tables hold them).
    std::vector<qint64> blockedOf(const std::vector<QByteArray> &keys) const;

private:
    mutable std::mutex m_mutex;
    std::vector<std::shared_ptr<TopBlocked>> m_tables;
    int m_cap;
};

} // namespace sluice
