// SPDX-License-Identifier: Apache-2.0
// sluice-console --screenshots DIR (scripts/screenshot, against a server it started): scenario B,
// then every page in turn saved as DIR/console-<page>.png, a chat through the inference door as
// DIR/console-chat.png (when the server has one), and last Live usage as an operator sees it in an
// incident — a caller climbing to its limit and refused (red points, triangles), a token-bucket
// caller drained and refilling, every policy of the first listed — across an outage: the tour
// prints "sluice-console: screenshots: restart the server now" on stdout, the script restarts the
// server, and the picture shows the grey band and the restart's note. Then it quits.
#pragma once

#include <QObject>
#include <QString>

namespace sluice {

class ApiClient;
class MainWindow;

class ScreenshotTour : public QObject
{
    Q_OBJECT
public:
    ScreenshotTour(MainWindow *window, ApiClient *client, const QString &dir);
    void start();

private:
    void page(int index);
    void chat();
    void liveUsage();
    void save(const QString &name);

    MainWindow *m_window;
    ApiClient *m_client;
    QString m_dir;
};

} // namespace sluice
