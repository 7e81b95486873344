// SPDX-License-Identifier: Apache-2.0
// The console's main window: a thin shell of pages over one ApiClient.
#pragma once

#include <QMainWindow>

class QLabel;
class QTabWidget;
class QTimer;

namespace sluice {

class ApiClient;
class ApiKeysPage;
class EntitiesPage;
class BurstPage;
class CapacityPage;
class CheckPage;
class ConnectionDialog;
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
    CapacityPage *capacityPage() const { return m_capacity; }
    TopBlockedPage *topBlockedPage() const { return m_topBlocked; }
    HistoryPage *historyPage() const { return m_history; }
    ApiKeysPage *apiKeysPage() const { return m_apiKeys; }
    EntitiesPage *entitiesPage() const { return m_entities; }
    // The status bar's connection line: connected or not (a /health poll every few seconds), and
    // whether admin actions are possible (an admin token is set).
    QString connectionText() const;
    // The embedded mode's warning above the pages (empty when hidden): what is changed in the
    // console lives in the server's memory only when its registry is not Postgres.
    QString bannerText() const;
    void setHealthInterval(int ms);

    // Server → Connect… (Ctrl+L): opens the connection dialog (window-modal, not blocking); on OK
    // the console talks to the new server with the new token, and saves them (the token only when
    // asked to remember it). Returns the dialog (it deletes itself when closed).
    ConnectionDialog *openConnectionDialog();
    // Applies a connection: the client, the title, the status line, the saved settings.
    void connectTo(const QUrl &server, const QByteArray &token, bool rememberToken);
    QTabWidget *tabs() const { return m_tabs; }

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void pollHealth();
    void refreshCurrentPage();

    ApiClient *m_client;
    QTabWidget *m_tabs;
    QLabel *m_connection;
    QLabel *m_banner;
    QTimer *m_healthTimer;
    bool m_polling = false;
    CheckPage *m_check;
    HistoryPage *m_history;
    ServerPage *m_server;
    PoliciesPage *m_policies;
    BurstPage *m_burst;
    UsagePage *m_usage;
    CapacityPage *m_capacity;
    TopBlockedPage *m_topBlocked;
    ApiKeysPage *m_apiKeys;
    EntitiesPage *m_entities;
};

} // namespace sluice
