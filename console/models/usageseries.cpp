// SPDX-License-Identifier: Apache-2.0
#include "usageseries.h"

namespace sluice {

void UsageSeries::add(const QString &key, double seconds, qint64 count, qint64 limit)
{
    if (!m_points.contains(key))
        m_order.append(key);
    QList<QPointF> &p = m_points[key];
    p.append(QPointF(seconds, static_cast<double>(count)));
    if (p.size() > m_capacity)
        p.remove(0, p.size() - m_capacity);
    QList<QPointF> &share = m_percent[key];
    if (limit >= 0) {
        // A limit of 0 admits nothing: at its limit (100 %) whatever the count.
        share.append(QPointF(seconds, limit == 0 ? 100.0 : 100.0 * static_cast<double>(count) / static_cast<double>(limit)));
        if (share.size() > m_capacity)
            share.remove(0, share.size() - m_capacity);
    }
    m_limits.insert(key, limit);
}

void UsageSeries::clear()
{
    m_order.clear();
    m_points.clear();
    m_percent.clear();
    m_limits.clear();
}

qint64 UsageSeries::lastCount(const QString &key) const
{
    const QList<QPointF> p = m_points.value(key);
    return p.isEmpty() ? -1 : static_cast<qint64>(p.last().y());
}

} // namespace sluice
