// SPDX-License-Identifier: Apache-2.0
#include "analyticsmodel.h"

#include <QJsonArray>
#include <algorithm>
#include <map>

namespace sluice {

bool AnalyticsModel::setAnswer(const QJsonObject &answer)
{
    if (!answer.value(QStringLiteral("series")).isArray() || !answer.value(QStringLiteral("totals")).isObject())
        return false;
    std::vector<Row> rows;
    std::map<QDateTime, Step> steps;
    for (const QJsonValue &sv : answer.value(QStringLiteral("series")).toArray()) {
        const QJsonObject s = sv.toObject();
        Row r;
        r.key = s.value(QStringLiteral("key")).toString();
        for (const QJsonValue &pv : s.value(QStringLiteral("points")).toArray()) {
            const QJsonObject p = pv.toObject();
            const qint64 allowed = p.value(QStringLiteral("allowed")).toInteger();
            const qint64 blocked = p.value(QStringLiteral("blocked")).toInteger();
            r.allowed += allowed;
            r.blocked += blocked;
            r.tokens += p.value(QStringLiteral("tokens")).toInteger();
            const QDateTime t = QDateTime::fromString(p.value(QStringLiteral("time")).toString(), Qt::ISODate);
            if (!t.isValid())
                return false;
            Step &step = steps[t];
            step.time = t;
            step.allowed += allowed;
            step.blocked += blocked;
            step.allowedBy[r.key] += allowed;
        }
        rows.push_back(std::move(r));
    }
    // Every bucket from `from` to `to`, the empty ones too (the server writes only buckets with
    // data), aligned as the server aligns them: multiples of the step since the epoch.
    const qint64 step = answer.value(QStringLiteral("step")).toInteger(60);
    const QDateTime from = QDateTime::fromString(answer.value(QStringLiteral("from")).toString(), Qt::ISODate);
    const QDateTime to = QDateTime::fromString(answer.value(QStringLiteral("to")).toString(), Qt::ISODate);
    if (step > 0 && from.isValid() && to.isValid() && from < to && (to.toSecsSinceEpoch() - from.toSecsSinceEpoch()) / step <= 10000) {
        for (qint64 t = from.toSecsSinceEpoch() / step * step; t < to.toSecsSinceEpoch(); t += step) {
            const QDateTime at = QDateTime::fromSecsSinceEpoch(t, Qt::UTC);
            if (steps.find(at) == steps.end())
                steps[at].time = at;
        }
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row &a, const Row &b) { return a.allowed + a.blocked > b.allowed + b.blocked; });
    beginResetModel();
    m_rows = std::move(rows);
    m_steps.clear();
    for (auto &[t, s] : steps)
        m_steps.push_back(s);
    m_stepSeconds = step > 0 ? step : 60;
    endResetModel();
    return true;
}

QStringList AnalyticsModel::keysByVolume() const
{
    QStringList keys;
    for (const Row &r : m_rows)
        keys << r.key;
    return keys;
}

void AnalyticsModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_steps.clear();
    endResetModel();
}

qint64 AnalyticsModel::totalAllowed() const
{
    qint64 n = 0;
    for (const Row &r : m_rows)
        n += r.allowed;
    return n;
}

qint64 AnalyticsModel::totalBlocked() const
{
    qint64 n = 0;
    for (const Row &r : m_rows)
        n += r.blocked;
    return n;
}

const AnalyticsModel::Row *AnalyticsModel::row(const QString &key) const
{
    for (const Row &r : m_rows) {
        if (r.key == key)
            return &r;
    }
    return nullptr;
}

int AnalyticsModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : static_cast<int>(m_rows.size()); }

int AnalyticsModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant AnalyticsModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount)
        return {};
    const Row &r = m_rows[static_cast<size_t>(index.row())];
    if (role == Qt::TextAlignmentRole)
        return index.column() == Key ? QVariant() : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Key:
        return r.key.isEmpty() ? QStringLiteral("(none)") : r.key;
    case Allowed:
        return r.allowed;
    case Blocked:
        return r.blocked;
    case BlockRatio:
        return r.allowed + r.blocked ? QStringLiteral("%1 %").arg(100.0 * static_cast<double>(r.blocked) / static_cast<double>(r.allowed + r.blocked), 0, 'f', 1)
                                     : QStringLiteral("—");
    case Tokens:
        return r.tokens;
    default:
        return {};
    }
}

QVariant AnalyticsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[] = {"Who", "Allowed", "Blocked", "Blocked %", "Tokens"};
    return section >= 0 && section < ColumnCount ? QVariant(QString::fromLatin1(names[section])) : QVariant();
}

} // namespace sluice
