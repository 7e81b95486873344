// SPDX-License-Identifier: Apache-2.0
#include "callerpolicies.h"

#include "message.h"
#include "unit.h"

#include <QHeaderView>
#include <QJsonObject>
#include <QLabel>
#include <QLocale>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace sluice {

QString unitSuffix(Unit unit)
{
    return unit == Unit::Tokens ? QStringLiteral(" tokens") : unit == Unit::Concurrent ? QStringLiteral(" held") : QString();
}

QString usageWindowText(const PolicyUsage &u)
{
    if (u.unit == Unit::Concurrent)
        return QStringLiteral("at once");
    if (u.algorithm == Algorithm::TokenBucket)
        return QStringLiteral("bucket, refills per %1").arg(readableWindow(u.windowSeconds));
    return readableWindow(u.windowSeconds);
}

namespace {
enum Column { LabelColumn, CountColumn, WindowColumn, LeftColumn, RefusedColumn, StateColumn, ColumnCount };
}

CallerPolicies::CallerPolicies(QWidget *parent) : QWidget(parent)
{
    m_caption = new QLabel;
    m_caption->setObjectName(QStringLiteral("callerPoliciesCaption"));
    m_caption->setWordWrap(true);
    m_table = new QTreeWidget;
    m_table->setObjectName(QStringLiteral("callerPolicies"));
    m_table->setRootIsDecorated(false);
    m_table->setHeaderLabels({QStringLiteral("Policy"), QStringLiteral("Used / limit"), QStringLiteral("Window"), QStringLiteral("Left"),
                              QStringLiteral("Refused"), QString()});
    m_table->headerItem()->setToolTip(RefusedColumn, QStringLiteral("Checks this policy refused since the server started"));
    m_table->setMaximumHeight(m_table->fontMetrics().height() * 9);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_caption);
    layout->addWidget(m_table);
    clear(QStringLiteral("Name a user and a model and press Watch: every policy a check of them goes through is listed here."));
}

void CallerPolicies::setPolicies(const QString &caller, const QList<PolicyUsage> &policies)
{
    // (The explanation's counts include the request it looked at: rows wait for the stream's.)
    m_policies = policies;
    for (PolicyUsage &u : m_policies)
        u.violated = false;
    m_refused.clear();
    m_read.clear();
    m_gone.clear();
    m_caption->setText(QStringLiteral("Every policy a check of %1 goes through (live; the one that binds is highlighted):").arg(caller));
    markError(m_caption);
    redraw();
}

void CallerPolicies::clear(const QString &why)
{
    m_policies.clear();
    m_refused.clear();
    m_read.clear();
    m_gone.clear();
    m_caption->setText(why);
    markError(m_caption);
    redraw();
}

QList<QByteArray> CallerPolicies::keys() const
{
    QList<QByteArray> out;
    for (const PolicyUsage &u : m_policies)
        out << u.key;
    return out;
}

void CallerPolicies::update(const QJsonObject &k)
{
    const QByteArray key = k.value(QStringLiteral("key")).toString().toUtf8();
    bool changed = false;
    for (PolicyUsage &u : m_policies) {
        if (u.key != key)
            continue;
        const QJsonValue limit = k.value(QStringLiteral("limit"));
        if (limit.isDouble()) {
            u.limit = limit.toInteger();
            u.count = k.value(QStringLiteral("count")).toInteger();
            u.remaining = k.value(QStringLiteral("remaining")).toInteger();
            m_read.insert(key);
            m_gone.remove(key);
        } else {
            m_gone.insert(key); // (null: no policy governs the key any more: the row says so)
        }
        // At its limit the next check is refused (a request's weight is at least 1).
        u.violated = !u.shadow && !m_gone.contains(key) && u.remaining <= 0;
        if (k.value(QStringLiteral("blocked")).isDouble())
            m_refused.insert(key, k.value(QStringLiteral("blocked")).toInteger());
        changed = true;
    }
    if (changed)
        redraw();
}

void CallerPolicies::redraw()
{
    m_table->clear();
    const int binding = bindingIndex();
    const QLocale locale;
    for (int i = 0; i < m_policies.size(); ++i) {
        const PolicyUsage &u = m_policies.at(i);
        const bool gone = m_gone.contains(u.key);
        const bool read = m_read.contains(u.key) && !gone;
        const QString state = gone ? QStringLiteral("no longer applies (policy removed)")
            : u.shadow ? QStringLiteral("shadow (never refuses)")
            : i == binding            ? (u.violated ? QStringLiteral("binds: refuses the next check") : QStringLiteral("binds"))
            : u.violated              ? QStringLiteral("at its limit")
                                      : QString();
        const qint64 refused = m_refused.value(u.key, 0);
        auto *item = new QTreeWidgetItem({u.label,
                                          QStringLiteral("%1 / %2%3").arg(read ? locale.toString(u.count) : QStringLiteral("—"), locale.toString(u.limit), unitSuffix(u.unit)),
                                          usageWindowText(u), read ? locale.toString(std::max<qint64>(0, u.remaining)) : QStringLiteral("—"),
                                          refused ? locale.toString(refused) : QString(), state});
        for (int c : {CountColumn, LeftColumn, RefusedColumn})
            item->setTextAlignment(c, Qt::AlignRight | Qt::AlignVCenter);
        QFont font = item->font(0);
        if (u.shadow || gone) {
            font.setItalic(true);
            for (int c = 0; c < ColumnCount; ++c)
                item->setForeground(c, QColor(0x80, 0x80, 0x80));
        } else if (u.violated) {
            for (int c = 0; c < ColumnCount; ++c)
                item->setForeground(c, QColor(0xb3, 0x26, 0x1e));
        }
        if (i == binding) {
            font.setBold(true);
            for (int c = 0; c < ColumnCount; ++c)
                item->setBackground(c, QColor(0xff, 0xf1, 0xc7));
        }
        for (int c = 0; c < ColumnCount; ++c)
            item->setFont(c, font);
        m_table->addTopLevelItem(item);
    }
    for (int c = 0; c < ColumnCount; ++c)
        m_table->resizeColumnToContents(c);
}

QString CallerPolicies::caption() const { return m_caption->text(); }

QStringList CallerPolicies::rows() const
{
    QStringList out;
    for (int i = 0; i < m_table->topLevelItemCount(); ++i) {
        const QTreeWidgetItem *item = m_table->topLevelItem(i);
        QStringList cells;
        for (int c : {LabelColumn, CountColumn, LeftColumn, RefusedColumn, StateColumn})
            cells << item->text(c);
        out << cells.join(QLatin1Char('|'));
    }
    return out;
}

int CallerPolicies::bindingIndex() const
{
    if (m_read.isEmpty())
        return -1;
    QList<PolicyUsage> live = m_policies;
    for (PolicyUsage &u : live)
        u.shadow = u.shadow || m_gone.contains(u.key); // (a row that no longer applies never binds)
    return bindingPolicy(live);
}

QString CallerPolicies::binding() const
{
    const int i = bindingIndex();
    return i >= 0 ? m_policies.at(i).label : QString();
}

} // namespace sluice
