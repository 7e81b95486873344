// SPDX-License-Identifier: Apache-2.0
// The Burst page: N checks for one caller at a rate or a concurrency, a progress bar, live
// allowed/blocked counters and a chart of both over time (Qt Charts). The work is a BurstRun.
#pragma once

#include <QElapsedTimer>
#include <QWidget>

class QChart;
class QLabel;
class QLineEdit;
class QLineSeries;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QValueAxis;

namespace sluice {

class ApiClient;
class BurstRun;

class BurstPage : public QWidget
{
    Q_OBJECT
public:
    explicit BurstPage(ApiClient *client, QWidget *parent = nullptr);
    BurstRun *run() const { return m_run; }
    void configure(const QString &tenant, const QString &user, const QString &model, int total, int concurrency, int rate);
    // The rest of the caller: its model tier and API key (empty: none).
    void configureCaller(const QString &tier, const QString &apiKey);
    // Offers the registry's tenants, users, models and tiers as completions of the fields.
    void refreshPickers();
    // Token cost per request, when to complete each admitted one (-1: never) and with how many
    // tokens (-1: keep the estimate).
    void configureLifecycle(qint64 cost, int completeAfterMs, qint64 actualTokens);
    void start();
    QString counters() const;
    // The chart's series (for tests): allowed and blocked.
    QLineSeries *allowedSeries() const { return m_allowedSeries; }
    QLineSeries *blockedSeries() const { return m_blockedSeries; }

private:
    void update();

    ApiClient *m_client;
    BurstRun *m_run;
    QLineEdit *m_tenant, *m_user, *m_model, *m_tier, *m_apiKey;
    QSpinBox *m_total, *m_concurrency, *m_rate, *m_cost, *m_completeAfter, *m_actual;
    QPushButton *m_start, *m_cancel;
    QProgressBar *m_progress;
    QLabel *m_counters;
    QLineSeries *m_allowedSeries, *m_blockedSeries;
    QValueAxis *m_x, *m_y;
    QString m_quantiles;         // the last p50/p99 shown
    QElapsedTimer m_quantilesAge;
};

} // namespace sluice
