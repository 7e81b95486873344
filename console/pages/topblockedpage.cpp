// SPDX-License-Identifier: Apache-2.0
#include "topblockedpage.h"

#include "apiclient.h"

#include <QJsonArray>
#include <QLabel>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace sluice {

TopBlockedPage::TopBlockedPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    auto *refreshButton = new QPushButton(QStringLiteral("Refresh"));
    m_table = new QTreeWidget;
    m_table->setRootIsDecorated(false);
    m_table->setHeaderLabels({QStringLiteral("Blocked"), QStringLiteral("Scope"), QStringLiteral("Who"), QStringLiteral("Key"),
                              QStringLiteral("Last blocked")});
    m_message = new QLabel;
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(refreshButton, 0, Qt::AlignLeft);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_message);
    connect(refreshButton, &QPushButton::clicked, this, &TopBlockedPage::refresh);
}

void TopBlockedPage::refresh()
{
    m_client->topBlocked(50, this, [this](const QJsonArray &entries, const ApiError *error) {
        m_table->clear();
        if (error) {
            m_message->setText(QStringLiteral("Cannot read top blocked (%1): %2").arg(error->status()).arg(error->message()));
            Q_EMIT refreshed();
            return;
        }
        for (const QJsonValue &v : entries) {
            const QJsonObject e = v.toObject();
            m_table->addTopLevelItem(new QTreeWidgetItem({QString::number(e.value(QStringLiteral("blocked")).toInteger()),
                                                          e.value(QStringLiteral("scope")).toString(),
                                                          e.value(QStringLiteral("label")).toString(),
                                                          e.value(QStringLiteral("key")).toString(),
                                                          e.value(QStringLiteral("lastBlockedAt")).toString()}));
        }
        for (int c = 0; c < 5; ++c)
            m_table->resizeColumnToContents(c);
        m_message->setText(QStringLiteral("%1 keys").arg(entries.size()));
        Q_EMIT refreshed();
    });
}

int TopBlockedPage::rows() const { return m_table->topLevelItemCount(); }

} // namespace sluice
