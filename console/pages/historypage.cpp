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
    m_message->setWordWrap(true);

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
    auto *allowed = new QBarSet(QStringLiteral("Allowed"));
    auto *blocked = new QBarSet(QStringLiteral("Blocked"));
    allowed->setColor(QColor(0x2e, 0x9d, 0x4f)); // conventional: green allowed, red blocked
    blocked->setColor(QColor(0xd2, 0x3c, 0x3c));
    QStringList categories;
    const bool minutes = m_range->currentIndex() == 0;
    qint64 most = 0;
    for (const AnalyticsModel::Step &s : m_model->steps()) {
        *allowed << static_cast<qreal>(s.allowed);
        *blocked << static_cast<qreal>(s.blocked);
        const QDateTime local = s.time.toLocalTime();
        categories << (minutes ? local.toString(QStringLiteral("HH:mm")) : QLocale().toString(local, QStringLiteral("ddd HH:mm")));
        most = std::max(most, s.allowed + s.blocked);
    }
    auto *series = new QStackedBarSeries;
    series->append(allowed);
    series->append(blocked);
    m_chart->addSeries(series);
    auto *x = new QBarCategoryAxis;
    x->append(categories);
    auto *y = new QValueAxis;
    setWholeAxis(y, most);
    m_chart->addAxis(x, Qt::AlignBottom);
    m_chart->addAxis(y, Qt::AlignLeft);
    series->attachAxis(x);
    series->attachAxis(y);
}

QString HistoryPage::message() const { return m_message->text(); }

int HistoryPage::bars() const { return static_cast<int>(m_model->steps().size()); }

} // namespace sluice
