// SPDX-License-Identifier: Apache-2.0
// The Usage history page (GET /admin/analytics): the last hour, day or week, by tenant, model or
// scope — a table (AnalyticsModel) and a stacked bar chart of allowed (green) and blocked (red)
// per step, in clock time. The server writes its history every --history-flush-seconds: the
// newest minute may still be missing.
#pragma once

#include <QWidget>

class QBarCategoryAxis;
class QChart;
class QComboBox;
class QLabel;
class QTableView;

namespace sluice {

class AnalyticsModel;
class ApiClient;

class HistoryPage : public QWidget
{
    Q_OBJECT
public:
    explicit HistoryPage(ApiClient *client, QWidget *parent = nullptr);
    void refresh();
    // 0: last hour, 1: last day, 2: last week; by "tenant", "model" or "scope".
    void setQuery(int range, const QString &groupBy);
    AnalyticsModel *model() const { return m_model; }
    QString message() const;
    int bars() const; // steps in the chart

Q_SIGNALS:
    void refreshed(bool ok);

private:
    void redrawChart();

    ApiClient *m_client;
    AnalyticsModel *m_model;
    QComboBox *m_range;
    QComboBox *m_groupBy;
    QTableView *m_table;
    QChart *m_chart;
    QLabel *m_message;
};

} // namespace sluice
