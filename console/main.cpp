// SPDX-License-Identifier: Apache-2.0
// sluice-console: the operations console. The server URL comes from --server, SLUICE_SERVER_URL or
// the saved settings; the admin token from SLUICE_ADMIN_TOKEN or the saved settings (first wins;
// Server → Connect… changes both, see connectiondialog.h).
//   sluice-console [--server URL] [--screenshot FILE] [--screenshots DIR]
//     --screenshot FILE  run scenario B, save the window, quit
//     --screenshots DIR  the screenshot tour (screenshottour.h: every page, a chat, Live usage
//                        across an outage), quit (scripts/screenshot, against a server it started)
#include "apiclient.h"
#include "connectiondialog.h"
#include "mainwindow.h"
#include "pages/checkpage.h"
#include "screenshottour.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QTimer>
#include <cstdio>

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
    if (parser.isSet(shotsOption))
        (new sluice::ScreenshotTour(&window, &client, parser.value(shotsOption)))->start(); // (owned by the window)
    return QApplication::exec();
}
