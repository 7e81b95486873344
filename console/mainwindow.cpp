// SPDX-License-Identifier: Apache-2.0
#include "mainwindow.h"

#include "apiclient.h"
#include "connectiondialog.h"

#include <QAction>
#include <QCloseEvent>
#include <QJsonArray>
#include <QJsonObject>
#include <QKeySequence>
#include <QMenuBar>
#include <QSettings>
#include "pages/burstpage.h"
#include "pages/capacitypage.h"
#include "pages/checkpage.h"
#include "pages/historypage.h"
#include "pages/policiespage.h"
#include "pages/registrypages.h"
#include "pages/serverpage.h"
#include "pages/topblockedpage.h"
#include "pages/usagepage.h"

#include <QLabel>
#include <QStatusBar>
#include <QVBoxLayout>
#include <QTabWidget>
#include <QTimer>

namespace sluice {

MainWindow::MainWindow(ApiClient *client, QWidget *parent) : QMainWindow(parent), m_client(client)
{
    setWindowTitle(QStringLiteral("Sluice console — %1").arg(client->server().toString()));
    auto *tabs = m_tabs = new QTabWidget;
    m_check = new CheckPage(client);
    m_server = new ServerPage(client);
    m_policies = new PoliciesPage(client);
    m_burst = new BurstPage(client);
    m_usage = new UsagePage(client);
    m_capacity = new CapacityPage(client);
    m_topBlocked = new TopBlockedPage(client);
    m_history = new HistoryPage(client);
    m_apiKeys = new ApiKeysPage(client);
    m_entities = new EntitiesPage(client);
    tabs->addTab(m_check, QStringLiteral("Check"));
    tabs->addTab(m_burst, QStringLiteral("Burst"));
    tabs->addTab(m_usage, QStringLiteral("Live usage"));
    tabs->addTab(m_capacity, QStringLiteral("Capacity"));
    tabs->addTab(m_policies, QStringLiteral("Policies"));
    tabs->addTab(m_topBlocked, QStringLiteral("Top blocked"));
    tabs->addTab(m_history, QStringLiteral("Usage history"));
    tabs->addTab(m_apiKeys, QStringLiteral("API keys"));
    tabs->addTab(m_entities, QStringLiteral("Entities"));
    tabs->addTab(m_server, QStringLiteral("Server"));
    // The embedded mode's warning, shown while the server's registry is not Postgres.
    m_banner = new QLabel;
    m_banner->setObjectName(QStringLiteral("embeddedBanner"));
    m_banner->setWordWrap(true);
    m_banner->setStyleSheet(QStringLiteral("background: #fff4e5; color: #5f3b00; border: 1px solid #e0a040; padding: 4px;"));
    m_banner->hide();
    auto *central = new QWidget;
    auto *centralLayout = new QVBoxLayout(central);
    centralLayout->setContentsMargins(0, 0, 0, 0);
    centralLayout->setSpacing(2);
    centralLayout->addWidget(m_banner);
    centralLayout->addWidget(tabs, 1);
    setCentralWidget(central);
    connect(tabs, &QTabWidget::currentChanged, this, [this, tabs](int index) {
        if (tabs->widget(index) == m_policies)
            m_policies->refresh();
        if (tabs->widget(index) == m_topBlocked)
            m_topBlocked->refresh();
        if (tabs->widget(index) == m_capacity) {
            m_capacity->refresh();
            m_capacity->refreshPriorities();
        }
        if (tabs->widget(index) == m_history)
            m_history->refresh();
        if (tabs->widget(index) == m_usage)
            m_usage->refreshPickers();
        if (tabs->widget(index) == m_check)
            m_check->refreshPickers();
        if (tabs->widget(index) == m_burst)
            m_burst->refreshPickers();
        if (tabs->widget(index) == m_apiKeys)
            m_apiKeys->refresh();
        if (tabs->widget(index) == m_entities)
            m_entities->refresh();
    });
    // Top blocked → Live usage: the selected caller added to the watched ones.
    connect(m_topBlocked, &TopBlockedPage::watchRequested, this, [this](const QString &key) {
        QStringList keys = m_usage->watchedKeys();
        if (!keys.contains(key))
            keys << key;
        m_tabs->setCurrentWidget(m_usage);
        m_usage->watch(keys);
    });
    // Top blocked → Policies: the policy that refused the caller, selected.
    connect(m_topBlocked, &TopBlockedPage::policyRequested, this, [this](qint64 id) {
        m_policies->showPolicy(id); // selected by the list the page reads when shown
        m_tabs->setCurrentWidget(m_policies);
    });
    m_connection = new QLabel(QStringLiteral("Connecting to %1…").arg(client->server().toString()));
    m_connection->setObjectName(QStringLiteral("connection"));
    statusBar()->addWidget(m_connection, 1);
    m_healthTimer = new QTimer(this);
    m_healthTimer->setInterval(3000);
    connect(m_healthTimer, &QTimer::timeout, this, &MainWindow::pollHealth);
    m_healthTimer->start();
    QTimer::singleShot(0, this, &MainWindow::pollHealth);
    // Keyboard: Ctrl+1…9 the pages, F5 refreshes the page shown, Ctrl+L connects, Ctrl+Q quits.
    QMenu *serverMenu = menuBar()->addMenu(QStringLiteral("&Server"));
    QAction *connectAction = serverMenu->addAction(QStringLiteral("&Connect…"), this, [this] { openConnectionDialog(); });
    connectAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    QAction *refreshAction = serverMenu->addAction(QStringLiteral("&Refresh this page"), this, &MainWindow::refreshCurrentPage);
    refreshAction->setShortcut(QKeySequence::Refresh);
    serverMenu->addSeparator();
    QAction *quitAction = serverMenu->addAction(QStringLiteral("&Quit"), this, &QWidget::close);
    quitAction->setShortcut(QKeySequence::Quit);
    QMenu *pagesMenu = menuBar()->addMenu(QStringLiteral("&Pages"));
    for (int i = 0; i < tabs->count(); ++i) {
        QAction *go = pagesMenu->addAction(tabs->tabText(i), this, [tabs, i] { tabs->setCurrentIndex(i); });
        if (i < 10) // Ctrl+1…9, then Ctrl+0 for the tenth
            go->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(i < 9 ? Qt::Key_1 + i : Qt::Key_0)));
    }
    connect(client, &ApiClient::serverChanged, this, [this] {
        setWindowTitle(QStringLiteral("Sluice console — %1").arg(m_client->server().toString()));
        m_connection->setText(QStringLiteral("Connecting to %1…").arg(m_client->server().toString()));
        m_connection->setStyleSheet(QString());
        QTimer::singleShot(0, this, &MainWindow::pollHealth);
    });

    // The window as the operator left it.
    resize(1000, 620);
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    tabs->setCurrentIndex(settings.value(QStringLiteral("window/page"), 0).toInt());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/page"), m_tabs->currentIndex());
    QMainWindow::closeEvent(event);
}

void MainWindow::refreshCurrentPage()
{
    // The page's own refresh, as when it is shown.
    Q_EMIT m_tabs->currentChanged(m_tabs->currentIndex());
}

ConnectionDialog *MainWindow::openConnectionDialog()
{
    QSettings settings;
    const SavedConnection saved = loadConnection(settings);
    // "Remember" starts ticked only when the token in use is the saved one: a token from the
    // environment is written to disk only when the operator asks for it.
    const bool remembered = !saved.token.isEmpty() && saved.token == m_client->adminToken();
    auto *dialog = new ConnectionDialog(m_client->server(), m_client->adminToken(), remembered, this);
    dialog->setObjectName(QStringLiteral("connectionDialog"));
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        connectTo(dialog->server(), dialog->token(), dialog->rememberToken());
    });
    dialog->open();
    return dialog;
}

void MainWindow::connectTo(const QUrl &server, const QByteArray &token, bool rememberToken)
{
    QSettings settings;
    saveConnection(settings, server, token, rememberToken);
    m_client->setServer(server, token);
}

void MainWindow::setHealthInterval(int ms) { m_healthTimer->setInterval(ms); }

QString MainWindow::connectionText() const { return m_connection->text(); }

QString MainWindow::bannerText() const { return m_banner->isVisibleTo(this) ? m_banner->text() : QString(); }

void MainWindow::pollHealth()
{
    if (m_polling)
        return; // one at a time: a slow server is not asked again before it answered
    m_polling = true;
    m_client->health(this, [this](bool ok, const QJsonObject &health) {
        const QString server = m_client->server().toString();
        if (ok) {
            const QString registry = health.value(QStringLiteral("registry")).toObject().value(QStringLiteral("source")).toString();
            const bool embedded = !registry.isEmpty() && registry != QLatin1String("postgres");
            m_banner->setText(embedded ? QStringLiteral("Embedded mode (registry: %1): policies, API keys and priorities changed here live in this "
                                                        "server's memory only and are gone when it restarts — a key handed to a customer stops "
                                                        "working. Run the server with --postgres to keep them.")
                                             .arg(registry)
                                       : QString());
            m_banner->setVisible(embedded);
        }
        QString text = ok ? QStringLiteral("● Connected to %1").arg(server)
                          : QStringLiteral("○ Server unreachable at %1 — is sluice-server running?").arg(server);
        if (ok && health.value(QStringLiteral("status")).toString() != QStringLiteral("ok"))
            text += QStringLiteral(" (degraded: see the Server page)");
        if (!m_client->hasAdminToken())
            text += QStringLiteral(" · no admin token: policies, usage and keys need one (Server → Connect…, Ctrl+L)");
        if (!ok || !m_client->hasAdminToken()) {
            m_polling = false;
            m_connection->setText(text);
            m_connection->setStyleSheet(ok ? QStringLiteral("color: #1b7f3b") : QStringLiteral("color: #b3261e"));
            return;
        }
        // Connected is not enough: is the token the server's? (/health takes none; one small admin
        // read says, so a wrong token is not a green "Connected".)
        m_client->registry(QStringLiteral("tiers"), this, [this, text](const QJsonArray &, const ApiError *error) {
            m_polling = false;
            QString line = text;
            bool warn = false;
            if (error && error->status() == 401) {
                line += QStringLiteral(" · the admin token is refused: set the server's token in Server → Connect… (Ctrl+L)");
                warn = true;
            } else if (error && error->status() == 403) {
                line += QStringLiteral(" · the server's admin API is off (started without --admin-token)");
                warn = true;
            } else if (error) {
                line += QStringLiteral(" · could not check the admin token (%1)").arg(error->message());
                warn = true;
            }
            m_connection->setText(line);
            m_connection->setStyleSheet(warn ? QStringLiteral("color: #a15c00") : QStringLiteral("color: #1b7f3b"));
        });
    });
}

} // namespace sluice
