// SPDX-License-Identifier: Apache-2.0
// Live usage per window key: a bounded ring of (seconds, count) points per key plus the key's
// current limit, fed by the server's usage events. Bounded so a console left open for days
// does not grow.
#pragma once

#include <QHash>
#include <QList>
#include <QPointF>
#include <QStringList>

namespace sluice {

class UsageSeries
{
public:
    // 15 minutes of events at 4 a second (the longest range Live usage shows).
    explicit UsageSeries(int capacity = 3600) : m_capacity(capacity) {}

    void add(const QString &key, double seconds, qint64 count, qint64 limit);
    void clear();
    QStringList keys() const { return m_order; }
    QList<QPointF> points(const QString &key) const { return m_points.value(key); }
    // The same points as a share of the limit each had then (100: at the limit; none for a key
    // without a limit).
    QList<QPointF> percentPoints(const QString &key) const { return m_percent.value(key); }
    qint64 limit(const QString &key) const { return m_limits.value(key, 0); }
    qint64 lastCount(const QString &key) const;
    int capacity() const { return m_capacity; }

private:
    int m_capacity;
    QStringList m_order;
    QHash<QString, QList<QPointF>> m_points;
    QHash<QString, QList<QPointF>> m_percent;
    QHash<QString, qint64> m_limits;
};

} // namespace sluice
