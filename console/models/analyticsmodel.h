// SPDX-License-Identifier: Apache-2.0
// The Usage history page's table: one row per tenant, model or scope of a /admin/analytics
// answer (its series summed over the range), with allowed, blocked, the block ratio and tokens;
// and the answer's steps summed over every key, for the chart. Parsing lives here, not in views.
#pragma once

#include <QAbstractTableModel>
#include <QDateTime>
#include <QStringList>
#include <map>
#include <QDateTime>
#include <QJsonObject>
#include <vector>

namespace sluice {

class AnalyticsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Key, Allowed, Blocked, BlockRatio, Tokens, ColumnCount };
    struct Row
    {
        QString key;
        qint64 allowed = 0;
        qint64 blocked = 0;
        qint64 tokens = 0;
    };
    struct Step
    {
        QDateTime time;
        qint64 allowed = 0;
        qint64 blocked = 0;
        std::map<QString, qint64> allowedBy; // per key of the answer's grouping
    };

    using QAbstractTableModel::QAbstractTableModel;

    // Replaces everything with an answer of GET /admin/analytics; false (and nothing changed)
    // when it is not one.
    bool setAnswer(const QJsonObject &answer);
    void clear();

    // Every bucket of the answer's range in time order (empty ones too: a real time axis), every
    // key summed; the bucket's size in seconds.
    const std::vector<Step> &steps() const { return m_steps; }
    qint64 stepSeconds() const { return m_stepSeconds; }
    // The keys by requests, most first (the bars' stacking order).
    QStringList keysByVolume() const;
    qint64 totalAllowed() const;
    qint64 totalBlocked() const;
    const Row *row(const QString &key) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<Row> m_rows; // most requests first
    std::vector<Step> m_steps;
    qint64 m_stepSeconds = 60;
};

} // namespace sluice
