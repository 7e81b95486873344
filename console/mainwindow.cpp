// SPDX-License-Identifier: Apache-2.0
#include "mainwindow.h"

#include "apiclient.h"

#include <QJsonObject>
#include "pages/burstpage.h"
#include "pages/checkpage.h"
#include "pages/historypage.h"
#include "pages/policiespage.h"
#include "pages/serverpage.h"
#include "pages/topblockedpage.h"
#include "pages/usagepage.h"

#include <QLabel>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>

namespace sluice {

MainWindow::MainWindow(ApiClient *client, QWidget *parent) : QMainWindow(parent), m_client(client)
{
    setWindowTitle(QStringLiteral("Sluice console — %1").arg(client->server().toString()));
    auto *tabs = new QTabWidget;
    m_check = new CheckPage(client);
    m_server = new ServerPage(client);
    m_policies = new PoliciesPage(client);
    m_burst = new BurstPage(client);
    m_usage = new UsagePage(client);
    m_topBlocked = new TopBlockedPage(client);
    m_history = new HistoryPage(client);
    tabs->addTab(m_check, QStringLiteral("Check"));
    tabs->addTab(m_burst, QStringLiteral("Burst"));
    tabs->addTab(m_usage, QStringLiteral("Live usage"));
    tabs->addTab(m_policies, QStringLiteral("Policies"));
    tabs->addTab(m_topBlocked, QStringLiteral("Top blocked"));
    tabs->addTab(m_history, QStringLiteral("Usage history"));
    tabs->addTab(m_server, QStringLiteral("Server"));
    setCentralWidget(tabs);
    connect(tabs, &QTabWidget::currentChanged, this, [this, tabs](int index) {
        if (tabs->widget(index) == m_policies)
            m_policies->refresh();
        if (tabs->widget(index) == m_topBlocked)
            m_topBlocked->refresh();
        if (tabs->widget(index) == m_history)
            m_history->refresh();
        if (tabs->widget(index) == m_usage)
            m_usage->refreshPickers();
    });
    m_connection = new QLabel(QStringLiteral("Connecting to %1…").arg(client->server().toString()));
    m_connection->setObjectName(QStringLiteral("connection"));
    statusBar()->addWidget(m_connection, 1);
    m_healthTimer = new QTimer(this);
    m_healthTimer->setInterval(3000);
    connect(m_healthTimer, &QTimer::timeout, this, &MainWindow::pollHealth);
    m_healthTimer->start();
    QTimer::singleShot(0, this, &MainWindow::pollHealth);
    resize(1000, 620);
}

void MainWindow::setHealthInterval(int ms) { m_healthTimer->setInterval(ms); }

QString MainWindow::connectionText() const { return m_connection->text(); }

void MainWindow::pollHealth()
{
    if (m_polling)
        return; // one at a time: a slow server is not asked again before it answered
    m_polling = true;
    m_client->health(this, [this](bool ok, const QJsonObject &health) {
        m_polling = false;
        const QString server = m_client->server().toString();
        QString text = ok ? QStringLiteral("● Connected to %1").arg(server)
                          : QStringLiteral("○ Server unreachable at %1 — is sluice-server running?").arg(server);
        if (ok && health.value(QStringLiteral("status")).toString() != QStringLiteral("ok"))
            text += QStringLiteral(" (degraded: see the Server page)");
        if (!m_client->hasAdminToken())
            text += QStringLiteral(" · no admin token: policies, usage and keys need SLUICE_ADMIN_TOKEN (scripts/run prints it)");
        m_connection->setText(text);
        m_connection->setStyleSheet(ok ? QStringLiteral("color: #1b7f3b") : QStringLiteral("color: #b3261e"));
    });
}

} // namespace sluice
