// SPDX-License-Identifier: Apache-2.0
#include "serverpage.h"

#include "apiclient.h"
#include "models/metricstext.h"

#include <QFrame>
#include <QGridLayout>
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
    const std::pair<const char *, const char *> fields[] = {
        {"store", "Store"},          {"breaker", "Circuit breaker"}, {"failureMode", "Failure mode"},
        {"registry", "Registry"},    {"snapshotAge", "Snapshot age"}, {"policies", "Policies"},
        {"checksPerSecond", "Checks per second"}, {"blockedPerSecond", "Blocked per second"},
        {"history", "Usage history"}, {"uptime", "Up for"}, {"version", "Version"}};
    auto *panel = new QFrame;
    panel->setFrameShape(QFrame::StyledPanel);
    auto *grid = new QGridLayout(panel);
    int i = 0;
    for (const auto &[key, title] : fields) {
        auto *name = new QLabel(QString::fromUtf8(title));
        name->setStyleSheet(QStringLiteral("color: palette(mid)"));
        auto *value = new QLabel(QStringLiteral("—"));
        value->setObjectName(QStringLiteral("value-%1").arg(QLatin1String(key)));
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        QFont vf = value->font();
        vf.setPointSize(vf.pointSize() + 2);
        value->setFont(vf);
        m_values.insert(QLatin1String(key), value);
        grid->addWidget(name, (i / 3) * 2, i % 3);
        grid->addWidget(value, (i / 3) * 2 + 1, i % 3);
        ++i;
    }
    m_details = new QTreeWidget;
    m_details->setHeaderLabels({QStringLiteral("Field"), QStringLiteral("Value")});
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_status);
    layout->addWidget(panel);
    layout->addWidget(new QLabel(QStringLiteral("All of /health:")));
    layout->addWidget(m_details, 1);
    connect(client, &ApiClient::serverChanged, this, [this] {
        m_lastDecisions.reset(); // a rate across two servers means nothing
        m_lastBlocked.reset();
        m_sinceLastMetrics.invalidate();
    });
    m_timer.setInterval(2000);
    connect(&m_timer, &QTimer::timeout, this, &ServerPage::refresh);
}

void ServerPage::refresh()
{
    m_client->health(this, [this](bool ok, const QJsonObject &health) {
        m_details->clear();
        if (!ok) {
            m_status->setText(QStringLiteral("unreachable: %1").arg(m_client->server().toString()));
            m_status->setStyleSheet(QStringLiteral("color: #b3261e"));
            for (QLabel *v : std::as_const(m_values))
                v->setText(QStringLiteral("—"));
            m_lastDecisions.reset();
            Q_EMIT refreshed(false);
            return;
        }
        const QString state = health.value(QStringLiteral("status")).toString();
        m_status->setText(QStringLiteral("%1 · %2").arg(state, m_client->server().toString()));
        m_status->setStyleSheet(state == QLatin1String("ok") ? QStringLiteral("color: #1b7f3b") : QStringLiteral("color: #b26a00"));
        const QJsonObject store = health.value(QStringLiteral("store")).toObject();
        const QJsonObject registry = health.value(QStringLiteral("registry")).toObject();
        const QJsonObject history = health.value(QStringLiteral("usageHistory")).toObject();
        const QString storeStatus = store.value(QStringLiteral("status")).toString();
        setValue(QStringLiteral("store"), QStringLiteral("%1 · %2").arg(store.value(QStringLiteral("source")).toString(), storeStatus),
                 storeStatus != QLatin1String("ok"));
        const QJsonValue breaker = store.value(QStringLiteral("breaker")).toObject().value(QStringLiteral("state"));
        setValue(QStringLiteral("breaker"), breaker.isString() ? breaker.toString() : QStringLiteral("none (memory store)"),
                 breaker.isString() && breaker.toString() != QLatin1String("closed"));
        setValue(QStringLiteral("failureMode"), health.value(QStringLiteral("failureMode")).toString());
        const QString registryStatus = registry.value(QStringLiteral("status")).toString();
        QString registryText = QStringLiteral("%1 · %2").arg(registry.value(QStringLiteral("source")).toString(), registryStatus);
        if (registry.contains(QStringLiteral("lastError")))
            registryText += QStringLiteral(" (%1)").arg(registry.value(QStringLiteral("lastError")).toString());
        setValue(QStringLiteral("registry"), registryText, registryStatus != QLatin1String("ok"));
        setValue(QStringLiteral("snapshotAge"), QStringLiteral("%1 s").arg(registry.value(QStringLiteral("snapshotAgeSeconds")).toInteger()));
        setValue(QStringLiteral("policies"), QString::number(registry.value(QStringLiteral("policies")).toInteger()));
        const qint64 dropped = history.value(QStringLiteral("droppedRows")).toInteger();
        setValue(QStringLiteral("history"),
                 QStringLiteral("%1 · %2 rows waiting · %3 dropped")
                     .arg(history.value(QStringLiteral("source")).toString())
                     .arg(history.value(QStringLiteral("pendingRows")).toInteger())
                     .arg(dropped),
                 dropped > 0);
        const qint64 up = health.value(QStringLiteral("uptimeSeconds")).toInteger();
        setValue(QStringLiteral("uptime"), up < 120 ? QStringLiteral("%1 s").arg(up)
                                          : up < 7200 ? QStringLiteral("%1 min").arg(up / 60)
                                                      : QStringLiteral("%1 h %2 min").arg(up / 3600).arg((up % 3600) / 60));
        setValue(QStringLiteral("version"), health.value(QStringLiteral("version")).toString());
        readMetrics();
        for (auto it = health.begin(); it != health.end(); ++it)
            addJson(nullptr, m_details, it.key(), it.value());
        m_details->resizeColumnToContents(0);
        Q_EMIT refreshed(true);
    });
}

QString ServerPage::status() const { return m_status->text(); }

QString ServerPage::value(const QString &field) const
{
    const QLabel *l = m_values.value(field);
    return l ? l->text() : QString();
}

void ServerPage::setValue(const QString &field, const QString &text, bool bad)
{
    if (QLabel *l = m_values.value(field)) {
        l->setText(text);
        l->setStyleSheet(bad ? QStringLiteral("color: #b3261e") : QString());
    }
}

void ServerPage::readMetrics()
{
    m_client->metrics(this, [this](bool ok, const QByteArray &text) {
        if (!ok)
            return;
        const auto decisions = sumOfMetric(text, "sluice_decisions_total");
        const auto blocked = sumOfMetric(text, "sluice_decisions_total", "result=\"blocked\"");
        const double seconds = m_sinceLastMetrics.isValid() ? m_sinceLastMetrics.restart() / 1000.0 : 0;
        if (!m_sinceLastMetrics.isValid())
            m_sinceLastMetrics.start();
        // A rate needs two readings; a counter that went down means the server restarted.
        if (m_lastDecisions && seconds > 0.2 && decisions.value_or(0) >= *m_lastDecisions) {
            setValue(QStringLiteral("checksPerSecond"), QString::number((decisions.value_or(0) - *m_lastDecisions) / seconds, 'f', 1));
            setValue(QStringLiteral("blockedPerSecond"), QString::number((blocked.value_or(0) - m_lastBlocked.value_or(0)) / seconds, 'f', 1));
        } else {
            setValue(QStringLiteral("checksPerSecond"), QStringLiteral("measuring…"));
            setValue(QStringLiteral("blockedPerSecond"), QStringLiteral("measuring…"));
        }
        m_lastDecisions = decisions.value_or(0);
        m_lastBlocked = blocked.value_or(0);
    });
}

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
