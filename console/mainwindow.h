// SPDX-License-Identifier: Apache-2.0
// The console's main window: a thin shell of pages over one ApiClient.
#pragma once

#include <QMainWindow>

class QLabel;
class QTimer;

namespace sluice {

class ApiClient;
class BurstPage;
class CheckPage;
class HistoryPage;
class PoliciesPage;
class ServerPage;
class TopBlockedPage;
class UsagePage;

class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(ApiClient *client, QWidget *parent = nullptr);
    CheckPage *checkPage() const { return m_check; }
    ServerPage *serverPage() const { return m_server; }
    PoliciesPage *policiesPage() const { return m_policies; }
    BurstPage *burstPage() const { return m_burst; }
    UsagePage *usagePage() const { return m_usage; }
    TopBlockedPage *topBlockedPage() const { return m_topBlocked; }
    HistoryPage *historyPage() const { return m_history; }
    // The status bar's connection line: connected or not (a /health poll every few seconds), and
    // whether admin actions are possible (an admin token is set).
    QString connectionText() const;
    void setHealthInterval(int ms);

private:
    void pollHealth();

    ApiClient *m_client;
    QLabel *m_connection;
    QTimer *m_healthTimer;
    bool m_polling = false;
    CheckPage *m_check;
    HistoryPage *m_history;
    ServerPage *m_server;
    PoliciesPage *m_policies;
    BurstPage *m_burst;
    UsagePage *m_usage;
    TopBlockedPage *m_topBlocked;
};

} // namespace sluice
