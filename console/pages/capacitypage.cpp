// SPDX-License-Identifier: Apache-2.0
#include "capacitypage.h"

#include "apiclient.h"
#include "message.h"
#include "charttheme.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonObject>
#include <QLabel>
#include <QLineSeries>
#include <QPen>
#include <QPushButton>
#include <QSplitter>
#include <QTimer>
#include <QTreeWidget>
#include <QValueAxis>
#include <QVBoxLayout>
#include <algorithm>
#include <memory>

namespace sluice {

namespace {
constexpr qint64 kHistoryMs = 10 * 60 * 1000;
const char *const kKinds[] = {"tenants", "tiers", "api-keys"};
const char *const kKindNames[] = {"Tenant", "Model tier", "API key"};

QString ratio(const QJsonValue &v) { return v.isDouble() ? QString::number(v.toDouble(), 'f', 2) : QStringLiteral("—"); }

QString idText(const QJsonValue &v) { return v.isDouble() ? QString::number(v.toInteger()) : v.toString(); }

// Where the signal comes from and how old it is; a stale pool says what that means.
QString signalText(const QJsonObject &pool)
{
    const QJsonObject signal = pool.value(QStringLiteral("signal")).toObject();
    const QString source = signal.value(QStringLiteral("source")).toString();
    QString text = source.isEmpty() ? QStringLiteral("no signal") : source;
    if (signal.value(QStringLiteral("ageSeconds")).isDouble())
        text += QStringLiteral(", %1 s old").arg(signal.value(QStringLiteral("ageSeconds")).toDouble(), 0, 'f', 1);
    if (pool.value(QStringLiteral("stale")).toBool())
        text += QStringLiteral(" — stale: static limits, nothing shed");
    const QJsonObject errors = signal.value(QStringLiteral("errors")).toObject();
    for (auto it = errors.begin(); it != errors.end(); ++it)
        text += QStringLiteral(" · %1: %2").arg(it.key(), it.value().toString());
    return text;
}
} // namespace

CapacityPage::CapacityPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    auto *refreshButton = new QPushButton(QStringLiteral("Refresh"));
    m_pools = new QTreeWidget;
    m_pools->setObjectName(QStringLiteral("pools"));
    m_pools->setRootIsDecorated(false);
    m_pools->setHeaderLabels({QStringLiteral("Pool"), QStringLiteral("Models"), QStringLiteral("Saturation"), QStringLiteral("Factor"),
                              QStringLiteral("Queue"), QStringLiteral("KV cache"), QStringLiteral("Signal"),
                              QStringLiteral("Shed: critical / standard / sheddable")});
    m_pools->headerItem()->setToolTip(Saturation, QStringLiteral("max(queue / queueThreshold, kvCache / kvCacheThreshold); above 1 the "
                                                                 "pool is saturated: sheddable traffic is refused, standard scaled"));
    m_pools->headerItem()->setToolTip(Factor, QStringLiteral("what adaptive limits are multiplied by (one factor for the whole fleet)"));

    m_chartPool = new QComboBox;
    m_chartPool->setObjectName(QStringLiteral("chartPool"));
    m_chart = themedChart(new QChart);
    m_chart->setMargins(QMargins(4, 4, 4, 4));
    m_x = new QDateTimeAxis;
    m_x->setFormat(QStringLiteral("HH:mm:ss"));
    m_x->setTickCount(6);
    m_y = new QValueAxis;
    m_y->setLabelFormat(QStringLiteral("%.1f"));
    m_y->setTitleText(QStringLiteral("ratio"));
    m_chart->addAxis(m_x, Qt::AlignBottom);
    m_chart->addAxis(m_y, Qt::AlignLeft);
    m_saturation = new QLineSeries;
    m_saturation->setName(QStringLiteral("saturation"));
    m_factor = new QLineSeries;
    m_factor->setName(QStringLiteral("factor"));
    m_threshold = new QLineSeries;
    m_threshold->setName(QStringLiteral("saturated above 1 (last 10 minutes)"));
    for (QLineSeries *s : {m_saturation, m_factor, m_threshold}) {
        m_chart->addSeries(s);
        s->attachAxis(m_x);
        s->attachAxis(m_y);
    }
    // Colours of their own, whatever the theme: red saturation, blue factor, a grey dashed line at 1.
    m_saturation->setPen(QPen(QColor(0xd3, 0x2f, 0x2f), 2));
    m_factor->setPen(QPen(QColor(0x19, 0x76, 0xd2), 2));
    QPen dashed(QColor(0x9e, 0x9e, 0x9e), 1, Qt::DashLine);
    m_threshold->setPen(dashed);
    auto *view = new QChartView(m_chart);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(220);

    m_priorities = new QTreeWidget;
    m_priorities->setObjectName(QStringLiteral("priorities"));
    m_priorities->setRootIsDecorated(false);
    m_priorities->setHeaderLabels({QStringLiteral("Kind"), QStringLiteral("Id"), QStringLiteral("Priority")});
    m_kind = new QComboBox;
    m_kind->setObjectName(QStringLiteral("priorityKind"));
    for (int i = 0; i < 3; ++i)
        m_kind->addItem(QString::fromLatin1(kKindNames[i]), QString::fromLatin1(kKinds[i]));
    m_id = new QComboBox;
    m_id->setObjectName(QStringLiteral("priorityId"));
    m_id->setEditable(true);
    m_id->setMinimumContentsLength(16);
    m_priority = new QComboBox;
    m_priority->setObjectName(QStringLiteral("priorityClass"));
    m_priority->addItem(QStringLiteral("critical"), QStringLiteral("critical"));
    m_priority->addItem(QStringLiteral("standard"), QStringLiteral("standard"));
    m_priority->addItem(QStringLiteral("sheddable"), QStringLiteral("sheddable"));
    m_priority->addItem(QStringLiteral("inherit (unset)"), QString());
    m_set = new QPushButton(QStringLiteral("Set priority"));
    m_set->setObjectName(QStringLiteral("setPriority"));
    m_set->setToolTip(QStringLiteral("The API key's class wins, then the tenant's, then the model tier's; standard when none is set"));
    m_message = new QLabel;
    m_message->setObjectName(QStringLiteral("capacityMessage"));
    keepWithinWidth(m_message);

    auto *top = new QHBoxLayout;
    top->addWidget(refreshButton);
    top->addWidget(new QLabel(QStringLiteral("Chart:")));
    top->addWidget(m_chartPool);
    top->addStretch(1);
    auto *form = new QHBoxLayout;
    form->addWidget(m_kind);
    form->addWidget(m_id, 1);
    form->addWidget(m_priority);
    form->addWidget(m_set);
    auto *priorityBox = new QGroupBox(QStringLiteral("Priority classes (critical: static limits only; sheddable: paused while its pool is saturated)"));
    auto *priorityLayout = new QVBoxLayout(priorityBox);
    priorityLayout->addWidget(m_priorities, 1);
    priorityLayout->addLayout(form);

    auto *splitter = new QSplitter(Qt::Vertical);
    splitter->addWidget(m_pools);
    splitter->addWidget(view);
    splitter->addWidget(priorityBox);
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setStretchFactor(2, 0);
    splitter->setSizes({90, 300, 170});
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(splitter, 1);
    layout->addWidget(m_message);

    m_timer = new QTimer(this);
    m_timer->setInterval(2000);
    connect(m_timer, &QTimer::timeout, this, &CapacityPage::refresh);
    connect(refreshButton, &QPushButton::clicked, this, [this] {
        refresh();
        refreshPriorities();
    });
    connect(m_chartPool, &QComboBox::currentTextChanged, this, &CapacityPage::drawChart);
    connect(m_pools, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem *item) {
        if (item)
            m_chartPool->setCurrentText(item->text(Pool));
    });
    connect(m_kind, &QComboBox::currentIndexChanged, this, &CapacityPage::fillIds);
    connect(m_priorities, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem *item) {
        if (item)
            pickPriority(m_kind->itemData(m_kind->findText(item->text(0))).toString(), item->text(1), item->text(2));
    });
    connect(m_set, &QPushButton::clicked, this, &CapacityPage::setPriority);
    // The pools are read every 2 s from the start, shown or not, so the chart has the last 10
    // minutes when an operator opens the page (one small GET; only with an admin token).
    auto adminActions = [this, client] {
        // Another server (or token): nothing of the last one stays, and its answers still on
        // the way are dropped.
        ++m_generation;
        m_busy = m_prioritiesBusy = false;
        m_set->setEnabled(client->hasAdminToken());
        m_history.clear();
        m_pools->clear();
        m_priorities->clear();
        drawChart();
        if (client->hasAdminToken())
            m_timer->start();
        else
            m_timer->stop();
    };
    adminActions();
    connect(client, &ApiClient::serverChanged, this, adminActions);
}

void CapacityPage::fillIds()
{
    const QString kind = m_kind->currentText();
    const QString typed = m_id->currentText();
    m_id->clear();
    for (int i = 0; i < m_priorities->topLevelItemCount(); ++i)
        if (m_priorities->topLevelItem(i)->text(0) == kind)
            m_id->addItem(m_priorities->topLevelItem(i)->text(1));
    m_id->setCurrentText(typed);
}

void CapacityPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    refresh();
    refreshPriorities();
}

void CapacityPage::setPollInterval(int ms) { m_timer->setInterval(ms); }

int CapacityPage::poolCount() const { return m_pools->topLevelItemCount(); }

QString CapacityPage::poolCell(int row, int column) const
{
    const QTreeWidgetItem *item = m_pools->topLevelItem(row);
    return item ? item->text(column) : QString();
}

QString CapacityPage::message() const { return m_message->text(); }

void CapacityPage::say(const QString &text, bool error)
{
    m_message->setText(text);
    m_message->setStyleSheet(error ? QStringLiteral("color: #b3261e") : QString());
}

void CapacityPage::refresh()
{
    if (m_busy)
        return; // one read at a time: a slow server is not asked again before it answered
    m_busy = true;
    m_client->pools(this, [this, generation = m_generation](const QJsonArray &pools, const ApiError *error) {
        if (generation != m_generation)
            return; // an answer of the server before
        m_busy = false;
        if (error) {
            // Nothing stale stays on screen as if it were live.
            m_pools->clear();
            say(QStringLiteral("Cannot read the pools (%1): %2").arg(error->status()).arg(error->message()), true);
            Q_EMIT refreshed(false);
            return;
        }
        showPools(pools);
        Q_EMIT refreshed(true);
    });
}

void CapacityPage::showPools(const QJsonArray &pools)
{
    const QString selected = m_chartPool->currentText();
    const QString current = m_pools->currentItem() ? m_pools->currentItem()->text(Pool) : QString();
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    m_pools->clear();
    QStringList names;
    for (const QJsonValue &v : pools) {
        const QJsonObject p = v.toObject();
        const QString name = p.value(QStringLiteral("name")).toString();
        names << name;
        QStringList models;
        for (const QJsonValue &m : p.value(QStringLiteral("models")).toArray())
            models << m.toString();
        const QJsonObject shed = p.value(QStringLiteral("shed")).toObject();
        const bool saturated = p.value(QStringLiteral("saturated")).toBool();
        const bool stale = p.value(QStringLiteral("stale")).toBool();
        auto *item = new QTreeWidgetItem(
            {name, models.join(QStringLiteral(", ")),
             ratio(p.value(QStringLiteral("saturation"))) + (saturated ? QStringLiteral(" saturated") : QString()),
             ratio(p.value(QStringLiteral("factor"))),
             QStringLiteral("%1 (limit %2)").arg(ratio(p.value(QStringLiteral("queue"))), ratio(p.value(QStringLiteral("queueThreshold")))),
             QStringLiteral("%1 (limit %2)").arg(ratio(p.value(QStringLiteral("kvCache"))), ratio(p.value(QStringLiteral("kvCacheThreshold")))),
             signalText(p),
             QStringLiteral("%1 / %2 / %3")
                 .arg(shed.value(QStringLiteral("critical")).toInteger())
                 .arg(shed.value(QStringLiteral("standard")).toInteger())
                 .arg(shed.value(QStringLiteral("sheddable")).toInteger())});
        if (saturated)
            item->setForeground(Saturation, QColor(0xb3, 0x26, 0x1e));
        if (stale)
            item->setForeground(Signal, QColor(0xa1, 0x5c, 0x00));
        m_pools->addTopLevelItem(item);
        if (name == current)
            m_pools->setCurrentItem(item); // the operator's selection survives the refresh
        QList<Point> &history = m_history[name];
        history.append({now, p.value(QStringLiteral("saturation")).toDouble(), p.value(QStringLiteral("factor")).toDouble(1)});
        while (!history.isEmpty() && history.first().atMs < now - kHistoryMs)
            history.removeFirst();
    }
    for (int c = 0; c < Columns; ++c)
        m_pools->resizeColumnToContents(c);
    // Pools gone from the registry leave the picker and the history.
    for (auto it = m_history.begin(); it != m_history.end();)
        it = names.contains(it.key()) ? std::next(it) : m_history.erase(it);
    {
        const QSignalBlocker block(m_chartPool);
        m_chartPool->clear();
        m_chartPool->addItems(names);
        m_chartPool->setCurrentText(names.contains(selected) ? selected : names.value(0));
    }
    drawChart();
    if (pools.isEmpty())
        say(QStringLiteral("No GPU pools in the registry: every limit is static (add pools to the registry, design §14)."), false);
    else if (!m_message->text().startsWith(QStringLiteral("Set ")))
        say(QStringLiteral("%1 · read %2").arg(pools.size() == 1 ? QStringLiteral("1 pool") : QStringLiteral("%1 pools").arg(pools.size())).arg(QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"))), false);
}

void CapacityPage::drawChart()
{
    const QList<Point> history = m_history.value(m_chartPool->currentText());
    QList<QPointF> saturation, factor;
    double top = 1.5;
    for (const Point &p : history) {
        saturation.append(QPointF(p.atMs, p.saturation));
        factor.append(QPointF(p.atMs, p.factor));
        top = std::max({top, p.saturation * 1.1, p.factor * 1.1});
    }
    m_saturation->replace(saturation);
    m_factor->replace(factor);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const qint64 from = history.isEmpty() ? now - 60000 : std::min(history.first().atMs, now - 60000);
    m_threshold->replace({QPointF(from, 1), QPointF(now, 1)});
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(from), QDateTime::fromMSecsSinceEpoch(now));
    m_y->setRange(0, top);
}

void CapacityPage::refreshPriorities()
{
    if (m_prioritiesBusy)
        return;
    m_prioritiesBusy = true;
    auto rows = std::make_shared<QList<QStringList>>();
    auto pending = std::make_shared<int>(3);
    auto failed = std::make_shared<QString>();
    for (int i = 0; i < 3; ++i) {
        const QString kindName = QString::fromLatin1(kKindNames[i]);
        auto collect = [this, rows, pending, failed, kindName, generation = m_generation](const QJsonArray &array, const ApiError *error) {
            if (generation != m_generation)
                return; // an answer of the server before
            if (error)
                *failed = error->message();
            for (const QJsonValue &v : array) {
                const QJsonObject o = v.toObject();
                const QString priority = o.value(QStringLiteral("priority")).toString();
                rows->append({kindName, idText(o.value(QStringLiteral("id"))), priority.isEmpty() ? QStringLiteral("inherit") : priority});
            }
            if (--*pending > 0)
                return;
            m_prioritiesBusy = false;
            m_priorities->clear();
            for (const QStringList &r : std::as_const(*rows))
                m_priorities->addTopLevelItem(new QTreeWidgetItem(r));
            m_priorities->resizeColumnToContents(0);
            m_priorities->resizeColumnToContents(1);
            fillIds();
            if (!failed->isEmpty())
                say(QStringLiteral("Cannot read the priorities: %1").arg(*failed), true);
            Q_EMIT prioritiesRefreshed(failed->isEmpty());
        };
        if (i == 2)
            m_client->listApiKeys(this, collect);
        else
            m_client->registry(QString::fromLatin1(kKinds[i]), this, collect);
    }
}

void CapacityPage::pickPriority(const QString &kind, const QString &id, const QString &priority)
{
    const int k = m_kind->findData(kind);
    if (k >= 0)
        m_kind->setCurrentIndex(k);
    m_id->setCurrentText(id);
    const int p = m_priority->findData(priority == QStringLiteral("inherit") ? QString() : priority);
    if (p >= 0)
        m_priority->setCurrentIndex(p);
}

void CapacityPage::setPriority()
{
    const QString kind = m_kind->currentData().toString();
    const QString id = m_id->currentText().trimmed();
    const QString priority = m_priority->currentData().toString();
    if (id.isEmpty()) {
        say(QStringLiteral("Pick or type the %1 whose priority to set.").arg(m_kind->currentText().toLower()), true);
        Q_EMIT prioritySet(false);
        return;
    }
    const QString what = QStringLiteral("%1 %2").arg(m_kind->currentText().toLower(), id);
    m_set->setEnabled(false);
    m_client->setPriority(kind, id, priority, this, [this, what, priority](const ApiError *error) {
        m_set->setEnabled(m_client->hasAdminToken());
        if (error) {
            say(QStringLiteral("Cannot set the priority of %1 (%2): %3").arg(what).arg(error->status()).arg(error->message()), true);
            Q_EMIT prioritySet(false);
            return;
        }
        say(QStringLiteral("Set %1 to %2 (every instance applies it within a second)")
                .arg(what, priority.isEmpty() ? QStringLiteral("inherit") : priority),
            false);
        refreshPriorities();
        Q_EMIT prioritySet(true);
    });
}

} // namespace sluice
