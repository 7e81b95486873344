// SPDX-License-Identifier: Apache-2.0
#include "topblockedpage.h"

#include "apiclient.h"
#include "message.h"
#include "confirm.h"
#include "windowkey.h"

#include <QJsonArray>
#include <QLocale>
#include <QDateTime>
#include <QLabel>
#include <QPushButton>
#include <QHBoxLayout>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace sluice {

TopBlockedPage::TopBlockedPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    auto *refreshButton = new QPushButton(QStringLiteral("Refresh"));
    auto *resetButton = new QPushButton(QStringLiteral("Reset usage…"));
    auto *watchButton = new QPushButton(QStringLiteral("Watch in Live usage"));
    auto *policyButton = new QPushButton(QStringLiteral("Show its policy"));
    policyButton->setObjectName(QStringLiteral("showPolicy"));
    policyButton->setToolTip(QStringLiteral("The policy that refuses the selected caller, on the Policies page"));
    watchButton->setObjectName(QStringLiteral("watch"));
    resetButton->setObjectName(QStringLiteral("reset"));
    resetButton->setToolTip(QStringLiteral("Empty the selected caller's window: it may send again at once"));
    m_table = new QTreeWidget;
    m_table->setRootIsDecorated(false);
    m_table->setHeaderLabels({QStringLiteral("Blocked"), QStringLiteral("Scope"), QStringLiteral("Who"), QStringLiteral("Key"),
                              QStringLiteral("Last blocked (local time)"), QStringLiteral("Unit")});
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(0, Qt::DescendingOrder); // most blocked first
    m_message = new QLabel;
    keepWithinWidth(m_message);
    auto *layout = new QVBoxLayout(this);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(refreshButton);
    buttons->addWidget(resetButton);
    buttons->addWidget(watchButton);
    buttons->addWidget(policyButton);
    buttons->addStretch(1);
    layout->addLayout(buttons);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_message);
    connect(refreshButton, &QPushButton::clicked, this, &TopBlockedPage::refresh);
    connect(resetButton, &QPushButton::clicked, this, &TopBlockedPage::resetSelected);
    connect(watchButton, &QPushButton::clicked, this, &TopBlockedPage::watchSelected);
    connect(policyButton, &QPushButton::clicked, this, &TopBlockedPage::showSelectedPolicy);
    connect(m_table, &QTreeWidget::itemDoubleClicked, this, &TopBlockedPage::watchSelected);
    auto adminActions = [client, resetButton] {
        resetButton->setEnabled(client->hasAdminToken());
    };
    adminActions();
    connect(client, &ApiClient::serverChanged, this, adminActions);
}

QString TopBlockedPage::message() const { return m_message->text(); }

QTreeWidgetItem *TopBlockedPage::selected()
{
    QTreeWidgetItem *item = m_table->currentItem();
    if (!item) {
        m_message->setText(QStringLiteral("Select a caller first."));
        markError(m_message);
    }
    return item;
}

void TopBlockedPage::resetSelected()
{
    QTreeWidgetItem *item = selected();
    if (!item)
        return;
    const QString key = item->text(3);
    const QString who = item->text(2);
    confirmThen(this, QStringLiteral("confirmReset"), QStringLiteral("Reset usage"),
                QStringLiteral("Empty the window of %1? Its count drops to 0 and it may send again at once.").arg(who), [this, key, who] {
        m_client->resetUsage(key, this, [this, who](const ApiError *error) {
            if (error) {
                m_message->setText(QStringLiteral("Cannot reset %1: %2").arg(who, error->message()));
                markError(m_message);
                return;
            }
            m_note = QStringLiteral("Reset the usage of %1").arg(who); // stays on the line the refresh writes
            refresh();
        });
    });
}

void TopBlockedPage::watchSelected()
{
    QTreeWidgetItem *item = selected();
    if (!item)
        return;
    Q_EMIT watchRequested(item->text(3));
}

void TopBlockedPage::showSelectedPolicy()
{
    QTreeWidgetItem *item = selected();
    if (!item)
        return;
    const QString key = item->text(3);
    m_client->usage({key}, this, [this, key](const QJsonArray &usage, const ApiError *error) {
        if (error) {
            m_message->setText(QStringLiteral("Cannot find the policy of %1: %2").arg(key, error->message()));
            markError(m_message);
            return;
        }
        const QJsonValue id = usage.at(0).toObject().value(QStringLiteral("policyId"));
        if (!id.isDouble()) {
            m_message->setText(QStringLiteral("No policy governs %1 now (deleted or changed since it refused).").arg(key));
            markError(m_message);
            return;
        }
        Q_EMIT policyRequested(id.toInteger());
    });
}

void TopBlockedPage::refresh()
{
    m_client->topBlocked(50, this, [this](const QJsonArray &entries, const ApiError *error) {
        m_table->clear();
        if (error) {
            m_message->setText(QStringLiteral("Cannot read top blocked (%1): %2").arg(error->status()).arg(error->message()));
            markError(m_message);
            Q_EMIT refreshed();
            return;
        }
        m_table->setSortingEnabled(false); // rows in the server's order (most blocked first) until a header is clicked
        for (const QJsonValue &v : entries) {
            const QJsonObject e = v.toObject();
            const QString key = e.value(QStringLiteral("key")).toString();
            const auto parsed = parseWindowKey(key.toUtf8());
            const QString unit = !parsed ? QString()
                                 : QStringLiteral("%1%2").arg(unitName(parsed->unit),
                                                              parsed->algorithm == Algorithm::TokenBucket ? QStringLiteral(" (bucket)") : QString());
            const QDateTime at = QDateTime::fromString(e.value(QStringLiteral("lastBlockedAt")).toString(), Qt::ISODateWithMs);
            auto *item = new QTreeWidgetItem({QString::number(e.value(QStringLiteral("blocked")).toInteger()),
                                              e.value(QStringLiteral("scope")).toString(),
                                              e.value(QStringLiteral("label")).toString(),
                                              key,
                                              at.isValid() ? QLocale().toString(at.toLocalTime(), QStringLiteral("yyyy-MM-dd HH:mm:ss"))
                                                           : e.value(QStringLiteral("lastBlockedAt")).toString(),
                                              unit});
            item->setData(0, Qt::DisplayRole, e.value(QStringLiteral("blocked")).toInteger()); // sorts as a number
            m_table->addTopLevelItem(item);
        }
        m_table->setSortingEnabled(true); // by the header's column again (most blocked first unless clicked)
        for (int c = 0; c < 6; ++c)
            m_table->resizeColumnToContents(c);
        m_message->setText((m_note.isEmpty() ? QString() : m_note + QStringLiteral(" · ")) + QStringLiteral("%1 keys").arg(entries.size()));
        markError(m_message);
        m_note.clear();
        Q_EMIT refreshed();
    });
}

int TopBlockedPage::rows() const { return m_table->topLevelItemCount(); }

} // namespace sluice
