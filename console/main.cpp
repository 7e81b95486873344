// SPDX-License-Identifier: Apache-2.0
// sluice-console: the operations console. The server URL comes from --server, SLUICE_SERVER_URL or
// the saved settings; the admin token from SLUICE_ADMIN_TOKEN or the saved settings (first wins;
// Server → Connect… changes both, see connectiondialog.h).
//   sluice-console [--server URL] [--screenshot FILE] [--screenshots DIR]
//     --screenshot FILE  run scenario B, save the window, quit
//     --screenshots DIR  run scenario B, then show every page in turn and save each as
//                        DIR/console-<page>.png, then a chat through the inference door as
//                        DIR/console-chat.png (when the server has one), quit (scripts/screenshot,
//                        against a server it started)
#include "apiclient.h"
#include "connectiondialog.h"
#include "mainwindow.h"
#include "pages/capacitypage.h"
#include "pages/checkpage.h"
#include "pages/usagepage.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QTabWidget>
#include <QTimer>
#include <cstdio>
#include <functional>
#include <memory>

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Sluice"));
    QApplication::setApplicationName(QStringLiteral("sluice-console"));
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption serverOption(QStringLiteral("server"), QStringLiteral("Server URL."), QStringLiteral("url"));
    const QCommandLineOption shotOption(QStringLiteral("screenshot"), QStringLiteral("Run scenario B, save a PNG, quit."),
                                        QStringLiteral("file"));
    const QCommandLineOption shotsOption(QStringLiteral("screenshots"),
                                         QStringLiteral("Run scenario B, save every page as DIR/console-<page>.png, quit."),
                                         QStringLiteral("dir"));
    parser.addOption(serverOption);
    parser.addOption(shotOption);
    parser.addOption(shotsOption);
    parser.process(app);

    QSettings settings;
    const sluice::SavedConnection saved = sluice::loadConnection(settings);
    QString text = parser.value(serverOption);
    if (text.isEmpty())
        text = qEnvironmentVariable("SLUICE_SERVER_URL", saved.server.isEmpty() ? QStringLiteral("http://127.0.0.1:8000") : saved.server);
    // Only a whole URL is used and saved ("localhost:8000" once broke every later start).
    QString error;
    std::optional<QUrl> url = sluice::ApiClient::serverUrl(text, &error);
    if (!url) {
        std::fprintf(stderr, "sluice-console: %s; using http://127.0.0.1:8000\n", qPrintable(error));
        url = QUrl(QStringLiteral("http://127.0.0.1:8000"));
    } else {
        settings.setValue(QStringLiteral("server"), url->toString());
    }

    sluice::ApiClient client;
    const QByteArray envToken = qgetenv("SLUICE_ADMIN_TOKEN");
    client.setServer(*url, envToken.isEmpty() ? saved.token : envToken);
    sluice::MainWindow window(&client);
    window.show();

    if (parser.isSet(shotOption)) {
        const QString file = parser.value(shotOption);
        QObject::connect(window.checkPage(), &sluice::CheckPage::answered, &window, [&window, file] {
            QTimer::singleShot(200, &window, [&window, file] {
                window.grab().save(file);
                QApplication::quit();
            });
        });
        window.checkPage()->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"),
                                       QStringLiteral("premium"));
        window.checkPage()->send(11);
    }
    if (parser.isSet(shotsOption)) {
        // Every page in turn, each given time for its own refresh (and Live usage for a few events).
        const QString dir = parser.value(shotsOption);
        auto *tabs = window.tabs();
        auto next = std::make_shared<std::function<void(int)>>();
        *next = [&window, tabs, dir, next](int i) {
            if (i >= tabs->count()) {
                // Last, the Check page's chat through the inference door (the demo's API key), when
                // the server has one (scripts/screenshot starts it with --upstream).
                tabs->setCurrentWidget(window.checkPage());
                QObject::connect(window.checkPage(), &sluice::CheckPage::chatAnswered, &window, [&window, dir](int status) {
                    QTimer::singleShot(300, &window, [&window, dir, status] {
                        if (status == 200 && window.grab().save(dir + QStringLiteral("/console-chat.png")))
                            std::printf("%s\n", qPrintable(dir + QStringLiteral("/console-chat.png")));
                        QApplication::quit();
                    });
                }, Qt::SingleShotConnection);
                // (gpt-4o-mini: the pool's load that the script pushes sheds tiny-model's free tier)
                window.checkPage()->setRequest(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("gpt-4o-mini"),
                                               QString(), QStringLiteral("sluice-demo-free-co-key"));
                window.checkPage()->sendChat(QStringLiteral("Hello! Write me twelve tokens: say 12"), 64);
                return;
            }
            tabs->setCurrentIndex(i);
            if (tabs->widget(i) == window.usagePage())
                window.usagePage()->watchMostBlocked();
            // Live usage for a few events, Capacity for a few readings of its pool.
            const bool longer = tabs->widget(i) == window.usagePage() || tabs->widget(i) == window.capacityPage();
            QTimer::singleShot(longer ? 4000 : 1500, &window, [&window, tabs, dir, next, i] {
                const QString slug = tabs->tabText(i).toLower().replace(QLatin1Char(' '), QLatin1Char('-'));
                const QString file = dir + QStringLiteral("/console-%1.png").arg(slug);
                if (!window.grab().save(file))
                    std::fprintf(stderr, "sluice-console: cannot save %s\n", qPrintable(file));
                else
                    std::printf("%s\n", qPrintable(file));
                (*next)(i + 1);
            });
        };
        QObject::connect(window.checkPage(), &sluice::CheckPage::answered, &window, [next] {
            QTimer::singleShot(300, [next] { (*next)(0); });
        }, Qt::SingleShotConnection);
        window.checkPage()->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"),
                                       QStringLiteral("premium"));
        window.checkPage()->send(11);
    }
    return QApplication::exec();
}
