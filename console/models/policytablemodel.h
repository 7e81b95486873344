// SPDX-License-Identifier: Apache-2.0
// The policies as a table: one row per policy, columns for scope, selectors, limit (with digit
// grouping), unit, algorithm, window, enabled and description. Replaced in bulk from the server's list; views never parse JSON.
#pragma once

#include "policydto.h"

#include <QAbstractTableModel>

namespace sluice {

class PolicyTableModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Columns { IdColumn, ScopeColumn, SelectorColumn, LimitColumn, UnitColumn, AlgorithmColumn, WindowColumn, EnabledColumn,
                   DescriptionColumn, ColumnCount };
    // SortRole: what a column sorts by (numbers as numbers, windows by their seconds).
    enum Roles { PolicyIdRole = Qt::UserRole + 1, SortRole };

    using QAbstractTableModel::QAbstractTableModel;

    void setPolicies(const QList<PolicyDto> &policies);
    const PolicyDto *policyAt(int row) const;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    static QString selectorText(const PolicyDto &p);

private:
    QList<PolicyDto> m_policies;
};

} // namespace sluice
