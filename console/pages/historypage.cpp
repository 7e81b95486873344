// SPDX-License-Identifier: Apache-2.0
#include "historypage.h"

#include "apiclient.h"
#include "message.h"
#include "charttheme.h"
#include "models/analyticsmodel.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDateTimeAxis>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QStackedBarSeries>
#include <QTableView>
#include <QValueAxis>
#include <QVBoxLayout>

namespace sluice {

namespace {
// range index → (seconds back, step seconds): 60 one-minute bars, 24 hourly, 28 six-hourly
constexpr qint64 kRanges[][2] = {{3600, 60}, {86400, 3600}, {7 * 86400, 6 * 3600}};
} // namespace

HistoryPage::HistoryPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_model = new AnalyticsModel(this);
    m_range = new QComboBox;
    m_range->addItems({QStringLiteral("Last hour"), QStringLiteral("Last day"), QStringLiteral("Last week")});
    m_groupBy = new QComboBox;
    m_groupBy->addItem(QStringLiteral("By tenant"), QStringLiteral("tenant"));
    m_groupBy->addItem(QStringLiteral("By model"), QStringLiteral("model"));
    m_groupBy->addItem(QStringLiteral("By scope"), QStringLiteral("scope"));
    auto *refreshButton = new QPushButton(QStringLiteral("Refresh"));
    auto *bar = new QHBoxLayout;
    bar->addWidget(m_range);
    bar->addWidget(m_groupBy);
    bar->addWidget(refreshButton);
    bar->addStretch(1);

    m_chart = themedChart(new QChart);
    m_chart->legend()->setAlignment(Qt::AlignBottom);
    m_chart->setMargins(QMargins(4, 4, 4, 4));
    auto *view = new QChartView(m_chart);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(220);

    m_table = new QTableView;
    m_table->setModel(m_model);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_message = new QLabel;
    keepWithinWidth(m_message);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(view, 2);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_message);
    connect(refreshButton, &QPushButton::clicked, this, &HistoryPage::refresh);
    connect(m_range, &QComboBox::currentIndexChanged, this, &HistoryPage::refresh);
    connect(m_groupBy, &QComboBox::currentIndexChanged, this, &HistoryPage::refresh);
    redrawChart();
}

void HistoryPage::setQuery(int range, const QString &groupBy)
{
    const QSignalBlocker a(m_range), b(m_groupBy);
    m_range->setCurrentIndex(std::clamp(range, 0, 2));
    m_groupBy->setCurrentIndex(std::max(0, m_groupBy->findData(groupBy)));
}

void HistoryPage::refresh()
{
    if (!m_client->hasAdminToken()) {
        m_model->clear();
        redrawChart();
        m_message->setText(QStringLiteral("No admin token: the usage history is an admin endpoint. Give the server's "
                                          "--admin-token in Server → Connect… (Ctrl+L), or start the console with "
                                          "SLUICE_ADMIN_TOKEN set."));
        markError(m_message);
        Q_EMIT refreshed(false);
        return;
    }
    const auto &r = kRanges[m_range->currentIndex()];
    const QDateTime to = QDateTime::currentDateTimeUtc().addSecs(60);
    const QDateTime from = to.addSecs(-r[0]);
    m_message->setText(QStringLiteral("Loading…"));
    markError(m_message);
    m_client->analytics(from, to, r[1], m_groupBy->currentData().toString(), this,
                        [this](const QJsonObject &answer, const ApiError *error) {
                            if (error || !m_model->setAnswer(answer)) {
                                m_model->clear();
                                redrawChart();
                                m_message->setText(error ? QStringLiteral("Cannot read the usage history: %1").arg(error->message())
                                                         : QStringLiteral("The server's answer is not a usage history."));
                                markError(m_message);
                                Q_EMIT refreshed(false);
                                return;
                            }
                            redrawChart();
                            m_message->setText(QStringLiteral("%1 allowed, %2 blocked (%3, from %4). The newest minute may not be written yet.")
                                                   .arg(m_model->totalAllowed())
                                                   .arg(m_model->totalBlocked())
                                                   .arg(answer.value(QStringLiteral("source")).toString(),
                                                        QLocale().toString(QDateTime::fromString(answer.value(QStringLiteral("from")).toString(), Qt::ISODate).toLocalTime(),
                                                                           QLocale::ShortFormat)));
                            markError(m_message);
                            Q_EMIT refreshed(true);
                        });
}

void HistoryPage::redrawChart()
{
    m_chart->removeAllSeries(); // (deletes them)
    for (QAbstractAxis *axis : m_chart->axes()) {
        m_chart->removeAxis(axis); // (gives it back: ours to delete)
        delete axis;
    }
    // Allowed requests stacked by the chosen grouping (the six biggest keys, the rest as one),
    // blocked ones on top in red; one bar per bucket of the range, empty ones included.
    const QStringList keys = m_model->keysByVolume();
    constexpr int kShownKeys = 6;
    const QList<QColor> palette = {QColor(0x2e, 0x7d, 0x32), QColor(0x1f, 0x77, 0xb4), QColor(0x94, 0x67, 0xbd),
                                   QColor(0x17, 0xbe, 0xcf), QColor(0x8c, 0x56, 0x4b), QColor(0xbc, 0xbd, 0x22), QColor(0x9e, 0x9e, 0x9e)};
    QList<QBarSet *> sets;
    for (int i = 0; i < std::min<int>(kShownKeys, static_cast<int>(keys.size())); ++i) {
        auto *set = new QBarSet(QStringLiteral("%1 allowed").arg(keys.at(i).isEmpty() ? QStringLiteral("(none)") : keys.at(i)));
        set->setColor(palette.at(i));
        sets << set;
    }
    QBarSet *others = nullptr;
    if (keys.size() > kShownKeys) {
        others = new QBarSet(QStringLiteral("others allowed"));
        others->setColor(palette.last());
    }
    auto *blocked = new QBarSet(QStringLiteral("Blocked"));
    blocked->setColor(QColor(0xd2, 0x3c, 0x3c));
    QStringList categories;
    const qint64 step = m_model->stepSeconds();
    qint64 most = 0;
    int n = 0;
    for (const AnalyticsModel::Step &s : m_model->steps()) {
        for (int i = 0; i < static_cast<int>(sets.size()); ++i) {
            const auto it = s.allowedBy.find(keys.at(i));
            *sets[i] << static_cast<qreal>(it == s.allowedBy.end() ? 0 : it->second);
        }
        if (others) {
            qint64 rest = 0;
            for (const auto &[key, count] : s.allowedBy)
                if (keys.indexOf(key) >= kShownKeys)
                    rest += count;
            *others << static_cast<qreal>(rest);
        }
        *blocked << static_cast<qreal>(s.blocked);
        categories << QString::number(n); // the bars' own axis (hidden): the time axis below labels them
        most = std::max(most, s.allowed + s.blocked);
        ++n;
    }
    auto *series = new QStackedBarSeries;
    for (QBarSet *set : std::as_const(sets))
        series->append(set);
    if (others)
        series->append(others);
    series->append(blocked);
    series->setBarWidth(0.9);
    m_chart->addSeries(series);
    auto *x = new QBarCategoryAxis;
    x->append(categories);
    x->setVisible(false);
    // A real time axis over the bars: bar i spans [start + i·step, start + (i+1)·step), so the
    // axis runs from the first bar's start to the last one's end and each tick sits in time.
    auto *time = new QDateTimeAxis;
    const qint64 start = m_model->steps().empty() ? QDateTime::currentSecsSinceEpoch() : m_model->steps().front().time.toSecsSinceEpoch();
    const qint64 end = m_model->steps().empty() ? start + step : m_model->steps().back().time.toSecsSinceEpoch() + step;
    time->setRange(QDateTime::fromSecsSinceEpoch(start), QDateTime::fromSecsSinceEpoch(end));
    time->setFormat(m_range->currentIndex() == 0 ? QStringLiteral("HH:mm") : QStringLiteral("ddd HH:mm"));
    time->setTickCount(7);
    const QString size = step % 86400 == 0 ? QStringLiteral("%1 day").arg(step / 86400)
                       : step % 3600 == 0  ? QStringLiteral("%1 h").arg(step / 3600)
                                           : QStringLiteral("%1 min").arg(step / 60);
    time->setTitleText(QStringLiteral("local time · one bar = %1").arg(size));
    auto *y = new QValueAxis;
    setWholeAxis(y, most);
    y->setTitleText(QStringLiteral("requests"));
    m_chart->addAxis(x, Qt::AlignBottom);
    m_chart->addAxis(time, Qt::AlignBottom);
    m_chart->addAxis(y, Qt::AlignLeft);
    series->attachAxis(x);
    series->attachAxis(y);
}

QString HistoryPage::message() const { return m_message->text(); }

int HistoryPage::bars() const { return static_cast<int>(m_model->steps().size()); }

} // namespace sluice
