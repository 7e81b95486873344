// SPDX-License-Identifier: Apache-2.0
#include "jsontablemodel.h"

namespace sluice {

void JsonTableModel::setColumns(const Columns &columns)
{
    beginResetModel();
    m_columns = columns;
    m_rows.clear();
    endResetModel();
}

void JsonTableModel::setRows(const QJsonArray &rows)
{
    beginResetModel();
    m_rows.clear();
    for (const QJsonValue &v : rows) {
        if (v.isObject())
            m_rows.append(v.toObject());
    }
    endResetModel();
}

int JsonTableModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : static_cast<int>(m_rows.size()); }

int JsonTableModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : static_cast<int>(m_columns.size()); }

QVariant JsonTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size() || index.column() >= m_columns.size())
        return {};
    const QJsonValue v = m_rows.at(index.row()).value(m_columns.at(index.column()).first);
    if (role == Qt::DisplayRole) {
        if (v.isNull() || v.isUndefined())
            return QStringLiteral("—");
        if (v.isBool())
            return v.toBool() ? QStringLiteral("yes") : QStringLiteral("no");
        if (v.isDouble())
            return QString::number(v.toInteger());
        return v.toString();
    }
    if (role == Qt::TextAlignmentRole && v.isDouble())
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant JsonTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation == Qt::Horizontal && role == Qt::DisplayRole && section >= 0 && section < m_columns.size())
        return m_columns.at(section).second;
    return QAbstractTableModel::headerData(section, orientation, role);
}

} // namespace sluice
