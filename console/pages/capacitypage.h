// SPDX-License-Identifier: Apache-2.0
// The Capacity page (design §14): every GPU pool as the server sees it (GET /admin/pools, read
// every 2 s from the start, so the chart holds the last 10 minutes when the page is opened) —
// saturation, the adaptive factor, queue and KV cache, where the signal comes from and how old it
// is (stale: static limits), shed requests per priority class; the chosen pool's saturation and
// factor over time; and the priority classes of tenants, model tiers and API keys, set from here
// (PUT /admin/{tenants|tiers|api-keys}/{id}).
#pragma once

#include <QHash>
#include <QList>
#include <QWidget>

class QChart;
class QComboBox;
class QDateTimeAxis;
class QLabel;
class QLineSeries;
class QPushButton;
class QTimer;
class QTreeWidget;
class QValueAxis;

namespace sluice {

class ApiClient;

class CapacityPage : public QWidget
{
    Q_OBJECT
public:
    explicit CapacityPage(ApiClient *client, QWidget *parent = nullptr);

    // Reads the pools once (the timer does this every 2 s, shown or not, with an admin token).
    void refresh();
    // Reads the priorities of tenants, tiers and API keys into the lower table.
    void refreshPriorities();
    // Sets the priority picked in the form (kind, id, class; "inherit" clears it).
    void setPriority();
    void pickPriority(const QString &kind, const QString &id, const QString &priority); // fills the form
    void setPollInterval(int ms);

    int poolCount() const;
    QString poolCell(int row, int column) const; // the pools table's text, for tests and screenshots
    QString message() const;
    QLineSeries *saturationSeries() const { return m_saturation; }
    QLineSeries *factorSeries() const { return m_factor; }
    QTreeWidget *prioritiesTable() const { return m_priorities; }

    enum Column { Pool, Models, Saturation, Factor, Queue, KvCache, Signal, Shed, Columns };

Q_SIGNALS:
    void refreshed(bool ok);
    void prioritiesRefreshed(bool ok);
    void prioritySet(bool ok);

protected:
    void showEvent(QShowEvent *event) override;

private:
    struct Point
    {
        qint64 atMs;
        double saturation;
        double factor;
    };
    void showPools(const class QJsonArray &pools);
    void fillIds(); // the id picker: the ids of the picked kind, from the priorities table
    void drawChart();
    void say(const QString &text, bool error);

    ApiClient *m_client;
    QTimer *m_timer;
    bool m_busy = false;
    bool m_prioritiesBusy = false;
    quint64 m_generation = 0; // one per server: answers of an earlier server are dropped
    QTreeWidget *m_pools;
    QComboBox *m_chartPool;
    QChart *m_chart;
    QDateTimeAxis *m_x;
    QValueAxis *m_y;
    QLineSeries *m_saturation, *m_factor, *m_threshold;
    QHash<QString, QList<Point>> m_history; // per pool, bounded to 10 minutes
    QTreeWidget *m_priorities;
    QComboBox *m_kind, *m_id, *m_priority;
    QPushButton *m_set;
    QLabel *m_message;
};

} // namespace sluice
