// SPDX-License-Identifier: Apache-2.0
// The Server page, a status panel: the server's state, store and breaker, failure mode, registry
// source and snapshot age, usage history, and checks and blocks per second (from /metrics, between
// two refreshes), with /health's whole answer as a tree below. Refreshed every two seconds while
// visible. Network only through ApiClient.
#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QTimer>
#include <QWidget>
#include <optional>

class QLabel;
class QTreeWidget;

namespace sluice {

class ApiClient;

class ServerPage : public QWidget
{
    Q_OBJECT
public:
    explicit ServerPage(ApiClient *client, QWidget *parent = nullptr);
    void refresh();
    QString status() const;
    // The panel's value for a field: "store", "breaker", "failureMode", "registry", "snapshotAge",
    // "policies", "history", "checksPerSecond", "blockedPerSecond", "uptime", "version".
    QString value(const QString &field) const;

Q_SIGNALS:
    void refreshed(bool ok);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    void setValue(const QString &field, const QString &text, bool bad = false);
    void readMetrics();

    ApiClient *m_client;
    QLabel *m_status;
    QHash<QString, QLabel *> m_values;
    std::optional<double> m_lastDecisions, m_lastBlocked;
    QElapsedTimer m_sinceLastMetrics;
    QTreeWidget *m_details;
    QTimer m_timer;
};

} // namespace sluice
