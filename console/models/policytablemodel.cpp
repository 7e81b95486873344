// SPDX-License-Identifier: Apache-2.0
#include "policytablemodel.h"

#include <QLocale>

#include <QColor>
#include <QFont>

#include <QStringList>

namespace sluice {

void PolicyTableModel::setPolicies(const QList<PolicyDto> &policies)
{
    beginResetModel();
    m_policies = policies;
    endResetModel();
}

const PolicyDto *PolicyTableModel::policyAt(int row) const
{
    return row >= 0 && row < m_policies.size() ? &m_policies.at(row) : nullptr;
}

int PolicyTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_policies.size());
}

int PolicyTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString PolicyTableModel::selectorText(const PolicyDto &p)
{
    QStringList parts;
    if (!p.tenantId.isNull())
        parts << QStringLiteral("tenant ") + p.tenantId;
    if (!p.userId.isNull())
        parts << QStringLiteral("user ") + p.userId;
    if (p.apiKeyId)
        parts << QStringLiteral("key #%1").arg(*p.apiKeyId);
    if (!p.modelId.isNull())
        parts << QStringLiteral("model ") + p.modelId;
    if (!p.modelTier.isNull())
        parts << QStringLiteral("tier ") + p.modelTier;
    return parts.isEmpty() ? (p.scope == Scope::Global ? QStringLiteral("everything") : QStringLiteral("default for each"))
                           : parts.join(QStringLiteral(", "));
}

QVariant PolicyTableModel::data(const QModelIndex &index, int role) const
{
    const PolicyDto *p = index.isValid() ? policyAt(index.row()) : nullptr;
    if (!p)
        return {};
    if (role == PolicyIdRole)
        return p->id;
    if (role == SortRole) {
        switch (index.column()) {
        case IdColumn: return p->id;
        case LimitColumn: return p->limit;
        case WindowColumn: return p->unit == Unit::Concurrent ? qint64(0) : p->windowSeconds;
        default: return data(index, Qt::DisplayRole);
        }
    }
    if (role == Qt::TextAlignmentRole && (index.column() == LimitColumn || index.column() == WindowColumn || index.column() == IdColumn))
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    // Shadow policies (design §11) read apart: grey and italic, "shadow" in the Enabled column.
    if (role == Qt::ForegroundRole && p->shadow)
        return QColor(0x80, 0x80, 0x80);
    if (role == Qt::FontRole && p->shadow) {
        QFont f;
        f.setItalic(true);
        return f;
    }
    if (role == Qt::ToolTipRole && p->shadow)
        return QStringLiteral("Shadow: evaluated and reported, never blocks");
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case IdColumn: return p->id;
    case ScopeColumn: return scopeName(p->scope);
    case SelectorColumn: return selectorText(*p);
    case LimitColumn: {
        // 1,000,000 rather than 1000000: digits grouped whatever the locale's default.
        QLocale locale;
        locale.setNumberOptions(locale.numberOptions() & ~QLocale::OmitGroupSeparator);
        return locale.toString(p->limit);
    }
    case UnitColumn: return p->unit == Unit::Requests ? QStringLiteral("requests") : p->unit == Unit::Tokens ? QStringLiteral("tokens")
                                                                                                             : QStringLiteral("streams");
    case AlgorithmColumn: {
        QString text = p->algorithm == Algorithm::TokenBucket ? QStringLiteral("token bucket, bursts of %1").arg(p->capacity())
                                                              : QStringLiteral("sliding log");
        if (p->adaptive) // follows its GPU pool's factor (design §14)
            text += QStringLiteral(", adaptive ×%1–%2").arg(p->minFactor).arg(p->maxFactor);
        return text;
    }
    case WindowColumn: return p->unit == Unit::Concurrent ? QStringLiteral("at once") : readableWindow(p->windowSeconds);
    case EnabledColumn: return !p->enabled ? QStringLiteral("no") : p->shadow ? QStringLiteral("shadow") : QStringLiteral("yes");
    case DescriptionColumn: return p->description;
    }
    return {};
}

QVariant PolicyTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[] = {"Id", "Scope", "Applies to", "Limit", "Unit", "Algorithm", "Window", "Enabled", "Description"};
    return section >= 0 && section < ColumnCount ? QString::fromLatin1(names[section]) : QVariant();
}

} // namespace sluice
