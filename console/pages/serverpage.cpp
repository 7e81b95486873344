// SPDX-License-Identifier: Apache-2.0
#include "serverpage.h"

#include "apiclient.h"

#include <QJsonArray>
#include <QLabel>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace sluice {

namespace {
void addJson(QTreeWidgetItem *parent, QTreeWidget *tree, const QString &key, const QJsonValue &v)
{
    auto *item = parent ? new QTreeWidgetItem(parent) : new QTreeWidgetItem(tree);
    item->setText(0, key);
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            addJson(item, tree, it.key(), it.value());
        item->setExpanded(true);
    } else if (v.isArray()) {
        const QJsonArray a = v.toArray();
        for (int i = 0; i < a.size(); ++i)
            addJson(item, tree, QString::number(i), a.at(i));
        item->setExpanded(true);
    } else {
        item->setText(1, v.isBool() ? (v.toBool() ? QStringLiteral("true") : QStringLiteral("false")) : v.toVariant().toString());
    }
}
} // namespace

ServerPage::ServerPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_status = new QLabel(QStringLiteral("—"));
    m_status->setObjectName(QStringLiteral("status"));
    QFont f = m_status->font();
    f.setBold(true);
    f.setPointSize(f.pointSize() + 4);
    m_status->setFont(f);
    m_details = new QTreeWidget;
    m_details->setHeaderLabels({QStringLiteral("Field"), QStringLiteral("Value")});
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_status);
    layout->addWidget(m_details, 1);
    m_timer.setInterval(2000);
    connect(&m_timer, &QTimer::timeout, this, &ServerPage::refresh);
}

void ServerPage::refresh()
{
    m_client->health(this, [this](bool ok, const QJsonObject &health) {
        m_details->clear();
        if (!ok) {
            m_status->setText(QStringLiteral("unreachable: %1").arg(m_client->server().toString()));
            Q_EMIT refreshed(false);
            return;
        }
        m_status->setText(QStringLiteral("%1 · %2").arg(health.value(QStringLiteral("status")).toString(), m_client->server().toString()));
        for (auto it = health.begin(); it != health.end(); ++it)
            addJson(nullptr, m_details, it.key(), it.value());
        m_details->resizeColumnToContents(0);
        Q_EMIT refreshed(true);
    });
}

QString ServerPage::status() const { return m_status->text(); }

void ServerPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    refresh();
    m_timer.start();
}

void ServerPage::hideEvent(QHideEvent *event)
{
    QWidget::hideEvent(event);
    m_timer.stop();
}

} // namespace sluice
