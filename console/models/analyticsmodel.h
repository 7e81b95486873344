// SPDX-License-Identifier: Apache-2.0
// The Usage history page's table: one row per tenant, model or scope of a /admin/analytics
// answer (its series summed over the range), with allowed, blocked, the block ratio and tokens;
// and the answer's steps summed over every key, for the chart. Parsing lives here, not in views.
#pragma once

#include <QAbstractTableModel>
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
    };

    using QAbstractTableModel::QAbstractTableModel;

    // Replaces everything with an answer of GET /admin/analytics; false (and nothing changed)
    // when it is not one.
    bool setAnswer(const QJsonObject &answer);
    void clear();

    const std::vector<Step> &steps() const { return m_steps; } // time order, every key summed
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
};

} // namespace sluice
