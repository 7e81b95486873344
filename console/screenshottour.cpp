// SPDX-License-Identifier: Apache-2.0
#include "screenshottour.h"

#include "apiclient.h"
#include "checkrequest.h"
#include "mainwindow.h"
#include "models/burstrun.h"
#include "pages/capacitypage.h"
#include "pages/checkpage.h"
#include "pages/usagepage.h"

#include <QApplication>
#include <QComboBox>
#include <QTabWidget>
#include <QTimer>
#include <cstdio>
#include <memory>

namespace sluice {

ScreenshotTour::ScreenshotTour(MainWindow *window, ApiClient *client, const QString &dir)
    : QObject(window), m_window(window), m_client(client), m_dir(dir)
{
}

void ScreenshotTour::start()
{
    connect(m_window->checkPage(), &CheckPage::answered, this, [this] { QTimer::singleShot(300, this, [this] { page(0); }); },
            Qt::SingleShotConnection);
    m_window->checkPage()->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"),
                                      QStringLiteral("premium"));
    m_window->checkPage()->send(11);
}

void ScreenshotTour::save(const QString &name)
{
    const QString file = m_dir + QStringLiteral("/console-%1.png").arg(name);
    if (!m_window->grab().save(file))
        std::fprintf(stderr, "sluice-console: cannot save %s\n", qPrintable(file));
    else
        std::printf("%s\n", qPrintable(file));
    std::fflush(stdout);
}

void ScreenshotTour::page(int i)
{
    QTabWidget *tabs = m_window->tabs();
    if (i >= tabs->count())
        return chat();
    if (tabs->widget(i) == m_window->usagePage())
        return page(i + 1); // last, across an outage (liveUsage)
    tabs->setCurrentIndex(i);
    // Capacity for a few readings of its pool; the others for their own refresh.
    const bool longer = tabs->widget(i) == m_window->capacityPage();
    QTimer::singleShot(longer ? 4000 : 1500, this, [this, tabs, i] {
        save(tabs->tabText(i).toLower().replace(QLatin1Char(' '), QLatin1Char('-')));
        page(i + 1);
    });
}

void ScreenshotTour::chat()
{
    // The Check page's chat through the inference door (the demo's API key), when the server has
    // one (scripts/screenshot starts it with --upstream). gpt-4o-mini: the pool's load that the
    // script pushes sheds tiny-model's free tier.
    CheckPage *check = m_window->checkPage();
    m_window->tabs()->setCurrentWidget(check);
    connect(check, &CheckPage::chatAnswered, this, [this](int status) {
        QTimer::singleShot(300, this, [this, status] {
            if (status == 200)
                save(QStringLiteral("chat"));
            liveUsage();
        });
    }, Qt::SingleShotConnection);
    check->setRequest(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("gpt-4o-mini"), QString(),
                      QStringLiteral("sluice-demo-free-co-key"));
    check->sendChat(QStringLiteral("Hello! Write me twelve tokens: say 12"), 64);
}

void ScreenshotTour::liveUsage()
{
    UsagePage *usage = m_window->usagePage();
    m_window->tabs()->setCurrentWidget(usage);
    // Both callers start empty (scenario B left ent-user-2 at its limit an hour long).
    const QString blocked = QStringLiteral("sluice:{user_model:ent-user-2:gpt-4o}");
    const QString bucket = QStringLiteral("sluice:{user_model:ent-user-1:gpt-4o-mini}:bucket");
    for (const QString &key : {blocked, bucket})
        m_client->resetUsage(key, this, [](const ApiError *) {});
    // Picked as an operator picks them: the bucket caller, then ent-user-2 (whose policies are listed).
    auto pick = [usage](const QString &user, const QString &model) {
        usage->picker(QStringLiteral("scope"))->setCurrentText(QStringLiteral("USER_MODEL"));
        usage->picker(QStringLiteral("user"))->setCurrentText(user);
        usage->picker(QStringLiteral("model"))->setCurrentText(model);
        usage->picker(QStringLiteral("unit"))->setCurrentText(QStringLiteral("requests"));
        usage->watchPicked();
    };
    connect(usage, &UsagePage::watchedChanged, this, [pick] { pick(QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o")); },
            Qt::SingleShotConnection);
    QTimer::singleShot(500, this, [pick] { pick(QStringLiteral("ent-user-1"), QStringLiteral("gpt-4o-mini")); });
    // ent-user-2 climbs to its 10 a check a second and is refused three times; the bucket is
    // drained by a burst (two refused), refills a second at a time, and is drained again.
    auto request = [](const QString &user, const QString &model) {
        CheckRequest r;
        r.tenantId = QStringLiteral("enterprise_co");
        r.userId = user;
        r.modelId = model;
        return r;
    };
    auto *climb = new BurstRun(m_client, this);
    auto *drain = new BurstRun(m_client, this);
    const CheckRequest entUser2 = request(QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"));
    const CheckRequest bucketUser = request(QStringLiteral("ent-user-1"), QStringLiteral("gpt-4o-mini"));
    QTimer::singleShot(2000, this, [climb, drain, entUser2, bucketUser] {
        climb->start(entUser2, 13, 1, 1);
        drain->start(bucketUser, 12, 1, 12);
    });
    QTimer::singleShot(9000, this, [drain, bucketUser] { drain->start(bucketUser, 9, 1, 12); });
    // Then the outage: the script restarts the server; the chart draws the band once it is back.
    QTimer::singleShot(16000, this, [this, usage, climb, entUser2] {
        std::printf("sluice-console: screenshots: restart the server now\n");
        std::fflush(stdout);
        auto waited = std::make_shared<int>(0);
        auto *poll = new QTimer(this);
        connect(poll, &QTimer::timeout, this, [this, usage, poll, waited, climb, entUser2] {
            *waited += 500;
            if (usage->gapCount() == 0 && *waited < 30000)
                return;
            poll->deleteLater();
            if (usage->gapCount() == 0)
                std::fprintf(stderr, "sluice-console: the server did not go away and come back: Live usage shows no gap\n");
            // A few checks after the restart, the counts starting from 0 again.
            climb->start(entUser2, 3, 1, 1);
            QTimer::singleShot(4000, this, [this] {
                save(QStringLiteral("live-usage"));
                QApplication::quit();
            });
        });
        poll->start(500);
    });
}

} // namespace sluice
