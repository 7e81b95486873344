// SPDX-License-Identifier: Apache-2.0
// The console's real widgets (offscreen) against a real sluice-server process: the Check page's
// form and the demo scenarios, and the Server page's health view.
#include "apiclient.h"
#include "connectiondialog.h"
#include "mainwindow.h"
#include "models/policytablemodel.h"
#include "models/burstrun.h"
#include "models/jsontablemodel.h"
#include "models/metricstext.h"
#include "pages/burstpage.h"
#include "pages/callerpolicies.h"
#include "pages/capacitypage.h"
#include "pages/charttheme.h"
#include "pages/checkpage.h"
#include "pages/historypage.h"
#include "models/analyticsmodel.h"
#include "pages/policiespage.h"
#include "pages/policydialog.h"
#include "pages/registrypages.h"
#include "pages/serverpage.h"
#include "pages/topblockedpage.h"
#include "pages/usagepage.h"
#include "httpcall.h"
#include "services.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QChart>
#include <QCheckBox>
#include <QColor>
#include <QComboBox>
#include <QCompleter>
#include <QDialog>
#include <QFont>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QValueAxis>
#include <QProcess>
#include <QtTest>

using namespace sluice;

class TestConsolePages : public QObject
{
    Q_OBJECT

private:
    test::ServerProcess m_server;
    std::unique_ptr<ApiClient> m_client;
    std::unique_ptr<MainWindow> m_window;

    QTemporaryDir m_settingsDir; // the console's QSettings live here, never in the user's ~/.config

    // One check through the client: its HTTP status (0 when nothing came back within 5 s).
    int checkStatus(const CheckRequest &r)
    {
        int status = 0;
        m_client->check(r, this, [&status](int s, const Decision &, const ApiError &) { status = s; });
        QElapsedTimer t;
        t.start();
        while (status == 0 && t.elapsed() < 5000)
            QTest::qWait(20);
        return status;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_settingsDir.isValid());
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settingsDir.path());
    }

    // Issue 13: Server → Connect… refuses a bad URL (staying open with what was typed), applies a
    // good one with its token (admin actions come on), remembers the token only when asked, in a
    // file only its owner can read.
    void connectionDialogRoundTrip()
    {
        ApiClient client;
        client.setServer(QUrl(QStringLiteral("http://127.0.0.1:1")), QByteArray());
        MainWindow window(&client);
        window.show();
        QPushButton *add = window.policiesPage()->findChild<QPushButton *>(QStringLiteral("add"));
        QVERIFY(add && !add->isEnabled());

        QPointer<ConnectionDialog> dialog = window.openConnectionDialog();
        QVERIFY(dialog && dialog->isVisible());
        auto *url = dialog->findChild<QLineEdit *>(QStringLiteral("url"));
        auto *token = dialog->findChild<QLineEdit *>(QStringLiteral("token"));
        auto *remember = dialog->findChild<QCheckBox *>(QStringLiteral("remember"));
        QVERIFY(url && token && remember);
        QCOMPARE(token->echoMode(), QLineEdit::Password);
        url->setText(QStringLiteral("ftp://example.org"));
        token->setText(QStringLiteral("console-token"));
        dialog->accept();
        QVERIFY(dialog && dialog->isVisible()); // refused: still open, with the reason and what was typed
        QVERIFY2(dialog->message().contains(QStringLiteral("not a server URL")), qPrintable(dialog->message()));
        QCOMPARE(token->text(), QStringLiteral("console-token"));
        QCOMPARE(client.server(), QUrl(QStringLiteral("http://127.0.0.1:1")));

        url->setText(m_server.baseUrl().toString());
        remember->setChecked(true);
        dialog->accept();
        QTRY_VERIFY(!dialog); // closed and deleted
        QCOMPARE(client.server(), m_server.baseUrl());
        QCOMPARE(client.adminToken(), QByteArray("console-token"));
        QVERIFY(add->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(window.connectionText().startsWith(QStringLiteral("● Connected")), 5000);
        QVERIFY(!window.connectionText().contains(QStringLiteral("no admin token")));
        {
            QSettings settings;
            const SavedConnection saved = loadConnection(settings);
            QCOMPARE(saved.server, m_server.baseUrl().toString());
            QCOMPARE(saved.token, QByteArray("console-token"));
            const QFile::Permissions p = QFile::permissions(settings.fileName());
            QVERIFY(p & QFile::ReadOwner);
            QVERIFY2(!(p & (QFile::ReadGroup | QFile::WriteGroup | QFile::ReadOther | QFile::WriteOther)), "the token file is not 0600");
        }

        // Again: the dialog shows what is in use; not remembering removes the saved token.
        dialog = window.openConnectionDialog();
        QCOMPARE(dialog->findChild<QLineEdit *>(QStringLiteral("url"))->text(), m_server.baseUrl().toString());
        QCOMPARE(dialog->findChild<QLineEdit *>(QStringLiteral("token"))->text(), QStringLiteral("console-token"));
        remember = dialog->findChild<QCheckBox *>(QStringLiteral("remember"));
        QVERIFY(remember->isChecked());
        remember->setChecked(false);
        dialog->accept();
        QTRY_VERIFY(!dialog);
        QSettings settings;
        QVERIFY(loadConnection(settings).token.isEmpty());
        QCOMPARE(client.adminToken(), QByteArray("console-token")); // still used in this session
        // A token in use that is not the saved one (say, from SLUICE_ADMIN_TOKEN) is never saved
        // unless asked: "Remember" starts unticked.
        saveConnection(settings, m_server.baseUrl(), QByteArrayLiteral("another-saved-token"), true);
        dialog = window.openConnectionDialog();
        QVERIFY(!dialog->findChild<QCheckBox *>(QStringLiteral("remember"))->isChecked());
        dialog->accept();
        QTRY_VERIFY(!dialog);
        QVERIFY(loadConnection(settings).token.isEmpty());
    }

    // Issue 13: a plain-language message for the failures an operator can fix.
    void failuresAreSaidPlainly()
    {
        auto listError = [this](ApiClient &client) -> QString {
            QString message = QStringLiteral("(no answer within 10 s)");
            bool done = false;
            client.listPolicies(this, [&](const QList<PolicyDto> &, const ApiError *error) {
                message = error ? error->message() : QString();
                done = true;
            });
            QElapsedTimer t;
            t.start();
            while (!done && t.elapsed() < 10000)
                QTest::qWait(20);
            return message;
        };
        ApiClient wrongToken;
        wrongToken.setServer(m_server.baseUrl(), QByteArrayLiteral("not-the-token"));
        QString m = listError(wrongToken);
        QVERIFY2(m.startsWith(QStringLiteral("the server refused the admin token")) && m.contains(QStringLiteral("Connect")), qPrintable(m));
        ApiClient nobody;
        nobody.setServer(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(test::freePort())), QByteArrayLiteral("t"));
        m = listError(nobody);
        QVERIFY2(m.startsWith(QStringLiteral("the server does not answer")), qPrintable(m));
        test::ServerProcess adminOff;
        QString error;
        QVERIFY2(adminOff.start({}, &error), qPrintable(error));
        ApiClient off;
        off.setServer(adminOff.baseUrl(), QByteArrayLiteral("t"));
        m = listError(off);
        QVERIFY2(m.startsWith(QStringLiteral("the server's admin API is off")), qPrintable(m));
    }

    // Keyboard: Ctrl+1…9 switch pages.
    void pagesHaveShortcuts()
    {
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        QTest::keyClick(m_window.get(), Qt::Key_3, Qt::ControlModifier);
        QCOMPARE(m_window->tabs()->currentWidget(), static_cast<QWidget *>(m_window->usagePage()));
        QTest::keyClick(m_window.get(), Qt::Key_1, Qt::ControlModifier);
        QCOMPARE(m_window->tabs()->currentWidget(), static_cast<QWidget *>(m_window->checkPage()));
    }

    void init()
    {
        QString error;
        QVERIFY2(m_server.start({QStringLiteral("--admin-token"), QStringLiteral("console-token"), QStringLiteral("--history-flush-seconds"),
                                 QStringLiteral("1")},
                                &error),
                 qPrintable(error));
        m_client = std::make_unique<ApiClient>();
        m_client->setServer(m_server.baseUrl(), QByteArrayLiteral("console-token"));
        m_window = std::make_unique<MainWindow>(m_client.get());
        m_window->show();
    }

    void cleanup()
    {
        m_window.reset();
        m_client.reset();
        m_server.stop();
    }

    void formChecksWhatWasTyped()
    {
        CheckPage *page = m_window->checkPage();
        auto *user = page->findChild<QLineEdit *>(QStringLiteral("user"));
        auto *model = page->findChild<QLineEdit *>(QStringLiteral("model"));
        QVERIFY(user && model);
        user->clear();
        QTest::keyClicks(user, QStringLiteral("typed-user"));
        model->clear();
        QTest::keyClicks(model, QStringLiteral("tiny-model"));
        QSignalSpy answered(page, &CheckPage::answered);
        // The fields are offered the registry's ids (and take anything typed).
        page->refreshPickers();
        QTRY_COMPARE_WITH_TIMEOUT(user->completer()->model()->rowCount(), 3, 5000);
        // (users and models come in two answers, in either order: wait for both)
        QTRY_COMPARE_WITH_TIMEOUT(model->completer()->model()->index(0, 0).data().toString(), QStringLiteral("gpt-4o"), 5000);
        // Enter sends it (issue 13's keyboard).
        QTest::keyClick(model, Qt::Key_Return);
        QVERIFY(answered.wait(5000));
        answered.clear();
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("check")), Qt::LeftButton);
        QVERIFY(answered.wait(5000));
        // The page's tenant is enterprise_co: tiny-model (free tier) under it is allowed.
        QCOMPARE(answered.first().first().toInt(), 200);
        QCOMPARE(page->verdict(), QStringLiteral("ALLOWED"));
    }

    // Issue 25: the Check page sends a chat request through the inference door with the form's API
    // key, model and user, and shows the reply and its usage, or why not — against a real server
    // with --upstream in front of the scripted OpenAI-compatible stand-in.
    void checkPageChatsThroughTheInferenceDoor()
    {
        CheckPage *page = m_window->checkPage();
        QSignalSpy chatted(page, &CheckPage::chatAnswered);
        page->setRequest(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("tiny-model"), QString());
        page->sendChat(QStringLiteral("say 3"), 16);
        QCOMPARE(chatted.count(), 1); // no key: said at once, nothing sent
        QVERIFY2(page->chatText().contains(QStringLiteral("API key")) && page->chatRed(), qPrintable(page->chatText()));
        page->setRequest(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("tiny-model"), QString(),
                         QStringLiteral("sluice-demo-free-co-key"));
        page->sendChat(QStringLiteral("say 3"), 16); // this server has no door
        QVERIFY(chatted.wait(5000));
        QVERIFY2(page->chatText().contains(QStringLiteral("--upstream")) && page->chatRed(), qPrintable(page->chatText()));

        const quint16 upstreamPort = test::freePort();
        QProcess upstream;
        upstream.start(QStringLiteral("python3"), {QStringLiteral(SLUICE_SOURCE_DIR "/tests/support/openai_upstream.py"), QString::number(upstreamPort)});
        QVERIFY(upstream.waitForStarted(5000));
        QVERIFY(upstream.waitForReadyRead(5000)); // "listening"
        test::ServerProcess door;
        QString error;
        QVERIFY2(door.start({QStringLiteral("--admin-token"), QStringLiteral("console-token"), QStringLiteral("--upstream"),
                             QStringLiteral("http://127.0.0.1:%1").arg(upstreamPort)},
                            &error),
                 qPrintable(error));
        m_client->setServer(door.baseUrl(), QByteArrayLiteral("console-token"));
        auto *message = page->findChild<QLineEdit *>(QStringLiteral("chatMessage"));
        message->clear();
        QTest::keyClicks(message, QStringLiteral("Hello! say 3"));
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("sendChat")), Qt::LeftButton);
        QVERIFY(chatted.wait(10000));
        QCOMPARE(chatted.last().first().toInt(), 200);
        // "Hello! say 3": the stand-in's three tokens, its usage (7 + 3 words of prompt)
        QVERIFY2(page->chatText().contains(QStringLiteral("“tok0 tok1 tok2”")) && page->chatText().contains(QStringLiteral("usage 10 prompt + 3 completion")),
                 qPrintable(page->chatText()));
        QVERIFY(!page->chatRed());
        page->sendChat(QStringLiteral("busy"), 16); // the model server is full: its 429, in red
        QVERIFY(chatted.wait(10000));
        QCOMPARE(chatted.last().first().toInt(), 429);
        QVERIFY2(page->chatText().startsWith(QStringLiteral("429 refused: the model server is full")) && page->chatRed(), qPrintable(page->chatText()));
        upstream.kill();
        upstream.waitForFinished(3000);
    }

    void scenarioBBlocksTheEleventh()
    {
        CheckPage *page = m_window->checkPage();
        page->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"), QStringLiteral("premium"));
        QSignalSpy answered(page, &CheckPage::answered);
        page->send(10);
        QVERIFY(answered.wait(10000));
        QCOMPARE(page->verdict(), QStringLiteral("ALLOWED"));
        page->send(1);
        QVERIFY(answered.wait(5000));
        QCOMPARE(answered.last().first().toInt(), 429);
        QCOMPARE(page->verdict(), QStringLiteral("BLOCKED"));
        QCOMPARE(page->cause(), QStringLiteral("USER_MODEL exceeded: 11/10 in the last 3600 seconds (key=sluice:{user_model:ent-user-2:gpt-4o})"));
    }

    void scenarioCBlocksByTier()
    {
        CheckPage *page = m_window->checkPage();
        page->setRequest(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("tiny-model"), QStringLiteral("free"));
        QSignalSpy answered(page, &CheckPage::answered);
        page->send(11);
        QVERIFY(answered.wait(10000));
        QCOMPARE(page->verdict(), QStringLiteral("BLOCKED"));
        QVERIFY(page->cause().startsWith(QStringLiteral("MODEL_TIER exceeded: 11/10")));
    }

    void policiesPageEditsTheServer()
    {
        PoliciesPage *page = m_window->policiesPage();
        QAbstractItemModelTester tester(page->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy refreshed(page, &PoliciesPage::refreshed);
        QSignalSpy failed(page, &PoliciesPage::failed);
        page->refresh();
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(page->model()->rowCount(), 11); // the seed's nine and the token bucket and shadow examples
        QCOMPARE(page->model()->index(8, PolicyTableModel::SelectorColumn).data().toString(), QStringLiteral("user ent-user-2, model gpt-4o"));
        QCOMPARE(page->model()->index(0, PolicyTableModel::ScopeColumn).data().toString(), QStringLiteral("GLOBAL"));
        // Issue 23: digits grouped, unit and algorithm in columns of their own, sorted by a
        // header (numbers as numbers), filtered by what is typed.
        QLocale grouped; // the machine's locale, digits grouped whatever its default
        grouped.setNumberOptions(grouped.numberOptions() & ~QLocale::OmitGroupSeparator);
        QCOMPARE(page->model()->index(0, PolicyTableModel::LimitColumn).data().toString(), grouped.toString(1000000));
        QVERIFY(page->model()->index(0, PolicyTableModel::LimitColumn).data().toString() != QStringLiteral("1000000"));
        QSortFilterProxyModel *shown = page->shown();
        shown->sort(PolicyTableModel::LimitColumn, Qt::DescendingOrder);
        QCOMPARE(shown->index(0, PolicyTableModel::IdColumn).data().toLongLong(), qint64(1)); // 1,000,000 first, not "500" > "1,000"
        page->setFilterText(QStringLiteral("free_co"));
        QVERIFY(shown->rowCount() >= 1 && shown->rowCount() < 11);
        for (int r = 0; r < shown->rowCount(); ++r) {
            QString row;
            for (int c = 0; c < PolicyTableModel::ColumnCount; ++c)
                row += shown->index(r, c).data().toString() + QLatin1Char(' ');
            QVERIFY2(row.contains(QStringLiteral("free_co"), Qt::CaseInsensitive), qPrintable(row));
        }
        page->setFilterText(QString());
        shown->sort(PolicyTableModel::IdColumn, Qt::AscendingOrder);

        PolicyDto p;
        p.scope = Scope::Model;
        p.modelId = QStringLiteral("gpt-4o");
        p.windowSeconds = 60;
        p.limit = 3;
        page->submit(p);
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(page->model()->rowCount(), 12);
        // The server enforces it: the Check page's next answer names the MODEL policy.
        CheckPage *check = m_window->checkPage();
        check->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-1"), QStringLiteral("gpt-4o"), QString());
        QSignalSpy answered(check, &CheckPage::answered);
        check->send(4);
        QVERIFY(answered.wait(5000));
        QCOMPARE(check->verdict(), QStringLiteral("BLOCKED"));
        QVERIFY(check->cause().startsWith(QStringLiteral("MODEL exceeded: 4/3")));

        // A duplicate is refused by the server and the page says why.
        page->submit(p);
        QVERIFY(failed.wait(5000));
        QVERIFY2(page->message().contains(QStringLiteral("409")), qPrintable(page->message()));
        // Delete it again.
        const qint64 id = page->model()->index(11, PolicyTableModel::IdColumn).data(PolicyTableModel::PolicyIdRole).toLongLong();
        page->remove(id);
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(page->model()->rowCount(), 11); // the seed's nine and the token bucket and shadow examples
    }

    // Defect: a typo in the limit ("1O0") was saved as limit 0. The dialog refuses it and stays open.
    void policyDialogRefusesALimitTypo()
    {
        PolicyDto p;
        p.scope = Scope::Model;
        p.modelId = QStringLiteral("gpt-4o");
        p.windowSeconds = 60;
        p.limit = 5;
        PolicyDialog dialog(p);
        dialog.show();
        auto *limit = dialog.findChild<QLineEdit *>(QStringLiteral("limit"));
        auto *error = dialog.findChild<QLabel *>(QStringLiteral("policyDialogError"));
        QVERIFY(limit && error);
        limit->setText(QStringLiteral("1O0"));
        QSignalSpy accepted(&dialog, &QDialog::accepted);
        dialog.accept();
        QCOMPARE(accepted.count(), 0);
        QVERIFY(dialog.isVisible());
        QVERIFY2(error->isVisible() && error->text().contains(QStringLiteral("1O0")), qPrintable(error->text()));
        limit->setText(QStringLiteral("-3"));
        dialog.accept();
        QCOMPARE(accepted.count(), 0);
        limit->setText(QStringLiteral("100"));
        dialog.accept();
        QCOMPARE(accepted.count(), 1);
        QCOMPARE(dialog.policy().limit, qint64(100));
    }

    // The unit (design §10) in the policy dialog: concurrent has no window, so the window field
    // is off and the policy sent has none; the table says "at once".
    void policyDialogOffersUnits()
    {
        PolicyDto p;
        p.scope = Scope::Tenant;
        p.tenantId = QStringLiteral("free_co");
        p.windowSeconds = 60;
        p.limit = 5;
        PolicyDialog dialog(p);
        dialog.show();
        auto *unit = dialog.findChild<QComboBox *>(QStringLiteral("unit"));
        auto *window = dialog.findChild<QSpinBox *>(QStringLiteral("window"));
        QVERIFY(unit && window);
        QCOMPARE(unit->currentText(), QStringLiteral("requests"));
        QVERIFY(window->isEnabled());
        unit->setCurrentText(QStringLiteral("tokens"));
        QVERIFY(window->isEnabled());
        QCOMPARE(dialog.policy().unit, Unit::Tokens);
        QCOMPARE(dialog.policy().windowSeconds, qint64(60));
        unit->setCurrentText(QStringLiteral("concurrent"));
        QVERIFY(!window->isEnabled());
        const PolicyDto sent = dialog.policy();
        QCOMPARE(sent.unit, Unit::Concurrent);
        QVERIFY(sent.toJson().value(QStringLiteral("windowSeconds")).isNull());
        PolicyTableModel model;
        model.setPolicies({sent});
        QCOMPARE(model.data(model.index(0, PolicyTableModel::WindowColumn)).toString(), QStringLiteral("at once"));
        QCOMPARE(model.data(model.index(0, PolicyTableModel::LimitColumn)).toString(), QStringLiteral("5"));
        QCOMPARE(model.data(model.index(0, PolicyTableModel::UnitColumn)).toString(), QStringLiteral("streams"));
    }

    // Design §11 in the console: the dialog offers a burst only for a token bucket, a shadow
    // switch, and says windows as a person does; the table and the Check page show shadow
    // policies apart (the demo's shadow policy on gpt-4o-mini).
    void algorithmsAndShadowInTheConsole()
    {
        PolicyDto p;
        p.scope = Scope::Model;
        p.modelId = QStringLiteral("gpt-4o");
        p.windowSeconds = 60;
        p.limit = 100;
        PolicyDialog dialog(p);
        dialog.show();
        auto *algorithm = dialog.findChild<QComboBox *>(QStringLiteral("algorithm"));
        auto *burst = dialog.findChild<QSpinBox *>(QStringLiteral("burst"));
        auto *shadow = dialog.findChild<QCheckBox *>(QStringLiteral("shadow"));
        auto *window = dialog.findChild<QSpinBox *>(QStringLiteral("window"));
        auto *windowText = dialog.findChild<QLabel *>(QStringLiteral("windowText"));
        QVERIFY(algorithm && burst && shadow && window && windowText);
        QCOMPARE(windowText->text(), QStringLiteral("1 min"));
        window->setValue(86400);
        QCOMPARE(windowText->text(), QStringLiteral("1 day"));
        QCOMPARE(window->maximum(), 31 * 86400);
        QVERIFY(!burst->isEnabled());
        algorithm->setCurrentText(QStringLiteral("token_bucket"));
        QVERIFY(burst->isEnabled());
        burst->setValue(20);
        shadow->setChecked(true);
        PolicyDto sent = dialog.policy();
        QCOMPARE(sent.algorithm, Algorithm::TokenBucket);
        QCOMPARE(sent.burst, std::optional<qint64>(20));
        QVERIFY(sent.shadow);
        algorithm->setCurrentText(QStringLiteral("sliding_log"));
        QVERIFY(!burst->isEnabled());
        QVERIFY(!dialog.policy().burst); // a burst only goes with a bucket
        PolicyTableModel model;
        model.setPolicies({sent});
        QCOMPARE(model.data(model.index(0, PolicyTableModel::EnabledColumn)).toString(), QStringLiteral("shadow"));
        QCOMPARE(model.data(model.index(0, PolicyTableModel::WindowColumn)).toString(), QStringLiteral("1 day"));
        QCOMPARE(model.data(model.index(0, PolicyTableModel::LimitColumn)).toString(), QStringLiteral("100"));
        QCOMPARE(model.data(model.index(0, PolicyTableModel::AlgorithmColumn)).toString(), QStringLiteral("token bucket, bursts of 20"));
        QVERIFY(model.data(model.index(0, PolicyTableModel::ScopeColumn), Qt::FontRole).value<QFont>().italic());

        // The Check page on gpt-4o-mini: the demo's bucket and its shadow policy.
        CheckPage *page = m_window->checkPage();
        page->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-1"), QStringLiteral("gpt-4o-mini"), QString());
        QSignalSpy answered(page, &CheckPage::answered);
        page->send(1);
        QVERIFY(answered.wait(5000));
        QCOMPARE(page->verdict(), QStringLiteral("ALLOWED"));
        const QStringList states = page->policyStates();
        QVERIFY2(states.contains(QStringLiteral("USER_MODEL|bucket, refills per 1 min|")), qPrintable(states.join(QLatin1Char(';'))));
        QVERIFY2(states.contains(QStringLiteral("MODEL|1 min|shadow")), qPrintable(states.join(QLatin1Char(';'))));
    }

    // Defect (issue 13): a URL without a scheme was saved and broke the next start ("Protocol
    // "localhost" is unknown"). It is made whole, or refused with a sentence.
    void serverUrlsAreMadeWholeOrRefused()
    {
        QString error;
        QCOMPARE(ApiClient::serverUrl(QStringLiteral("localhost:8000"), &error), std::optional<QUrl>(QUrl(QStringLiteral("http://localhost:8000"))));
        QCOMPARE(ApiClient::serverUrl(QStringLiteral(" https://sluice.internal "), &error),
                 std::optional<QUrl>(QUrl(QStringLiteral("https://sluice.internal"))));
        for (const char *bad : {"", "ftp://x:1", "http://", "http://exa mple:80"}) {
            error.clear();
            QVERIFY2(!ApiClient::serverUrl(QString::fromLatin1(bad), &error), bad);
            QVERIFY2(error.contains(QStringLiteral("expected http://host:port")), qPrintable(error));
        }
    }

    // The status bar says whether the console reaches the server, and when admin actions need a token.
    void statusBarSaysWhetherTheServerAnswers()
    {
        QTRY_VERIFY_WITH_TIMEOUT(m_window->connectionText().startsWith(QStringLiteral("● Connected")), 5000);
        QVERIFY(!m_window->connectionText().contains(QStringLiteral("no admin token")));
        ApiClient anonymous;
        anonymous.setServer(m_server.baseUrl(), QByteArray());
        MainWindow window(&anonymous);
        window.setHealthInterval(100);
        QTRY_VERIFY_WITH_TIMEOUT(window.connectionText().contains(QStringLiteral("no admin token")), 5000);
        QVERIFY(m_server.stop());
        QTRY_VERIFY_WITH_TIMEOUT(window.connectionText().startsWith(QStringLiteral("○ Server unreachable")), 10000);
        QString error;
        QVERIFY2(m_server.start({QStringLiteral("--admin-token"), QStringLiteral("console-token"), QStringLiteral("--history-flush-seconds"),
                                 QStringLiteral("1")},
                                &error),
                 qPrintable(error));
        anonymous.setServer(m_server.baseUrl(), QByteArray()); // the server came back (on a new port)
        QTRY_VERIFY_WITH_TIMEOUT(window.connectionText().startsWith(QStringLiteral("● Connected")), 10000);
    }

    // Issue 13's destructive-action defects: Delete asks first; the result line stays in front of
    // the refreshed count; the dialog stays open with the server's refusal and what was typed;
    // without a token nothing that cannot work is offered, and the page says how to fix it.
    void policiesPageAsksKeepsAndExplains()
    {
        PoliciesPage *page = m_window->policiesPage();
        QSignalSpy refreshed(page, &PoliciesPage::refreshed);
        PolicyDto p;
        p.scope = Scope::Model;
        p.modelId = QStringLiteral("tiny-model");
        p.windowSeconds = 60;
        p.limit = 7;
        page->submit(p);
        QVERIFY(refreshed.wait(5000));
        QVERIFY2(page->message().startsWith(QStringLiteral("Saved policy 12 · 12 policies")), qPrintable(page->message()));

        // Delete: Cancel keeps it, Yes deletes it.
        for (const bool yes : {false, true}) {
            page->requestRemove(12);
            QMessageBox *box = nullptr;
            QTRY_VERIFY_WITH_TIMEOUT((box = page->findChild<QMessageBox *>(QStringLiteral("confirmDelete"))) != nullptr, 2000);
            QTest::mouseClick(box->button(yes ? QMessageBox::Yes : QMessageBox::Cancel), Qt::LeftButton);
            if (yes)
                QVERIFY(refreshed.wait(5000));
            else
                QTest::qWait(300);
            QCOMPARE(page->model()->rowCount(), yes ? 11 : 12);
        }
        QVERIFY2(page->message().startsWith(QStringLiteral("Deleted policy 12 · 11 policies")), qPrintable(page->message()));

        // A refused save keeps the dialog open, with the server's reason and the form as typed.
        PolicyDto duplicate;
        duplicate.scope = Scope::UserModel; // the base rule exists
        duplicate.windowSeconds = 60;
        duplicate.limit = 5;
        duplicate.description = QStringLiteral("typed by hand");
        page->edit(duplicate);
        PolicyDialog *dialog = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((dialog = page->findChild<PolicyDialog *>(QStringLiteral("policyDialog"))) != nullptr, 2000);
        // Its pickers offer the registry; what was typed stays.
        auto *tenantPicker = dialog->findChild<QComboBox *>(QStringLiteral("tenant"));
        auto *modelPicker = dialog->findChild<QComboBox *>(QStringLiteral("model"));
        QTRY_COMPARE_WITH_TIMEOUT(tenantPicker->count(), 2, 5000);
        QCOMPARE(tenantPicker->itemText(1), QStringLiteral("free_co"));
        QTRY_COMPARE_WITH_TIMEOUT(modelPicker->count(), 3, 5000);
        QCOMPARE(dialog->findChild<QComboBox *>(QStringLiteral("user"))->currentText(), QString());
        dialog->accept();
        QTRY_VERIFY_WITH_TIMEOUT(dialog->errorText().contains(QStringLiteral("409")), 5000);
        QVERIFY(dialog->isVisible());
        QCOMPARE(dialog->policy().description, QStringLiteral("typed by hand"));
        dialog->reject();

        // No admin token: Add/Edit/Delete are off, and a refused list says what to do.
        ApiClient anonymous;
        anonymous.setServer(m_server.baseUrl(), QByteArray());
        PoliciesPage readOnly(&anonymous);
        for (const char *name : {"add", "edit", "delete"})
            QVERIFY(!readOnly.findChild<QPushButton *>(QLatin1String(name))->isEnabled());
        QSignalSpy failed(&readOnly, &PoliciesPage::failed);
        readOnly.refresh();
        QVERIFY(failed.wait(5000));
        QVERIFY2(readOnly.message().contains(QStringLiteral("SLUICE_ADMIN_TOKEN")), qPrintable(readOnly.message()));
    }

    // Issue 13's "server gone" defects: the Check page says the server did not answer (not "ERROR
    // 0"), a burst stops with the reason instead of counting errors; the chart draws blocked red.
    void serverGoneIsSaidPlainly()
    {
        BurstPage *burst = m_window->burstPage();
        QCOMPARE(burst->allowedSeries()->color(), QColor(0x1b, 0x7f, 0x3b));
        QCOMPARE(burst->blockedSeries()->color(), QColor(0xb3, 0x26, 0x1e));
        QVERIFY(m_server.stop());
        CheckPage *page = m_window->checkPage();
        QSignalSpy answered(page, &CheckPage::answered);
        page->send(1);
        QVERIFY(answered.wait(15000));
        QCOMPARE(page->verdict(), QStringLiteral("NO ANSWER"));
        QVERIFY2(page->cause().contains(QStringLiteral("did not answer")), qPrintable(page->cause()));
        QSignalSpy finished(burst->run(), &BurstRun::finished);
        burst->configure(QStringLiteral("enterprise_co"), QStringLiteral("gone"), QStringLiteral("gpt-4o"), 1000, 1, 0);
        burst->start();
        QVERIFY(finished.wait(30000));
        QVERIFY2(burst->run()->sent() < 10, qPrintable(QString::number(burst->run()->sent())));
        QVERIFY2(burst->counters().contains(QStringLiteral("does not answer")), qPrintable(burst->counters()));
    }

    // Defect: an answer that was not JSON read as "0 policies" / "Saved policy 0".
    void apiClientReportsUnreadableAnswers()
    {
        QTcpServer fake; // a real socket: something else answering on the server's address
        QVERIFY(fake.listen(QHostAddress::LocalHost, 0));
        connect(&fake, &QTcpServer::newConnection, &fake, [&fake] {
            while (QTcpSocket *s = fake.nextPendingConnection()) {
                connect(s, &QTcpSocket::readyRead, s, [s] {
                    s->readAll();
                    const QByteArray body = "<html>proxy error</html>";
                    s->write("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + QByteArray::number(body.size())
                             + "\r\nConnection: close\r\n\r\n" + body);
                    s->disconnectFromHost();
                });
            }
        });
        ApiClient client;
        client.setServer(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(fake.serverPort())), "t");
        bool listed = false;
        client.listPolicies(this, [&listed](const QList<PolicyDto> &policies, const ApiError *error) {
            listed = true;
            QVERIFY(error);
            QCOMPARE(error->code(), QStringLiteral("bad_response"));
            QVERIFY(policies.isEmpty());
        });
        QTRY_VERIFY_WITH_TIMEOUT(listed, 5000);
        PolicyDto p;
        p.scope = Scope::Global;
        p.windowSeconds = 60;
        p.limit = 1;
        bool saved = false;
        client.savePolicy(p, this, [&saved](const PolicyDto &, const ApiError *error) {
            saved = true;
            QVERIFY(error);
            QCOMPARE(error->code(), QStringLiteral("bad_response"));
        });
        QTRY_VERIFY_WITH_TIMEOUT(saved, 5000);
        bool top = false;
        client.topBlocked(5, this, [&top](const QJsonArray &, const ApiError *error) {
            top = true;
            QVERIFY(error);
        });
        QTRY_VERIFY_WITH_TIMEOUT(top, 5000);
    }

    // Defect: a restarted burst counted the answers of the run before it.
    void burstRestartDropsStaleAnswers()
    {
        BurstRun run(m_client.get());
        CheckRequest r;
        r.userId = QStringLiteral("restart");
        r.modelId = QStringLiteral("gpt-4o");
        run.start(r, 20, 20, 0); // 20 in flight at once
        QSignalSpy finished(&run, &BurstRun::finished);
        run.start(r, 5, 1, 0);   // restarted before any answer came back
        QVERIFY(finished.wait(10000));
        QTest::qWait(500); // the first run's answers have all arrived by now
        QCOMPARE(run.sent(), 5);
        QCOMPARE(run.done(), 5);
        QCOMPARE(run.allowed() + run.blocked() + run.errors(), 5);
        QCOMPARE(finished.count(), 1);
    }

    // ent-user-2 on gpt-4o may hold two requests at once (a concurrency policy beside its 10 an hour).
    static PolicyDto twoStreamsOfEntUser2()
    {
        PolicyDto p;
        p.scope = Scope::UserModel;
        p.userId = QStringLiteral("ent-user-2");
        p.modelId = QStringLiteral("gpt-4o");
        p.unit = Unit::Concurrent;
        p.limit = 2;
        return p;
    }

    // Creates a policy through the console's own client (the admin API); fails the test otherwise.
    // Its id goes to *id when asked.
    void createPolicy(PolicyDto p, qint64 *id = nullptr)
    {
        bool saved = false;
        QString why;
        m_client->savePolicy(p, this, [&](const PolicyDto &made, const ApiError *e) {
            saved = !e;
            why = e ? e->message() : QString();
            if (id && !e)
                *id = made.id;
        });
        QTRY_VERIFY2_WITH_TIMEOUT(saved || !why.isEmpty(), "no answer", 5000);
        QVERIFY2(saved, qPrintable(why));
    }

    // Design §10 on the Check page: the cost reserves tokens, the reservation is shown, and
    // Complete with an actual count reconciles it so the next request fits again.
    void checkPageReservesAndCompletesTokens()
    {
        PolicyDto tokens;
        tokens.scope = Scope::Tenant;
        tokens.tenantId = QStringLiteral("free_co");
        tokens.unit = Unit::Tokens;
        tokens.windowSeconds = 60;
        tokens.limit = 1000;
        createPolicy(tokens);
        if (QTest::currentTestFailed())
            return;
        CheckPage *page = m_window->checkPage();
        page->setRequest(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("tiny-model"), QStringLiteral("free"));
        auto *cost = page->findChild<QSpinBox *>(QStringLiteral("cost"));
        QVERIFY(cost);
        cost->setValue(600);
        QSignalSpy answered(page, &CheckPage::answered);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("check")), Qt::LeftButton);
        QVERIFY(answered.wait(5000));
        QCOMPARE(page->verdict(), QStringLiteral("ALLOWED"));
        QVERIFY2(page->headline().startsWith(QStringLiteral("600 / 1000 tokens")), qPrintable(page->headline()));
        const QString id = page->reservationId();
        QVERIFY(!id.isEmpty());
        QVERIFY2(page->reservationText().contains(id), qPrintable(page->reservationText()));
        auto *complete = page->findChild<QPushButton *>(QStringLiteral("complete"));
        auto *actual = page->findChild<QSpinBox *>(QStringLiteral("actual"));
        auto *useActual = page->findChild<QCheckBox *>();
        QVERIFY(complete && complete->isEnabled() && actual && useActual);
        // It used 100 tokens: tick "Actual tokens", type 100, Complete.
        useActual->setChecked(true);
        actual->setValue(100);
        QSignalSpy reservation(page, &CheckPage::reservationAnswered);
        QSignalSpy refreshed(page, &CheckPage::countsRefreshed);
        QTest::mouseClick(complete, Qt::LeftButton);
        QVERIFY(reservation.wait(5000));
        QCOMPARE(reservation.first().first().toInt(), 200);
        QVERIFY2(page->reservationText().contains(QStringLiteral("charged 100 tokens")), qPrintable(page->reservationText()));
        QVERIFY(!complete->isEnabled());
        // The counts follow the settlement (a look, nothing charged): 100 used, and the next 600
        // would make 700 — said so, and not the 600 of the answer before it.
        QTRY_COMPARE_WITH_TIMEOUT(refreshed.size(), 1, 5000);
        QCOMPARE(refreshed.first().first().toInt(), 200);
        QVERIFY2(page->headline().startsWith(QStringLiteral("700 / 1000 tokens")), qPrintable(page->headline()));
        QVERIFY2(page->reservationText().contains(QStringLiteral("what the next check of this request would make")), qPrintable(page->reservationText()));
        // 100 + 600 fit; a third 600 does not, and the refusal holds nothing.
        page->send(1);
        QVERIFY(answered.wait(5000));
        QCOMPARE(page->verdict(), QStringLiteral("ALLOWED"));
        page->send(1);
        QVERIFY(answered.wait(5000));
        QCOMPARE(page->verdict(), QStringLiteral("BLOCKED"));
        QVERIFY2(page->cause().contains(QStringLiteral("1300/1000 tokens")), qPrintable(page->cause()));
        QVERIFY(!complete->isEnabled());
        QCOMPARE(page->reservationId(), QString());
    }

    // The Burst page with a concurrency policy: never completing holds the two leases (2 admitted),
    // completing each admitted request soon after frees them for the rest of the burst.
    void burstCompletesAndFreesLeases()
    {
        PolicyDto streams;
        streams.scope = Scope::Model;
        streams.modelId = QStringLiteral("tiny-model");
        streams.unit = Unit::Concurrent;
        streams.limit = 2;
        createPolicy(streams);
        if (QTest::currentTestFailed())
            return;
        BurstPage *page = m_window->burstPage();
        QSignalSpy finished(page->run(), &BurstRun::finished);
        page->configure(QStringLiteral("enterprise_co"), QStringLiteral("burst-a"), QStringLiteral("tiny-model"), 6, 3, 0);
        page->configureLifecycle(1, -1, -1); // never complete
        page->start();
        QVERIFY(finished.wait(10000));
        QCOMPARE(page->run()->allowed(), 2);
        QCOMPARE(page->run()->blocked(), 4);
        QCOMPARE(page->run()->held(), 2);
        // Other callers are held back by those leases too (the model's limit); this run completes
        // what it gets: 20 requests at 10/s, each completed 50 ms after admission.
        page->configure(QStringLiteral("enterprise_co"), QStringLiteral("burst-b"), QStringLiteral("gpt-4o-mini"), 20, 2, 10);
        PolicyDto mini = streams;
        mini.modelId = QStringLiteral("gpt-4o-mini");
        createPolicy(mini);
        page->configureLifecycle(1, 50, 1);
        page->start();
        QVERIFY(finished.wait(15000));
        QCOMPARE(page->run()->done(), 20);
        QTRY_COMPARE_WITH_TIMEOUT(page->run()->held(), 0, 5000);
        QCOMPARE(page->run()->completed(), page->run()->allowed());
        QCOMPARE(page->run()->completionErrors(), 0);
        QVERIFY2(page->run()->allowed() > 2, qPrintable(page->counters())); // leases came back during the burst
        QVERIFY2(page->counters().contains(QStringLiteral("completed")), qPrintable(page->counters()));
    }

    void burstCountsAllowedAndBlocked()
    {
        BurstPage *page = m_window->burstPage();
        QSignalSpy finished(page->run(), &BurstRun::finished);
        page->configure(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"), 30, 4, 0);
        page->start();
        QVERIFY(finished.wait(10000));
        QCOMPARE(page->run()->done(), 30);
        QCOMPARE(page->run()->allowed(), 10);
        QCOMPARE(page->run()->blocked(), 20);
        QCOMPARE(page->run()->errors(), 0);
        // The counters, then the rate and the round trips' p50/p99 (their values vary).
        QVERIFY2(page->counters().startsWith(QStringLiteral("allowed 10 · blocked 20 · errors 0 · ")), qPrintable(page->counters()));
        static const QRegularExpression rateAndLatency(QStringLiteral(" · [0-9.]+ answers/s · p50 [0-9.]+ ms · p99 [0-9.]+ ms$"));
        QVERIFY2(rateAndLatency.match(page->counters()).hasMatch(), qPrintable(page->counters()));
        QVERIFY(page->run()->latencyQuantileMs(0.5) > 0);
        QVERIFY(page->run()->latencyQuantileMs(0.99) >= page->run()->latencyQuantileMs(0.5));
        QVERIFY(page->run()->answersPerSecond() > 0);

        // Issue 13: a burst with an API key and a tier. The demo's key allows 20 an hour (tighter
        // than free_co's 50 and the premium tier's 1000): 25 checks, 20 allowed.
        page->configure(QStringLiteral("free_co"), QStringLiteral("burst-key-user"), QStringLiteral("gpt-4o"), 25, 4, 0);
        page->configureCaller(QStringLiteral("premium"), QStringLiteral("sluice-demo-free-co-key"));
        page->start();
        QVERIFY(finished.wait(10000));
        QCOMPARE(page->run()->allowed(), 20);
        QCOMPARE(page->run()->blocked(), 5);
        // A key the server does not know: every check refused (401), counted as errors.
        page->configureCaller(QString(), QStringLiteral("sk_not_a_key"));
        page->start();
        QVERIFY(finished.wait(10000));
        QCOMPARE(page->run()->errors(), 25);
        QCOMPARE(page->run()->allowed(), 0);
    }

    void burstAtARateIsPacedAndCancellable()
    {
        BurstRun run(m_client.get());
        QSignalSpy finished(&run, &BurstRun::finished);
        CheckRequest r;
        r.userId = QStringLiteral("paced");
        r.modelId = QStringLiteral("gpt-4o");
        run.start(r, 1000, 2, 50); // 50 per second: 1000 would take 20 s
        QTest::qWait(300);
        run.cancel(); // may finish at once when nothing is in flight
        QVERIFY(finished.count() == 1 || finished.wait(5000));
        QVERIFY2(run.sent() < 100, qPrintable(QString::number(run.sent())));
        QCOMPARE(run.done(), run.sent());
        QCOMPARE(run.allowed(), run.sent());
    }

    void liveUsageFollowsTheChecks()
    {
        UsagePage *page = m_window->usagePage();
        const QString key = QStringLiteral("sluice:{user_model:live:gpt-4o}");
        QSignalSpy updated(page, &UsagePage::updated);
        page->watch({key});
        QVERIFY(updated.wait(5000));
        QCOMPARE(page->series().lastCount(key), qint64(0));
        QCOMPARE(page->series().limit(key), qint64(100));
        CheckPage *check = m_window->checkPage();
        check->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("live"), QStringLiteral("gpt-4o"), QString());
        QSignalSpy answered(check, &CheckPage::answered);
        check->send(3);
        QVERIFY(answered.wait(5000));
        QTRY_COMPARE_WITH_TIMEOUT(page->series().lastCount(key), qint64(3), 5000);
        page->stop();
    }

    // Issue 23, item 2: the watched caller's every policy is listed (a look, nothing charged) and
    // kept live; the concurrency policy that refuses while the requests line shows 2/10 of headroom
    // is the one highlighted, with its refusals counted.
    void liveUsageListsEveryPolicyOfTheCaller()
    {
        const PolicyDto streams = twoStreamsOfEntUser2();
        qint64 streamsId = 0;
        createPolicy(streams, &streamsId);
        if (QTest::currentTestFailed())
            return;
        UsagePage *page = m_window->usagePage();
        QSignalSpy filled(page, &UsagePage::pickersFilled);
        page->refreshPickers();
        QVERIFY(filled.wait(5000));
        page->picker(QStringLiteral("scope"))->setCurrentText(scopeName(Scope::UserModel));
        page->picker(QStringLiteral("user"))->setCurrentText(QStringLiteral("ent-user-2"));
        page->picker(QStringLiteral("model"))->setCurrentText(QStringLiteral("gpt-4o"));
        page->picker(QStringLiteral("tier"))->setCurrentText(QStringLiteral("free")); // stale: not this scope's, not sent
        CallerPolicies *list = page->callerPolicies();
        QSignalSpy updated(page, &UsagePage::updated);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("watch")), Qt::LeftButton);
        // user on model (requests, then concurrent), tier premium, tenant, global: five policies,
        // listed before any check, and the explanation charged none of them.
        QTRY_COMPARE_WITH_TIMEOUT(list->rows().size(), 5, 5000);
        QVERIFY2(list->caption().contains(QStringLiteral("user ent-user-2 on gpt-4o")), qPrintable(list->caption()));
        QCOMPARE(page->watchedKeys(), QStringList{QStringLiteral("sluice:{user_model:ent-user-2:gpt-4o}")});
        auto rowWith = [&](const QString &part) {
            for (const QString &row : list->rows())
                if (row.contains(part))
                    return row;
            return QString();
        };
        QTRY_COMPARE_WITH_TIMEOUT(rowWith(QStringLiteral("— /")), QString(), 5000); // every count read from the stream
        for (const QString &row : list->rows())
            QVERIFY2(row.section(QLatin1Char('|'), 1, 1).startsWith(QLatin1String("0 / ")), qPrintable(row));

        // Eight checks, never completed: two hold the streams, six are refused by them.
        CheckPage *check = m_window->checkPage();
        check->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"), QString());
        QSignalSpy answered(check, &CheckPage::answered);
        check->send(8);
        QVERIFY(answered.wait(10000));
        QCOMPARE(check->sequenceText(), QStringLiteral("8 sent: 2 allowed, 6 blocked — the last answer below"));
        QTRY_COMPARE_WITH_TIMEOUT(rowWith(QStringLiteral("2 / 2 held")).section(QLatin1Char('|'), 3, 3), QStringLiteral("6"), 5000);
        const QString held = rowWith(QStringLiteral("2 / 2 held"));
        QVERIFY2(held.endsWith(QStringLiteral("binds: refuses the next check")), qPrintable(held));
        QCOMPARE(list->binding(), held.section(QLatin1Char('|'), 0, 0));
        // The requests policy beside it: 2 of 10, 8 left, not binding, no refusals of its own.
        const QString requests = rowWith(QStringLiteral("2 / 10|"));
        QVERIFY2(requests.endsWith(QStringLiteral("|8||")), qPrintable(list->rows().join(QLatin1Char('\n'))));
        // The concurrency policy deleted: its row says so, and the requests policy binds.
        bool deleted = false;
        m_client->deletePolicy(streamsId, this, [&](const ApiError *e) { deleted = !e; });
        QTRY_VERIFY_WITH_TIMEOUT(deleted, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(rowWith(QStringLiteral(" held")).endsWith(QStringLiteral("no longer applies (policy removed)")), 5000);
        QVERIFY2(rowWith(QStringLiteral("2 / 10|")).endsWith(QStringLiteral("|binds")), qPrintable(list->rows().join(QLatin1Char('\n'))));
        // The chart still draws the watched caller only.
        QCOMPARE(page->series().keys(), QStringList{QStringLiteral("sluice:{user_model:ent-user-2:gpt-4o}")});
        // Watch, then Clear before the server answers: the late answers start nothing again.
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("watch")), Qt::LeftButton);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("clear")), Qt::LeftButton);
        QTest::qWait(800);
        QCOMPARE(page->watchedKeys(), QStringList());
        QCOMPARE(list->rows(), QStringList());
        // Scope TENANT, a user and a model left in their (disabled) pickers: the tenant is watched,
        // and no user's policies are listed under it.
        page->picker(QStringLiteral("scope"))->setCurrentText(scopeName(Scope::Tenant));
        page->picker(QStringLiteral("tenant"))->setCurrentText(QStringLiteral("enterprise_co"));
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("watch")), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(page->watchedKeys(), QStringList{QStringLiteral("sluice:{tenant:enterprise_co}")}, 5000);
        QCOMPARE(list->rows(), QStringList());
        QVERIFY2(list->caption().contains(QStringLiteral("USER_MODEL")), qPrintable(list->caption()));
        page->stop();
    }

    // Issue 23, item 8 (last of it): long texts — a 128-character user id, a refusal's cause, a long
    // server address while it is down — wrap instead of widening the window past its 1000 pixels
    // and pushing scenario C off it; no placeholder is cut off.
    void longTextsKeepTheWindowsWidth()
    {
        const int width = m_window->width();
        QCOMPARE(width, 1000);
        CheckPage *check = m_window->checkPage();
        QSignalSpy answered(check, &CheckPage::answered);
        const QString user = QString(128, QLatin1Char('u'));
        check->setRequest(QStringLiteral("enterprise_co"), user, QStringLiteral("gpt-4o"), QString());
        check->send(101); // the base rule's 101st refused: the summary and the cause name the user, all 128 characters
        QVERIFY(answered.wait(10000));
        QCOMPARE(check->verdict(), QStringLiteral("BLOCKED"));
        QVERIFY(check->cause().contains(user));
        UsagePage *usage = m_window->usagePage();
        usage->watch({QStringLiteral("sluice:{user_model:%1:gpt-4o}").arg(user)});
        QSignalSpy updated(usage, &UsagePage::updated);
        QVERIFY(updated.wait(5000));
        // The window: each page laid out within 1000 pixels.
        for (int i = 0; i < m_window->tabs()->count(); ++i) {
            m_window->tabs()->setCurrentIndex(i);
            QApplication::processEvents();
            QVERIFY2(m_window->minimumSizeHint().width() <= width,
                     qPrintable(QStringLiteral("%1: %2 px").arg(m_window->tabs()->tabText(i)).arg(m_window->minimumSizeHint().width())));
            QVERIFY2(m_window->width() <= width, qPrintable(m_window->tabs()->tabText(i)));
        }
        m_window->tabs()->setCurrentWidget(check);
        QApplication::processEvents();
        QPushButton *scenarioC = nullptr;
        for (QPushButton *b : check->findChildren<QPushButton *>())
            if (b->text().startsWith(QLatin1Char('C')))
                scenarioC = b;
        QVERIFY(scenarioC && scenarioC->isVisible());
        QVERIFY(QRect(QPoint(0, 0), m_window->size()).contains(QRect(scenarioC->mapTo(m_window.get(), QPoint(0, 0)), scenarioC->size())));
        // Every placeholder shown whole (the fields at the window's width, and in the dialogs).
        PolicyDialog policyDialog{PolicyDto()};
        policyDialog.show();
        ConnectionDialog connectionDialog(m_server.baseUrl(), QByteArray(), false);
        connectionDialog.show();
        QList<QLineEdit *> edits = m_window->findChildren<QLineEdit *>();
        edits += policyDialog.findChildren<QLineEdit *>();
        edits += connectionDialog.findChildren<QLineEdit *>();
        int placeholders = 0;
        for (QLineEdit *e : std::as_const(edits)) {
            if (e->placeholderText().isEmpty())
                continue;
            QWidget *page = e;
            while (page && m_window->tabs()->indexOf(page) < 0)
                page = page->parentWidget();
            if (page)
                m_window->tabs()->setCurrentWidget(page);
            QApplication::processEvents();
            const int needed = e->fontMetrics().horizontalAdvance(e->placeholderText());
            QVERIFY2(e->contentsRect().width() - 8 >= needed,
                     qPrintable(QStringLiteral("'%1': %2 px for %3").arg(e->placeholderText()).arg(e->contentsRect().width()).arg(needed)));
            ++placeholders;
        }
        QVERIFY2(placeholders >= 8, qPrintable(QString::number(placeholders)));
        usage->stop();
    }

    // Issue 23, item 8: a scenario counts all its answers; Top blocked shows local times and the
    // unit and jumps to Live usage, which keeps what it drew when a caller is added, shows 1, 5 or
    // 15 minutes and pauses; count axes have whole, even ticks.
    void smallerThingsAnOperatorNoticed()
    {
        QCOMPARE(wholeStep(10), qint64(2));
        QCOMPARE(wholeStep(49), qint64(10));
        QCOMPARE(wholeStep(0), qint64(1));
        QValueAxis axis;
        setWholeAxis(&axis, 49);
        QCOMPARE(axis.max(), 50.0);
        QCOMPARE(axis.tickCount(), 6); // 0 10 20 30 40 50, not 12/24/37/49

        CheckPage *check = m_window->checkPage();
        QSignalSpy answered(check, &CheckPage::answered);
        check->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"), QString());
        check->send(11);
        QVERIFY(answered.wait(10000));
        QCOMPARE(check->sequenceText(), QStringLiteral("11 sent: 10 allowed, 1 blocked — the last answer below"));
        answered.clear();
        check->send(1);
        QVERIFY(answered.wait(5000));
        QCOMPARE(check->sequenceText(), QString());

        TopBlockedPage *top = m_window->topBlockedPage();
        QSignalSpy refreshed(top, &TopBlockedPage::refreshed);
        top->refresh();
        QVERIFY(refreshed.wait(5000));
        auto *tree = top->findChild<QTreeWidget *>();
        QCOMPARE(tree->topLevelItemCount(), 1);
        QTreeWidgetItem *row = tree->topLevelItem(0);
        QCOMPARE(row->text(5), QStringLiteral("requests"));
        QVERIFY(tree->isSortingEnabled()); // after a refresh too: a header click sorts
        QVERIFY2(!row->text(4).contains(QLatin1Char('T')) && !row->text(4).endsWith(QLatin1Char('Z')), qPrintable(row->text(4))); // local, not raw ISO UTC
        // → the policy that refused it (the demo's policy 9, ent-user-2 on gpt-4o), selected on the
        // Policies page even when a filter hid it.
        m_window->policiesPage()->setFilterText(QStringLiteral("nothing matches this"));
        tree->setCurrentItem(row);
        QSignalSpy listed(m_window->policiesPage(), &PoliciesPage::refreshed);
        QTest::mouseClick(top->findChild<QPushButton *>(QStringLiteral("showPolicy")), Qt::LeftButton);
        QVERIFY(listed.wait(5000));
        QCOMPARE(m_window->tabs()->currentWidget(), static_cast<QWidget *>(m_window->policiesPage()));
        QTRY_COMPARE_WITH_TIMEOUT(m_window->policiesPage()->selectedPolicyId(), qint64(9), 5000);
        QVERIFY2(m_window->policiesPage()->message().startsWith(QStringLiteral("Policy 9 selected")), qPrintable(m_window->policiesPage()->message()));
        listed.clear();
        m_window->policiesPage()->refresh(); // a new list keeps the selection on its policy
        QVERIFY(listed.wait(5000));
        QCOMPARE(m_window->policiesPage()->selectedPolicyId(), qint64(9));
        refreshed.clear();
        m_window->tabs()->setCurrentWidget(top); // (it lists again: the rows are new)
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(tree->topLevelItemCount(), 1);
        row = tree->topLevelItem(0);

        UsagePage *usage = m_window->usagePage();
        QSignalSpy updated(usage, &UsagePage::updated);
        const QString other = QStringLiteral("sluice:{tenant:enterprise_co}");
        usage->watch({other});
        QVERIFY(updated.wait(5000));
        QTRY_VERIFY_WITH_TIMEOUT(usage->series().points(other).size() >= 3, 5000);
        const int before = static_cast<int>(usage->series().points(other).size());
        tree->setCurrentItem(row);
        top->watchSelected(); // → Live usage, the caller added
        QCOMPARE(m_window->tabs()->currentWidget(), static_cast<QWidget *>(usage));
        QCOMPARE(usage->watchedKeys(), (QStringList{other, row->text(3)}));
        updated.clear();
        QVERIFY(updated.wait(5000));
        QVERIFY(usage->series().points(other).size() > before); // what was drawn stays
        usage->setRangeSeconds(300);
        QCOMPARE(usage->shownRangeMs(), qint64(300000));
        QCOMPARE(usage->findChild<QComboBox *>(QStringLiteral("range"))->currentText(), QStringLiteral("last 5 minutes"));
        usage->setPaused(true);
        updated.clear();
        QVERIFY(updated.wait(5000));
        QVERIFY2(usage->statusText().startsWith(QStringLiteral("Paused at")), qPrintable(usage->statusText()));
        usage->setPaused(false);
        updated.clear();
        QVERIFY(updated.wait(5000));
        QVERIFY(usage->statusText().startsWith(QStringLiteral("Live at")));
        // Server → Connect… (here the same server again): the chart starts afresh, no band, no note.
        const int drawn = static_cast<int>(usage->series().points(other).size());
        m_client->setServer(m_server.baseUrl(), QByteArrayLiteral("console-token"));
        updated.clear();
        QVERIFY(updated.wait(5000));
        QVERIFY2(usage->series().points(other).size() < drawn, qPrintable(QString::number(usage->series().points(other).size())));
        QCOMPARE(usage->gapCount(), 0);
        QCOMPARE(usage->noteText(), QString());
        usage->stop();
    }

    // Issue 23, items 3 and 4: usage as a share of each caller's limit (a requests caller and a
    // tokens caller on one axis), the limit one grey line, points at or over it red; across an
    // outage a grey band and broken lines instead of a slope, and a restart said in words.
    void liveUsageMarksLimitsAndOutages()
    {
        test::ServerProcess server;
        QString error;
        QVERIFY2(server.start({QStringLiteral("--admin-token"), QStringLiteral("t")}, &error), qPrintable(error));
        ApiClient client;
        client.setServer(server.baseUrl(), QByteArrayLiteral("t"));
        UsagePage page(&client);
        QCOMPARE(page.axisTitle(), QStringLiteral("% of limit"));
        QSignalSpy updated(&page, &UsagePage::updated);
        const QString user = QStringLiteral("sluice:{user_model:ent-user-2:gpt-4o}");
        const QString tenant = QStringLiteral("sluice:{tenant:enterprise_co}");
        page.watch({user, tenant});
        QVERIFY(updated.wait(5000));
        QNetworkAccessManager nam;
        for (int i = 0; i < 10; ++i)
            QCOMPARE(test::httpCall(nam, server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check"))), "POST",
                                    R"({"tenantId":"enterprise_co","userId":"ent-user-2","modelId":"gpt-4o"})")
                         .status,
                     200);
        QTRY_COMPARE_WITH_TIMEOUT(page.series().lastCount(user), qint64(10), 5000);
        QCOMPARE(page.series().percentPoints(user).last().y(), 100.0); // 10 of 10
        QCOMPARE(page.series().percentPoints(tenant).last().y(), 2.0);  // 10 of 500, on the same axis
        QTRY_VERIFY_WITH_TIMEOUT(page.overLimitPoints(user) >= 1, 5000);
        QCOMPARE(page.overLimitPoints(tenant), 0);
        // Item 2: refusals marked where they happened (the server counts them per key).
        QCOMPARE(page.refusalMarks(user), 0);
        for (int i = 0; i < 2; ++i)
            QCOMPARE(test::httpCall(nam, server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check"))), "POST",
                                    R"({"tenantId":"enterprise_co","userId":"ent-user-2","modelId":"gpt-4o"})")
                         .status,
                     429);
        QTRY_VERIFY_WITH_TIMEOUT(page.refusalMarks(user) >= 1, 5000);
        QCOMPARE(page.refusalMarks(tenant), 0);
        QCOMPARE(page.gapCount(), 0);
        QCOMPARE(page.segmentCount(user), 1);

        QVERIFY(server.stop());
        QTRY_VERIFY_WITH_TIMEOUT(page.isReconnecting(), 5000);
        QTest::qWait(1500);
        QVERIFY2(server.restart(&error), qPrintable(error)); // the memory store starts empty
        updated.clear();
        QVERIFY2(updated.wait(10000), qPrintable(page.statusText()));
        QCOMPARE(page.gapCount(), 1);
        QCOMPARE(page.segmentCount(user), 2); // broken across the gap, no slope through it
        QTRY_VERIFY_WITH_TIMEOUT(page.noteText().contains(QStringLiteral("the server restarted meanwhile")), 5000);
        QCOMPARE(page.series().lastCount(user), qint64(0));
        page.stop();
    }

    // Issue 23, item 1: a token-bucket caller (the demo's gpt-4o-mini users: 60 a minute, bursts of
    // 10) is watched like any other: its level against its burst, "Most blocked" adds it without
    // stopping the watch, and Top blocked's reset empties it so it may send again.
    void liveUsageWatchesABucketCaller()
    {
        CheckPage *check = m_window->checkPage();
        check->setRequest(QStringLiteral("free_co"), QStringLiteral("bucket-user"), QStringLiteral("gpt-4o-mini"), QString());
        QSignalSpy answered(check, &CheckPage::answered);
        check->send(13);
        QVERIFY(answered.wait(10000));
        QCOMPARE(check->verdict(), QStringLiteral("BLOCKED"));
        UsagePage *page = m_window->usagePage();
        QSignalSpy updated(page, &UsagePage::updated);
        page->watchMostBlocked();
        const QString key = QStringLiteral("sluice:{user_model:bucket-user:gpt-4o-mini}:bucket");
        QTRY_VERIFY_WITH_TIMEOUT(page->series().keys().contains(key), 5000);
        QTRY_COMPARE_WITH_TIMEOUT(page->series().limit(key), qint64(10), 5000); // against its burst
        // The burst used (it refills one a second: the first event, however late, still shows most of it).
        double most = 0;
        for (const QPointF &p : page->series().points(key))
            most = std::max(most, p.y());
        QVERIFY2(most >= 3, qPrintable(QString::number(most)));
        QVERIFY2(!page->statusText().startsWith(QStringLiteral("Stopped")), qPrintable(page->statusText()));

        TopBlockedPage *top = m_window->topBlockedPage();
        QSignalSpy refreshed(top, &TopBlockedPage::refreshed);
        top->refresh();
        QVERIFY(refreshed.wait(5000));
        auto *tree = top->findChild<QTreeWidget *>();
        QTreeWidgetItem *row = nullptr;
        for (int i = 0; i < tree->topLevelItemCount(); ++i)
            if (tree->topLevelItem(i)->text(3) == key)
                row = tree->topLevelItem(i);
        QVERIFY(row);
        tree->setCurrentItem(row);
        top->resetSelected();
        QMessageBox *box = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((box = top->findChild<QMessageBox *>(QStringLiteral("confirmReset"))) != nullptr, 2000);
        QTest::mouseClick(box->button(QMessageBox::Yes), Qt::LeftButton);
        QVERIFY(refreshed.wait(5000));
        QVERIFY2(top->message().startsWith(QStringLiteral("Reset the usage of")), qPrintable(top->message()));
        QTRY_COMPARE_WITH_TIMEOUT(page->series().lastCount(key), qint64(0), 5000);
        // A whole burst again at once: only a reset gives back all ten (a refill of a few seconds
        // gives back a few).
        answered.clear();
        check->send(10);
        QVERIFY(answered.wait(10000));
        QCOMPARE(check->sequenceText(), QStringLiteral("10 sent: 10 allowed, 0 blocked — the last answer below"));
        page->stop();
    }

    // Issue 13: Live usage is chosen by identity from pickers filled from the registry, never by a
    // raw key; "Most blocked" watches the top-blocked callers.
    void liveUsagePicksCallersFromTheRegistry()
    {
        UsagePage *page = m_window->usagePage();
        QSignalSpy filled(page, &UsagePage::pickersFilled);
        page->refreshPickers();
        QVERIFY(filled.wait(5000));
        QComboBox *tenant = page->picker(QStringLiteral("tenant"));
        QComboBox *user = page->picker(QStringLiteral("user"));
        QComboBox *model = page->picker(QStringLiteral("model"));
        QVERIFY(tenant && user && model);
        auto items = [](QComboBox *c) {
            QStringList out;
            for (int i = 0; i < c->count(); ++i)
                out << c->itemText(i);
            return out;
        };
        QCOMPARE(items(tenant), (QStringList{QStringLiteral("enterprise_co"), QStringLiteral("free_co")}));
        QVERIFY(items(user).contains(QStringLiteral("ent-user-2")));
        QCOMPARE(items(model), (QStringList{QStringLiteral("gpt-4o"), QStringLiteral("gpt-4o-mini"), QStringLiteral("tiny-model")}));
        QCOMPARE(items(page->picker(QStringLiteral("tier"))).size(), 3);

        // Tenant scope: only the tenant picker is enabled; the key is the tenant's.
        QComboBox *scope = page->picker(QStringLiteral("scope"));
        scope->setCurrentText(QStringLiteral("TENANT"));
        QVERIFY(tenant->isEnabled() && !user->isEnabled() && !model->isEnabled());
        tenant->setCurrentText(QStringLiteral("free_co"));
        QCOMPARE(page->pickedKey(), QStringLiteral("sluice:{tenant:free_co}"));
        // A caller the registry does not know can be typed (ids escaped as the server does).
        scope->setCurrentText(QStringLiteral("USER_MODEL"));
        user->setCurrentText(QStringLiteral("new:user"));
        model->setCurrentText(QStringLiteral("gpt-4o"));
        page->picker(QStringLiteral("unit"))->setCurrentText(QStringLiteral("tokens"));
        QCOMPARE(page->pickedKey(), QStringLiteral("sluice:{user_model:new%3Auser:gpt-4o}:tokens"));
        user->setCurrentText(QString());
        QString why;
        QVERIFY(page->pickedKey(&why).isEmpty());
        QVERIFY2(why.contains(QStringLiteral("user")), qPrintable(why));

        // Watch ent-user-2 on gpt-4o (requests): the chart follows its checks, with its limit.
        user->setCurrentText(QStringLiteral("ent-user-2"));
        page->picker(QStringLiteral("unit"))->setCurrentText(QStringLiteral("requests"));
        QSignalSpy updated(page, &UsagePage::updated);
        page->findChild<QPushButton *>(QStringLiteral("watch"))->click();
        const QString key = QStringLiteral("sluice:{user_model:ent-user-2:gpt-4o}");
        QTRY_COMPARE_WITH_TIMEOUT(page->watchedKeys(), QStringList{key}, 5000);
        QVERIFY(updated.wait(5000));
        QCOMPARE(page->series().limit(key), qint64(10));
        // A caller under a token bucket (gpt-4o-mini's users): watched by the key its bucket
        // counts in, charted against its burst — not the log key no policy governs.
        page->picker(QStringLiteral("model"))->setCurrentText(QStringLiteral("gpt-4o-mini"));
        page->findChild<QPushButton *>(QStringLiteral("watch"))->click();
        const QString bucket = QStringLiteral("sluice:{user_model:ent-user-2:gpt-4o-mini}:bucket");
        QTRY_COMPARE_WITH_TIMEOUT(page->watchedKeys(), (QStringList{key, bucket}), 5000);
        QTRY_COMPARE_WITH_TIMEOUT(page->series().limit(bucket), qint64(10), 5000);
        page->stop();

        // Most blocked: ent-user-2 after its 11th check.
        CheckPage *check = m_window->checkPage();
        check->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"), QString());
        QSignalSpy answered(check, &CheckPage::answered);
        check->send(11);
        QVERIFY(answered.wait(10000));
        QSignalSpy watched(page, &UsagePage::watchedChanged);
        page->findChild<QPushButton *>(QStringLiteral("mostBlocked"))->click();
        QVERIFY(watched.wait(5000));
        QCOMPARE(page->watchedKeys(), QStringList{key});
        QVERIFY(updated.wait(5000));
        QTRY_COMPARE_WITH_TIMEOUT(page->series().lastCount(key), qint64(10), 5000);
        // Reset usage of the watched callers: asked first, then the count drops to 0.
        page->findChild<QPushButton *>(QStringLiteral("resetUsage"))->click();
        QMessageBox *box = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((box = page->findChild<QMessageBox *>(QStringLiteral("confirmResetWatched"))) != nullptr, 2000);
        QTest::mouseClick(box->button(QMessageBox::Yes), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(page->series().lastCount(key), qint64(0), 5000);
        page->stop();
    }

    // Issue 13: Live usage reconnects by itself when the server comes back, and says so meanwhile.
    void liveUsageReconnectsAfterTheServerRestarts()
    {
        // A server of this test's own, so that it can come back (on the same port).
        test::ServerProcess server;
        QString error;
        QVERIFY2(server.start({QStringLiteral("--admin-token"), QStringLiteral("t")}, &error), qPrintable(error));
        ApiClient client;
        client.setServer(server.baseUrl(), QByteArrayLiteral("t"));
        UsagePage page(&client);
        QSignalSpy updated(&page, &UsagePage::updated);
        page.watch({QStringLiteral("sluice:{global}")});
        QVERIFY(updated.wait(5000));
        // ent-user-2 on gpt-4o watched too, its policies listed — one of them made in the console,
        // which the restart below forgets (embedded mode): the list is asked for again then.
        const PolicyDto streams = twoStreamsOfEntUser2();
        bool saved = false;
        client.savePolicy(streams, this, [&](const PolicyDto &, const ApiError *e) { saved = !e; });
        QTRY_VERIFY_WITH_TIMEOUT(saved, 5000);
        page.picker(QStringLiteral("scope"))->setCurrentText(scopeName(Scope::UserModel));
        page.picker(QStringLiteral("user"))->setCurrentText(QStringLiteral("ent-user-2"));
        page.picker(QStringLiteral("model"))->setCurrentText(QStringLiteral("gpt-4o"));
        page.watchPicked();
        QTRY_COMPARE_WITH_TIMEOUT(page.callerPolicies()->rows().size(), 5, 5000);
        QVERIFY(server.stop());
        QTRY_VERIFY_WITH_TIMEOUT(page.isReconnecting(), 5000);
        QVERIFY2(page.statusText().contains(QStringLiteral("reconnecting")), qPrintable(page.statusText()));
        updated.clear();
        QTest::qWait(1500); // at least one attempt fails while it is away
        QVERIFY(updated.isEmpty());
        QVERIFY2(server.restart(&error), qPrintable(error));
        QVERIFY2(updated.wait(10000), qPrintable(page.statusText()));
        QVERIFY2(page.statusText().startsWith(QStringLiteral("Live at")), qPrintable(page.statusText()));
        QVERIFY(!page.isReconnecting());
        QTRY_COMPARE_WITH_TIMEOUT(page.callerPolicies()->rows().size(), 4, 5000); // the concurrency policy is gone
        for (const QString &row : page.callerPolicies()->rows())
            QVERIFY2(!row.contains(QStringLiteral("held")), qPrintable(row));
        // Server → Connect… with a token the server refuses: the stream follows, and stops with the
        // server's reason instead of retrying forever.
        client.setServer(server.baseUrl(), QByteArrayLiteral("wrong"));
        QTRY_VERIFY2_WITH_TIMEOUT(page.statusText().startsWith(QStringLiteral("Stopped: the server refused the admin token")), qPrintable(page.statusText()), 5000);
        QVERIFY(!page.isReconnecting());
        // And back to the right one: watching again.
        updated.clear();
        client.setServer(server.baseUrl(), QByteArrayLiteral("t"));
        QVERIFY2(updated.wait(5000), qPrintable(page.statusText()));
        // Stopped by the operator: no reconnection.
        page.stop();
        QTest::qWait(300);
        QVERIFY(!page.isReconnecting());
        QCOMPARE(page.statusText(), QStringLiteral("stopped"));
    }

    // Issue 13: the charts follow the desktop's dark or light palette.
    void chartsFollowThePalette()
    {
        const QPalette light = QApplication::palette();
        QPalette dark = light;
        dark.setColor(QPalette::Window, QColor(0x20, 0x22, 0x25));
        dark.setColor(QPalette::WindowText, QColor(0xe0, 0xe0, 0xe0));
        QApplication::setPalette(dark);
        {
            UsagePage page(m_client.get());
            QCOMPARE(page.chart()->theme(), QChart::ChartThemeDark);
        }
        QApplication::setPalette(light);
        UsagePage page(m_client.get());
        QCOMPARE(page.chart()->theme(), QChart::ChartThemeLight);
    }

    // The Server page's reading of /metrics, offline.
    void metricsTextSums()
    {
        const QByteArray text = "# TYPE sluice_decisions_total counter\n"
                                "sluice_decisions_total{scope=\"USER_MODEL\",result=\"allowed\"} 10\n"
                                "sluice_decisions_total{scope=\"TENANT\",result=\"blocked\"} 2.5\n"
                                "sluice_decisions_total_created 1700000000\n"
                                "sluice_decisions_totalx 99\n"
                                "sluice_uptime 5\n";
        QCOMPARE(sumOfMetric(text, "sluice_decisions_total"), std::optional<double>(12.5));
        QCOMPARE(sumOfMetric(text, "sluice_decisions_total", "result=\"blocked\""), std::optional<double>(2.5));
        QCOMPARE(sumOfMetric(text, "sluice_uptime"), std::optional<double>(5));
        QVERIFY(!sumOfMetric(text, "sluice_missing"));
        QVERIFY(!sumOfMetric(QByteArray(), "sluice_decisions_total"));
    }

    // The entity browser's and API keys page's model, offline.
    void jsonTableModelOffline()
    {
        JsonTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setColumns({{QStringLiteral("id"), QStringLiteral("Id")}, {QStringLiteral("userId"), QStringLiteral("User")},
                          {QStringLiteral("revoked"), QStringLiteral("Revoked")}});
        model.setRows(QJsonDocument::fromJson(R"([{"id":7,"userId":null,"revoked":true},"not an object",{"id":8,"userId":"u"}])").array());
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.columnCount(), 3);
        QCOMPARE(model.headerData(1, Qt::Horizontal).toString(), QStringLiteral("User"));
        QCOMPARE(model.index(0, 0).data().toString(), QStringLiteral("7"));
        QCOMPARE(model.index(0, 1).data().toString(), QStringLiteral("—"));
        QCOMPARE(model.index(0, 2).data().toString(), QStringLiteral("yes"));
        QCOMPARE(model.index(1, 2).data().toString(), QStringLiteral("—"));
        QCOMPARE(model.rowObject(1).value(QStringLiteral("userId")).toString(), QStringLiteral("u"));
        model.setRows({});
        QCOMPARE(model.rowCount(), 0);
    }

    // Issue 13: an API key created (the plaintext shown once, with a copy button), listed by its
    // prefix, revoked after a confirmation — and then a check with it is refused (401).
    void apiKeyCreatedShownListedRevoked()
    {
        ApiKeysPage *page = m_window->apiKeysPage();
        QSignalSpy refreshed(page, &ApiKeysPage::refreshed);
        page->refresh();
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(refreshed.last().first().toBool(), true);
        QCOMPARE(page->model()->rowCount(), 1); // the demo's key
        page->findChild<QComboBox *>(QStringLiteral("tenant"))->setCurrentText(QStringLiteral("free_co"));
        QSignalSpy created(page, &ApiKeysPage::created);
        page->findChild<QPushButton *>(QStringLiteral("create"))->click();
        QVERIFY(created.wait(5000));
        const QString plaintext = created.first().first().toString();
        QVERIFY(plaintext.startsWith(QStringLiteral("sk_")));
        QDialog *shown = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((shown = page->findChild<QDialog *>(QStringLiteral("newApiKey"))) != nullptr, 2000);
        QCOMPARE(shown->findChild<QLineEdit *>(QStringLiteral("plaintext"))->text(), plaintext);
        auto *copy = shown->findChild<QPushButton *>(QStringLiteral("copy"));
        copy->click();
        QCOMPARE(copy->text(), QStringLiteral("Copied"));
        shown->close();
        QTRY_COMPARE_WITH_TIMEOUT(page->model()->rowCount(), 2, 5000);
        // Listed by prefix only: the plaintext is nowhere in the table.
        int row = -1;
        for (int r = 0; r < page->model()->rowCount(); ++r) {
            for (int c = 0; c < page->model()->columnCount(); ++c)
                QVERIFY(page->model()->index(r, c).data().toString() != plaintext);
            if (plaintext.startsWith(page->model()->rowObject(r).value(QStringLiteral("prefix")).toString())
                && page->model()->rowObject(r).value(QStringLiteral("id")).toInteger() > 1)
                row = r;
        }
        QVERIFY(row >= 0);
        // A check with it is admitted, then revoked: refused.
        auto checkWith = [&](const QString &key) {
            CheckRequest r;
            r.userId = QStringLiteral("key-user");
            r.modelId = QStringLiteral("gpt-4o");
            r.apiKey = key;
            return checkStatus(r);
        };
        QCOMPARE(checkWith(plaintext), 200);
        page->view()->selectRow(row);
        refreshed.clear();
        for (const bool yes : {false, true}) {
            page->revokeSelected();
            QMessageBox *box = nullptr;
            QTRY_VERIFY_WITH_TIMEOUT((box = page->findChild<QMessageBox *>(QStringLiteral("confirmRevoke"))) != nullptr, 2000);
            QTest::mouseClick(box->button(yes ? QMessageBox::Yes : QMessageBox::Cancel), Qt::LeftButton);
            if (yes)
                QVERIFY(refreshed.wait(5000));
            else
                QTest::qWait(200);
            QCOMPARE(checkWith(plaintext), yes ? 401 : 200);
        }
        QVERIFY2(page->message().contains(QStringLiteral("keys")), qPrintable(page->message()));
    }

    // Top blocked lists the blocked caller; Reset usage (issue 13) brings it back at once.
    void resetUsageBringsABlockedCallerBack()
    {
        CheckPage *check = m_window->checkPage();
        check->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"), QString());
        QSignalSpy answered(check, &CheckPage::answered);
        check->send(11);
        QVERIFY(answered.wait(10000));
        TopBlockedPage *page = m_window->topBlockedPage();
        QSignalSpy refreshed(page, &TopBlockedPage::refreshed);
        page->refresh();
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(page->rows(), 1);
        auto *tree = page->findChild<QTreeWidget *>();
        tree->setCurrentItem(tree->topLevelItem(0));
        page->resetSelected();
        QMessageBox *box = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((box = page->findChild<QMessageBox *>(QStringLiteral("confirmReset"))) != nullptr, 2000);
        QTest::mouseClick(box->button(QMessageBox::Yes), Qt::LeftButton);
        QVERIFY(refreshed.wait(5000));
        QTRY_VERIFY_WITH_TIMEOUT(page->message().startsWith(QStringLiteral("Reset the usage of")), 2000);
        answered.clear();
        check->send(1);
        QVERIFY(answered.wait(5000));
        CheckRequest r;
        r.userId = QStringLiteral("ent-user-2");
        r.modelId = QStringLiteral("gpt-4o");
        r.tenantId = QStringLiteral("enterprise_co");
        QCOMPARE(checkStatus(r), 200); // the 13th request of the hour, admitted after the reset
    }

    // Issue 13: the entity browser shows the registry; without a token it says how to get one.
    void entitiesPageBrowsesTheRegistry()
    {
        EntitiesPage *page = m_window->entitiesPage();
        QSignalSpy refreshed(page, &EntitiesPage::refreshed);
        page->showKind(QStringLiteral("tenants"));
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(page->model()->rowCount(), 2);
        QCOMPARE(page->model()->index(0, 1).data().toString(), QStringLiteral("Enterprise Co"));
        page->showKind(QStringLiteral("models"));
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(page->model()->rowCount(), 3);
        QCOMPARE(page->model()->headerData(1, Qt::Horizontal).toString(), QStringLiteral("Tier"));

        ApiClient bare;
        bare.setServer(m_server.baseUrl(), QByteArray());
        EntitiesPage noToken(&bare);
        QSignalSpy refused(&noToken, &EntitiesPage::refreshed);
        noToken.refresh();
        QCOMPARE(refused.size(), 1);
        QCOMPARE(refused.first().first().toBool(), false);
        QVERIFY(noToken.message().contains(QStringLiteral("Connect")));
        ApiKeysPage keysNoToken(&bare);
        QVERIFY(!keysNoToken.findChild<QPushButton *>(QStringLiteral("create"))->isEnabled());
    }

    void usageSeriesIsBounded()
    {
        UsageSeries s(10);
        for (int i = 0; i < 25; ++i)
            s.add(QStringLiteral("k"), i, i, 100);
        QCOMPARE(s.points(QStringLiteral("k")).size(), 10);
        QCOMPARE(s.points(QStringLiteral("k")).first().x(), 15.0);
        QCOMPARE(s.lastCount(QStringLiteral("k")), qint64(24));
        QCOMPARE(s.keys(), QStringList{QStringLiteral("k")});
    }


    // The Usage history page's model, offline with a synthetic answer (and a broken one).
    void analyticsModelOffline()
    {
        AnalyticsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const QJsonObject answer = QJsonDocument::fromJson(R"({"from":"2026-11-23T01:00:00Z","to":"2026-11-23T02:00:00Z","step":60,
            "groupBy":"tenant","source":"memory","totals":{"allowed":9,"blocked":3,"tokens":700},
            "series":[{"key":"small","points":[{"time":"2026-11-23T01:05:00Z","allowed":1,"blocked":0,"tokens":0}]},
                      {"key":"big","points":[{"time":"2026-11-23T01:05:00Z","allowed":4,"blocked":1,"tokens":300},
                                             {"time":"2026-11-23T01:06:00Z","allowed":4,"blocked":2,"tokens":400}]}]})").object();
        QVERIFY(model.setAnswer(answer));
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.data(model.index(0, AnalyticsModel::Key)).toString(), QStringLiteral("big")); // most requests first
        QCOMPARE(model.data(model.index(0, AnalyticsModel::Blocked)).toLongLong(), 3);
        QCOMPARE(model.data(model.index(0, AnalyticsModel::BlockRatio)).toString(), QStringLiteral("27.3 %"));
        QCOMPARE(model.data(model.index(0, AnalyticsModel::Tokens)).toLongLong(), 700);
        QCOMPARE(model.steps().size(), size_t(60)); // every minute of the hour, the empty ones too
        QCOMPARE(model.stepSeconds(), qint64(60));
        QCOMPARE(model.steps()[0].allowed, 0);
        QCOMPARE(model.steps()[5].allowed, 5); // both keys at 01:05
        QCOMPARE(model.steps()[5].allowedBy.at(QStringLiteral("big")), 4);
        QCOMPARE(model.steps()[6].time, QDateTime(QDate(2026, 11, 23), QTime(1, 6), Qt::UTC));
        QCOMPARE(model.keysByVolume(), (QStringList{QStringLiteral("big"), QStringLiteral("small")}));
        QCOMPARE(model.totalAllowed(), 9);
        QVERIFY(!model.setAnswer(QJsonObject{{QStringLiteral("error"), 1}}));
        QCOMPARE(model.rowCount(), 2); // a broken answer changes nothing
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }

    // Against the real server: checks made, then the page shows them by tenant and by model.
    void historyPageShowsTheChecks()
    {
        CheckPage *check = m_window->checkPage();
        check->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"), QString());
        QSignalSpy answered(check, &CheckPage::answered);
        check->send(12); // ent-user-2 on gpt-4o may make 10
        QVERIFY(answered.wait(10000));
        HistoryPage *page = m_window->historyPage();
        QSignalSpy refreshed(page, &HistoryPage::refreshed);
        page->setQuery(0, QStringLiteral("tenant"));
        QElapsedTimer t;
        t.start();
        const AnalyticsModel::Row *row = nullptr;
        while (t.elapsed() < 10000) { // the server writes its history every second here
            page->refresh();
            QVERIFY(refreshed.wait(5000));
            row = page->model()->row(QStringLiteral("enterprise_co"));
            if (row && row->allowed + row->blocked == 12)
                break;
            QTest::qWait(300);
        }
        QVERIFY2(row && row->allowed == 10 && row->blocked == 2, qPrintable(page->message()));
        QVERIFY(page->bars() >= 1);
        page->setQuery(2, QStringLiteral("model"));
        page->refresh();
        QVERIFY(refreshed.wait(5000));
        QVERIFY(page->model()->row(QStringLiteral("gpt-4o")));
        QCOMPARE(page->model()->row(QStringLiteral("gpt-4o"))->blocked, 2);
        // without an admin token the page says how to get one, and asks nothing
        ApiClient anonymous;
        anonymous.setServer(m_server.baseUrl(), QByteArray());
        HistoryPage bare(&anonymous);
        QSignalSpy bareRefreshed(&bare, &HistoryPage::refreshed);
        bare.refresh();
        QCOMPARE(bareRefreshed.count(), 1);
        QVERIFY(bare.message().contains(QStringLiteral("No admin token")));
    }

    // Issue 23, the Check page: another model drops the tier picked for the last one (it was sent
    // and refused 400); Enter in Cost sends; the headline bar names what binds (a tokens policy at
    // 900/1000 before requests at 1/10) and shows 3 / 2, in red, when blocked at 3 of 2.
    void checkPageHeadlineFollowsWhatBinds()
    {
        CheckPage *check = m_window->checkPage();
        QSignalSpy answered(check, &CheckPage::answered);
        check->setRequest(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("gpt-4o"), QStringLiteral("premium"));
        check->findChild<QLineEdit *>(QStringLiteral("model"))->setText(QStringLiteral("tiny-model"));
        check->send(1);
        QVERIFY(answered.wait(5000));
        QCOMPARE(answered.last().first().toInt(), 200); // not 400 "gpt-4o is premium"

        createPolicy([] {
            PolicyDto p;
            p.scope = Scope::Tenant;
            p.tenantId = QStringLiteral("free_co");
            p.unit = Unit::Tokens;
            p.windowSeconds = 60;
            p.limit = 1000;
            return p;
        }());
        auto *cost = check->findChild<QSpinBox *>(QStringLiteral("cost"));
        cost->setFocus();
        cost->selectAll();
        QTest::keyClicks(cost, QStringLiteral("900"));
        answered.clear();
        QTest::keyClick(cost, Qt::Key_Return); // sends, with what was typed
        QVERIFY(answered.wait(5000));
        QCOMPARE(check->verdict(), QStringLiteral("ALLOWED"));
        QVERIFY2(check->headline().startsWith(QStringLiteral("900 / 1000 tokens — tenant free_co")), qPrintable(check->headline()));
        QVERIFY(!check->headlineRed());

        createPolicy([] {
            PolicyDto p;
            p.scope = Scope::Model;
            p.modelId = QStringLiteral("tiny-model");
            p.windowSeconds = 60;
            p.limit = 2;
            return p;
        }());
        check->setCost(1);
        answered.clear();
        check->send(3);
        QVERIFY(answered.wait(10000));
        QCOMPARE(check->verdict(), QStringLiteral("BLOCKED"));
        QVERIFY2(check->headline().startsWith(QStringLiteral("3 / 2 — model tiny-model")), qPrintable(check->headline()));
        QVERIFY(check->headlineRed());
    }

    // Issue 23: a wrong token is not a green "Connected"; the embedded mode says its changes are
    // not kept; a limit of 0 asks first and says what it refuses; the Policies page keeps no stale
    // table (nor live buttons) when the server is gone; errors are red on every page.
    void consoleSaysWhatIsNotSo()
    {
        QTRY_VERIFY_WITH_TIMEOUT(m_window->bannerText().startsWith(QStringLiteral("Embedded mode (registry: built-in)")), 5000);
        ApiClient wrong;
        wrong.setServer(m_server.baseUrl(), QByteArrayLiteral("not-the-token"));
        MainWindow window(&wrong);
        window.setHealthInterval(100);
        QTRY_VERIFY_WITH_TIMEOUT(window.connectionText().contains(QStringLiteral("the admin token is refused")), 5000);
        QVERIFY(window.findChild<QLabel *>(QStringLiteral("connection"))->styleSheet().contains(QStringLiteral("#a15c00")));
        QVERIFY(!m_window->connectionText().contains(QStringLiteral("refused")));

        PoliciesPage *page = m_window->policiesPage();
        PolicyDto zero;
        zero.scope = Scope::Tenant;
        zero.tenantId = QStringLiteral("free_co");
        zero.unit = Unit::Tokens; // the demo has free_co's requests policy already
        zero.windowSeconds = 60;
        zero.limit = 0;
        QVERIFY(PoliciesPage::zeroLimitImpact(zero).contains(QStringLiteral("every request of tenant free_co — all its users, keys and models")));
        page->edit(zero);
        PolicyDialog *dialog = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((dialog = page->findChild<PolicyDialog *>(QStringLiteral("policyDialog"))) != nullptr, 2000);
        QSignalSpy refreshed(page, &PoliciesPage::refreshed);
        for (const bool yes : {false, true}) {
            dialog->accept();
            QMessageBox *box = nullptr;
            QTRY_VERIFY_WITH_TIMEOUT((box = dialog->findChild<QMessageBox *>(QStringLiteral("confirmZeroLimit"))) != nullptr, 2000);
            QVERIFY2(box->text().contains(QStringLiteral("refuses every request of tenant free_co")), qPrintable(box->text()));
            QPointer<QMessageBox> answeredBox(box);
            QTest::mouseClick(box->button(yes ? QMessageBox::Yes : QMessageBox::Cancel), Qt::LeftButton);
            QTRY_VERIFY_WITH_TIMEOUT(!answeredBox, 2000); // closed and deleted: the next question is a new box
            if (!yes) {
                QTRY_COMPARE_WITH_TIMEOUT(dialog->errorText(), QStringLiteral("Not saved: the limit of 0 was not confirmed."), 2000);
                QVERIFY(dialog->isVisible());
            }
        }
        QVERIFY(refreshed.wait(5000));
        QVERIFY2(page->message().startsWith(QStringLiteral("Saved policy 12")), qPrintable(page->message()));

        QVERIFY(m_server.stop());
        QSignalSpy failed(page, &PoliciesPage::failed);
        page->refresh();
        QVERIFY(failed.wait(15000));
        QCOMPARE(page->model()->rowCount(), 0);
        for (const char *name : {"add", "edit", "delete"})
            QVERIFY(!page->findChild<QPushButton *>(QLatin1String(name))->isEnabled());
        QVERIFY(page->findChild<QLabel *>(QStringLiteral("message"))->styleSheet().contains(QStringLiteral("#b3261e")));
        TopBlockedPage *top = m_window->topBlockedPage();
        QSignalSpy topRefreshed(top, &TopBlockedPage::refreshed);
        top->refresh();
        QVERIFY(topRefreshed.wait(15000));
        QVERIFY2(top->message().startsWith(QStringLiteral("Cannot read top blocked")), qPrintable(top->message()));
        QLabel *topMessage = nullptr;
        for (QLabel *l : top->findChildren<QLabel *>())
            if (l->text() == top->message())
                topMessage = l;
        QVERIFY(topMessage && topMessage->styleSheet().contains(QStringLiteral("#b3261e")));
    }

    // Issue 22: the Capacity page shows the demo pool (stale, then saturated by a push), its
    // saturation and factor over time, the shed count per class, and sets a priority that the
    // next check obeys; a bad id is a red error, the server gone empties the table.
    void capacityPageShowsPoolsAndSetsPriority()
    {
        CapacityPage *page = m_window->capacityPage();
        page->setPollInterval(200);
        m_window->tabs()->setCurrentWidget(page);
        QSignalSpy refreshed(page, &CapacityPage::refreshed);
        QSignalSpy priorities(page, &CapacityPage::prioritiesRefreshed);
        QTRY_VERIFY_WITH_TIMEOUT(page->poolCount() == 1, 5000);
        QCOMPARE(page->poolCell(0, CapacityPage::Pool), QStringLiteral("gpu-main"));
        QCOMPARE(page->poolCell(0, CapacityPage::Models), QStringLiteral("gpt-4o, gpt-4o-mini, tiny-model"));
        QVERIFY2(page->poolCell(0, CapacityPage::Signal).contains(QStringLiteral("stale: static limits")),
                 qPrintable(page->poolCell(0, CapacityPage::Signal)));
        QTRY_VERIFY_WITH_TIMEOUT(page->prioritiesTable()->topLevelItemCount() >= 6, 5000); // 2 tenants, 3 tiers, 1 key
        QVERIFY(!page->prioritiesTable()->findItems(QStringLiteral("enterprise_co"), Qt::MatchExactly, 1).isEmpty());
        QCOMPARE(page->prioritiesTable()->findItems(QStringLiteral("enterprise_co"), Qt::MatchExactly, 1).first()->text(2),
                 QStringLiteral("critical"));
        QCOMPARE(page->prioritiesTable()->findItems(QStringLiteral("free"), Qt::MatchExactly, 1).first()->text(2),
                 QStringLiteral("sheddable"));

        QNetworkAccessManager nam;
        // An adaptive policy, so the pool's factor moves (without one it stays 1).
        QCOMPARE(test::httpCall(nam, m_server.baseUrl().resolved(QUrl(QStringLiteral("/admin/policies"))), "POST",
                                R"({"scope":"MODEL","modelId":"gpt-4o","windowSeconds":60,"limit":1000,"adaptive":true})",
                                "application/json", {{"Authorization", "Bearer console-token"}})
                     .status,
                 201);
        // The load is pushed again before each step that needs it saturated: a push is stale
        // after 5 s (--pool-stale-seconds), and a slow machine may take that long between steps.
        auto push = [&] { return test::pushPoolLoad(nam, m_server.baseUrl(), "console-token", QStringLiteral("gpu-main"), R"({"queue":12,"kvCache":0.5})"); };
        QCOMPARE(push(), 202);
        QTRY_VERIFY_WITH_TIMEOUT(page->poolCell(0, CapacityPage::Saturation) == QStringLiteral("2.40 saturated"), 5000);
        QVERIFY2(page->poolCell(0, CapacityPage::Signal).startsWith(QStringLiteral("push, ")), qPrintable(page->poolCell(0, CapacityPage::Signal)));
        QCOMPARE(page->poolCell(0, CapacityPage::Queue), QStringLiteral("12.00 (limit 5.00)"));
        QTRY_VERIFY_WITH_TIMEOUT(page->poolCell(0, CapacityPage::Factor).toDouble() < 1, 5000); // the factor falls
        QVERIFY(page->saturationSeries()->count() >= 2);
        QCOMPARE(page->saturationSeries()->points().last().y(), 2.4);
        QCOMPARE(page->factorSeries()->points().last().y(), page->poolCell(0, CapacityPage::Factor).toDouble());

        // A sheddable check (free_co on the free tier) is shed and counted per class.
        CheckRequest r;
        r.userId = QStringLiteral("free-user-1");
        r.modelId = QStringLiteral("tiny-model");
        r.tenantId = QStringLiteral("free_co");
        // Saturated (as the page reads it: the push is applied by the next tick), then one check.
        auto saturated = [&] { return test::firstPoolSaturated(nam, m_server.baseUrl(), "console-token"); };
        QCOMPARE(push(), 202);
        QTRY_VERIFY_WITH_TIMEOUT(saturated(), 5000);
        QCOMPARE(checkStatus(r), 429);
        QTRY_COMPARE_WITH_TIMEOUT(page->poolCell(0, CapacityPage::Shed), QStringLiteral("0 / 0 / 1"), 5000);

        // Priority set from the page: free_co critical → its next check is admitted while saturated.
        priorities.clear();
        page->pickPriority(QStringLiteral("tenants"), QStringLiteral("free_co"), QStringLiteral("critical"));
        QSignalSpy set(page, &CapacityPage::prioritySet);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("setPriority")), Qt::LeftButton);
        QVERIFY(set.wait(5000));
        QCOMPARE(set.first().first().toBool(), true);
        QVERIFY2(page->message().startsWith(QStringLiteral("Set tenant free_co to critical")), qPrintable(page->message()));
        QVERIFY(priorities.wait(5000));
        QCOMPARE(page->prioritiesTable()->findItems(QStringLiteral("free_co"), Qt::MatchExactly, 1).first()->text(2),
                 QStringLiteral("critical"));
        QCOMPARE(push(), 202);
        QTRY_VERIFY_WITH_TIMEOUT(saturated(), 5000);
        QCOMPARE(checkStatus(r), 200); // the tenant's class wins over its tier's
        // Back to inherit: shed again.
        page->pickPriority(QStringLiteral("tenants"), QStringLiteral("free_co"), QStringLiteral("inherit"));
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("setPriority")), Qt::LeftButton);
        QVERIFY(set.wait(5000));
        QCOMPARE(push(), 202);
        QTRY_VERIFY_WITH_TIMEOUT(saturated(), 5000);
        QCOMPARE(checkStatus(r), 429);

        // A tenant that does not exist: a red error naming it, nothing changed.
        page->pickPriority(QStringLiteral("tenants"), QStringLiteral("nope"), QStringLiteral("critical"));
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("setPriority")), Qt::LeftButton);
        QVERIFY(set.wait(5000));
        QCOMPARE(set.last().first().toBool(), false);
        QVERIFY2(page->message().startsWith(QStringLiteral("Cannot set the priority of tenant nope (404)")), qPrintable(page->message()));
        QVERIFY(page->findChild<QLabel *>(QStringLiteral("capacityMessage"))->styleSheet().contains(QStringLiteral("#b3261e")));

        // The server gone: no pool row stays on screen as if it were live.
        m_server.stop();
        QTRY_VERIFY_WITH_TIMEOUT(page->poolCount() == 0, 15000);
        QVERIFY2(page->message().startsWith(QStringLiteral("Cannot read the pools")), qPrintable(page->message()));
    }

    void serverPageShowsHealth()
    {
        ServerPage *page = m_window->serverPage();
        QSignalSpy refreshed(page, &ServerPage::refreshed);
        page->refresh();
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(refreshed.first().first().toBool(), true);
        QVERIFY(page->status().startsWith(QStringLiteral("ok")));
        // A status panel, not only a JSON tree.
        QCOMPARE(page->value(QStringLiteral("store")), QStringLiteral("memory · ok"));
        QCOMPARE(page->value(QStringLiteral("registry")), QStringLiteral("built-in · ok"));
        QCOMPARE(page->value(QStringLiteral("policies")), QStringLiteral("11"));
        QCOMPARE(page->value(QStringLiteral("failureMode")), QStringLiteral("local"));
        QVERIFY(page->value(QStringLiteral("breaker")).startsWith(QStringLiteral("none")));
        QVERIFY(page->value(QStringLiteral("history")).startsWith(QStringLiteral("memory · 0 rows waiting")));
        // Checks per second from /metrics between two readings.
        CheckPage *check = m_window->checkPage();
        check->setRequest(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"), QString());
        QSignalSpy answered(check, &CheckPage::answered);
        check->send(12);
        QVERIFY(answered.wait(10000));
        QTest::qWait(300);
        page->refresh();
        QVERIFY(refreshed.wait(5000));
        QTRY_VERIFY_WITH_TIMEOUT(page->value(QStringLiteral("checksPerSecond")).toDouble() > 0, 5000);
        QVERIFY(page->value(QStringLiteral("blockedPerSecond")).toDouble() > 0);
        m_server.stop();
        page->refresh();
        QVERIFY(refreshed.wait(15000));
        QCOMPARE(refreshed.last().first().toBool(), false);
        QVERIFY(page->status().startsWith(QStringLiteral("unreachable")));
    }
};

QTEST_MAIN(TestConsolePages)
#include "tst_console_pages.moc"
