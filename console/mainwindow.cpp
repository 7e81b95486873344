// SPDX-License-Identifier: Apache-2.0
#include "mainwindow.h"

#include "apiclient.h"
#include "pages/burstpage.h"
#include "pages/checkpage.h"
#include "pages/policiespage.h"
#include "pages/serverpage.h"
#include "pages/topblockedpage.h"
#include "pages/usagepage.h"

#include <QStatusBar>
#include <QTabWidget>

namespace sluice {

MainWindow::MainWindow(ApiClient *client, QWidget *parent) : QMainWindow(parent)
{
    setWindowTitle(QStringLiteral("Sluice console — %1").arg(client->server().toString()));
    auto *tabs = new QTabWidget;
    m_check = new CheckPage(client);
    m_server = new ServerPage(client);
    m_policies = new PoliciesPage(client);
    m_burst = new BurstPage(client);
    m_usage = new UsagePage(client);
    m_topBlocked = new TopBlockedPage(client);
    tabs->addTab(m_check, QStringLiteral("Check"));
    tabs->addTab(m_burst, QStringLiteral("Burst"));
    tabs->addTab(m_usage, QStringLiteral("Live usage"));
    tabs->addTab(m_policies, QStringLiteral("Policies"));
    tabs->addTab(m_topBlocked, QStringLiteral("Top blocked"));
    tabs->addTab(m_server, QStringLiteral("Server"));
    setCentralWidget(tabs);
    connect(tabs, &QTabWidget::currentChanged, this, [this, tabs](int index) {
        if (tabs->widget(index) == m_policies)
            m_policies->refresh();
        if (tabs->widget(index) == m_topBlocked)
            m_topBlocked->refresh();
    });
    statusBar()->showMessage(QStringLiteral("Server: %1").arg(client->server().toString()));
    resize(1000, 620);
}

} // namespace sluice
