// SPDX-License-Identifier: Apache-2.0
// A read-only table over a JSON array of objects, one row per object and one column per named
// field (null shown as "—", booleans as yes/no): the entity browser and the API keys page.
#pragma once

#include <QAbstractTableModel>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QPair>

namespace sluice {

class JsonTableModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    using Columns = QList<QPair<QString, QString>>; // (field, header)
    explicit JsonTableModel(QObject *parent = nullptr) : QAbstractTableModel(parent) {}

    void setColumns(const Columns &columns);
    void setRows(const QJsonArray &rows); // objects only; anything else is skipped
    QJsonObject rowObject(int row) const { return m_rows.value(row); }

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    Columns m_columns;
    QList<QJsonObject> m_rows;
};

} // namespace sluice
