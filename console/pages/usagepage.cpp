// SPDX-License-Identifier: Apache-2.0
#include "usagepage.h"

#include "apiclient.h"

#include <QChart>
#include <QChartView>
#include <QDateTime>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QNetworkReply>
#include <QPushButton>
#include <QValueAxis>
#include <QVBoxLayout>

namespace sluice {

UsagePage::UsagePage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_keys = new QLineEdit(QStringLiteral("sluice:{user_model:ent-user-2:gpt-4o},sluice:{tenant:enterprise_co}"));
    auto *watchButton = new QPushButton(QStringLiteral("Watch"));
    auto *stopButton = new QPushButton(QStringLiteral("Stop"));
    m_status = new QLabel(QStringLiteral("not watching"));
    m_chart = new QChart;
    m_x = new QValueAxis;
    m_x->setTitleText(QStringLiteral("seconds"));
    m_y = new QValueAxis;
    m_y->setTitleText(QStringLiteral("count in window"));
    m_y->setLabelFormat(QStringLiteral("%d"));
    m_chart->addAxis(m_x, Qt::AlignBottom);
    m_chart->addAxis(m_y, Qt::AlignLeft);
    auto *view = new QChartView(m_chart);
    auto *top = new QHBoxLayout;
    top->addWidget(new QLabel(QStringLiteral("Keys")));
    top->addWidget(m_keys, 1);
    top->addWidget(watchButton);
    top->addWidget(stopButton);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_status);
    layout->addWidget(view, 1);
    connect(watchButton, &QPushButton::clicked, this, [this] {
        watch(m_keys->text().split(QLatin1Char(','), Qt::SkipEmptyParts));
    });
    connect(stopButton, &QPushButton::clicked, this, &UsagePage::stop);
}

UsagePage::~UsagePage()
{
    stop();
}

void UsagePage::watch(const QStringList &keys)
{
    stop();
    m_series.clear();
    for (QLineSeries *line : std::as_const(m_lines)) {
        m_chart->removeSeries(line);
        delete line;
    }
    m_lines.clear();
    QStringList trimmed;
    for (const QString &k : keys)
        trimmed << k.trimmed();
    m_keys->setText(trimmed.join(QLatin1Char(',')));
    m_startMs = QDateTime::currentMSecsSinceEpoch();
    m_status->setText(QStringLiteral("watching %1 keys…").arg(trimmed.size()));
    m_stream = m_client->streamEvents(
        trimmed, this, [this](const QJsonObject &event) { onEvent(event); },
        [this](const QString &why) { m_status->setText(QStringLiteral("stopped: %1").arg(why)); });
}

void UsagePage::stop()
{
    if (m_stream)
        m_stream->abort();
}

void UsagePage::onEvent(const QJsonObject &event)
{
    const double t = (QDateTime::currentMSecsSinceEpoch() - m_startMs) / 1000.0;
    qint64 top = 1;
    for (const QJsonValue &v : event.value(QStringLiteral("keys")).toArray()) {
        const QJsonObject k = v.toObject();
        const QString key = k.value(QStringLiteral("key")).toString();
        const qint64 count = k.value(QStringLiteral("count")).toInteger();
        const qint64 limit = k.value(QStringLiteral("limit")).toInteger();
        m_series.add(key, t, count, limit);
        QLineSeries *&line = m_lines[key];
        if (!line) {
            line = new QLineSeries;
            line->setName(QStringLiteral("%1 (limit %2)").arg(key).arg(limit));
            m_chart->addSeries(line);
            line->attachAxis(m_x);
            line->attachAxis(m_y);
        }
        line->replace(m_series.points(key));
        top = std::max({top, count, std::min<qint64>(limit, count * 2 + 1)});
    }
    m_x->setRange(std::max(0.0, t - 60), std::max(1.0, t));
    m_y->setRange(0, static_cast<double>(top));
    m_status->setText(QStringLiteral("allowed %1 · blocked %2 (all keys, since the server started)")
                          .arg(event.value(QStringLiteral("allowedTotal")).toInteger())
                          .arg(event.value(QStringLiteral("blockedTotal")).toInteger()));
    Q_EMIT updated();
}

} // namespace sluice
