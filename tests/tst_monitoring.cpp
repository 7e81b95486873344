// SPDX-License-Identifier: Apache-2.0
// Monitoring as shipped: the Prometheus alert rules pass `promtool check rules` and their unit tests
// (`promtool test rules`), the Alertmanager example passes `amtool check-config` and routes critical
// alerts to PagerDuty and chat, warnings to chat; a running server's /metrics passes
// `promtool check metrics`, carries exact counter values after a scripted sequence of checks, and
// exposes every metric the alert rules use; the Grafana dashboard's queries parse (promtool) and use
// only metrics a running server exposes.
#include "httpcall.h"
#include "services.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
#include <QtTest>

using namespace sluice;

namespace {
const QString kDir = QStringLiteral(SLUICE_SOURCE_DIR "/packaging/prometheus");

// Runs a tool; its exit code (-1 when it cannot start) and its output.
int run(const QString &program, const QStringList &args, QByteArray *output, const QByteArray &input = QByteArray())
{
    QProcess p;
    p.setWorkingDirectory(kDir);
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(program, args);
    if (!p.waitForStarted(5000))
        return -1;
    if (!input.isNull()) {
        p.write(input);
        p.closeWriteChannel();
    }
    if (!p.waitForFinished(60000)) {
        p.kill();
        p.waitForFinished();
        return -1;
    }
    *output = p.readAll();
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

bool haveTools(QString *missing)
{
    for (const QString &tool : {QStringLiteral("promtool"), QStringLiteral("amtool")}) {
        if (QStandardPaths::findExecutable(tool).isEmpty()) {
            *missing = tool + QStringLiteral(" is not installed (Debian prometheus / prometheus-alertmanager)");
            return false;
        }
    }
    return true;
}
} // namespace

class TestMonitoring : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;

private Q_SLOTS:
    void alertRulesAndTheirUnitTests()
    {
        QString missing;
        SLUICE_REQUIRE_SERVICE(haveTools(&missing), missing);
        QByteArray out;
        QCOMPARE(run(QStringLiteral("promtool"), {QStringLiteral("check"), QStringLiteral("rules"), QStringLiteral("sluice-alerts.yml")}, &out), 0);
        QVERIFY2(out.contains("SUCCESS: 9 rules found"), out.constData());
        QCOMPARE(run(QStringLiteral("promtool"), {QStringLiteral("test"), QStringLiteral("rules"), QStringLiteral("sluice-alerts.test.yml")}, &out), 0);
        QVERIFY2(out.contains("SUCCESS"), out.constData());
        // Every rule has a unit test.
        QFile rules(kDir + QStringLiteral("/sluice-alerts.yml")), tests(kDir + QStringLiteral("/sluice-alerts.test.yml"));
        QVERIFY(rules.open(QIODevice::ReadOnly) && tests.open(QIODevice::ReadOnly));
        const QByteArray testText = tests.readAll();
        const QRegularExpression alert(QStringLiteral("- alert: (\\w+)"));
        int n = 0;
        for (auto it = alert.globalMatch(QString::fromUtf8(rules.readAll())); it.hasNext(); ++n) {
            const QString name = it.next().captured(1);
            QVERIFY2(testText.contains("alertname: " + name.toUtf8()), qPrintable(name + QStringLiteral(" has no unit test")));
        }
        QCOMPARE(n, 9);
    }

    void alertmanagerExample()
    {
        QString missing;
        SLUICE_REQUIRE_SERVICE(haveTools(&missing), missing);
        QByteArray out;
        QCOMPARE(run(QStringLiteral("amtool"), {QStringLiteral("check-config"), QStringLiteral("alertmanager.yml")}, &out), 0);
        const QStringList route = {QStringLiteral("config"), QStringLiteral("routes"), QStringLiteral("test"),
                                   QStringLiteral("--config.file=alertmanager.yml")};
        QCOMPARE(run(QStringLiteral("amtool"), route + QStringList{QStringLiteral("severity=critical"), QStringLiteral("alertname=SluiceStoreUnavailable")}, &out), 0);
        QVERIFY2(out.contains("pagerduty-sluice,slack-sluice"), out.constData());
        QCOMPARE(run(QStringLiteral("amtool"), route + QStringList{QStringLiteral("severity=warning"), QStringLiteral("alertname=SluiceRegistryStale")}, &out), 0);
        QVERIFY2(out.trimmed().endsWith("slack-sluice") && !out.contains("pagerduty"), out.constData());
    }

    void metricsOfARunningServer()
    {
        QString missing;
        SLUICE_REQUIRE_SERVICE(haveTools(&missing), missing);
        test::ServerProcess server;
        QString error;
        // (--upstream: the inference door's metrics are exposed from the start, with no traffic yet)
        QVERIFY2(server.start({QStringLiteral("--threads"), QStringLiteral("2"), QStringLiteral("--upstream"), QStringLiteral("http://127.0.0.1:9")}, &error),
                 qPrintable(error));
        const QUrl check = server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check")));
        // Scenario B: 11 checks of ent-user-2 on gpt-4o (policy 9: USER_MODEL 10 per hour), one bad request.
        for (int i = 0; i < 11; ++i)
            test::httpCall(m_nam, check, "POST", R"({"tenantId":"enterprise_co","userId":"ent-user-2","modelId":"gpt-4o"})");
        QCOMPARE(test::httpCall(m_nam, check, "POST", R"({"modelId":"gpt-4o"})").status, 400);
        // One request through the inference door, to an upstream that is not there: 502.
        const QByteArray chat = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";
        QCOMPARE(test::httpCall(m_nam, server.baseUrl().resolved(QUrl(QStringLiteral("/v1/chat/completions"))), "POST", chat, "application/json",
                                {{"Authorization", "Bearer sluice-demo-free-co-key"}}).status,
                 502);
        const test::HttpAnswer m = test::httpCall(m_nam, server.baseUrl().resolved(QUrl(QStringLiteral("/metrics"))), "GET");
        QCOMPARE(m.status, 200);
        QByteArray out;
        QCOMPARE(run(QStringLiteral("promtool"), {QStringLiteral("check"), QStringLiteral("metrics")}, &out, m.body), 0);
        QVERIFY2(out.trimmed().isEmpty(), out.constData()); // no lint remark either
        for (const char *line : {
                 "sluice_rate_limit_total_hits_total{scope=\"USER_MODEL\",unit=\"requests\",policy=\"9\"} 11\n",
                 "sluice_rate_limit_over_limit_total{scope=\"USER_MODEL\",unit=\"requests\",policy=\"9\"} 1\n",
                 "sluice_rate_limit_within_limit_total{scope=\"USER_MODEL\",unit=\"requests\",policy=\"9\"} 10\n",
                 "sluice_rate_limit_near_limit_total{scope=\"USER_MODEL\",unit=\"requests\",policy=\"9\"} 3\n", // counts 8, 9, 10 of 10
                 "sluice_rate_limit_total_hits_total{scope=\"TENANT\",unit=\"requests\",policy=\"2\"} 11\n",
                 "sluice_rate_limit_over_limit_total{scope=\"TENANT\",unit=\"requests\",policy=\"2\"} 0\n",
                 "sluice_decisions_total{scope=\"USER_MODEL\",result=\"allowed\",source=\"memory\"} 11\n", // (+ the door's)
                 "sluice_door_requests_total{route=\"chat.completions\",code=\"502\"} 1\n",
                 "sluice_door_upstream_failures_total{kind=\"connect\"} 1\n",
                 "sluice_check_latency_seconds_count{door=\"inference\"} 1\n",
                 "sluice_decisions_total{scope=\"USER_MODEL\",result=\"blocked\",source=\"memory\"} 1\n",
                 "sluice_rejected_requests_total{status=\"400\"} 1\n",
                 "sluice_check_latency_seconds_count{door=\"http\"} 11\n",
                 "sluice_http_threads 2\n", "sluice_registry_version 0\n", "sluice_usage_pending_rows 0\n",
                 "sluice_store_up 1\n", "process_resident_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds ",
                 "process_start_time_seconds ", "process_max_fds "})
            QVERIFY2(m.body.contains(line), line);
        // Every metric an alert rule uses is exposed (Prometheus's own `up` aside).
        QFile rules(kDir + QStringLiteral("/sluice-alerts.yml"));
        QVERIFY(rules.open(QIODevice::ReadOnly));
        QSet<QString> used;
        const QRegularExpression name(QStringLiteral("\\b(sluice_[a-z_]+)"));
        for (auto it = name.globalMatch(QString::fromUtf8(rules.readAll())); it.hasNext();)
            used.insert(it.next().captured(1));
        QVERIFY(used.size() >= 8);
        for (const QString &metric : used)
            QVERIFY2(m.body.contains("\n" + metric.toUtf8() + "{") || m.body.contains("\n" + metric.toUtf8() + " "),
                     qPrintable(metric + QStringLiteral(" is used by an alert but not exposed")));
    }

    void grafanaDashboardQueries()
    {
        QString missing;
        SLUICE_REQUIRE_SERVICE(haveTools(&missing), missing);
        QFile file(QStringLiteral(SLUICE_SOURCE_DIR "/packaging/grafana/sluice.json"));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QJsonObject dashboard = QJsonDocument::fromJson(file.readAll()).object();
        QStringList exprs;
        for (const QJsonValue &panel : dashboard.value(QStringLiteral("panels")).toArray())
            for (const QJsonValue &target : panel.toObject().value(QStringLiteral("targets")).toArray())
                exprs << target.toObject().value(QStringLiteral("expr")).toString().replace(QStringLiteral("$instance"), QStringLiteral(".*"));
        QVERIFY(exprs.size() >= 10);
        // Every query parses: promtool checks them as recording rules.
        QTemporaryDir dir;
        QFile rules(dir.filePath(QStringLiteral("dashboard-rules.yml")));
        QVERIFY(rules.open(QIODevice::WriteOnly));
        QByteArray yaml = "groups:\n  - name: dashboard\n    rules:\n";
        for (int i = 0; i < exprs.size(); ++i)
            yaml += "      - record: sluice_dashboard_query_" + QByteArray::number(i) + "\n        expr: '"
                + exprs[i].toUtf8().replace('\'', "''") + "'\n";
        rules.write(yaml);
        rules.close();
        QByteArray out;
        QCOMPARE(run(QStringLiteral("promtool"), {QStringLiteral("check"), QStringLiteral("rules"), rules.fileName()}, &out), 0);
        // Every metric the queries use is exposed by a running server.
        test::ServerProcess server;
        QString error;
        QVERIFY2(server.start({QStringLiteral("--upstream"), QStringLiteral("http://127.0.0.1:9")}, &error), qPrintable(error));
        test::httpCall(m_nam, server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check"))), "POST",
                       R"({"tenantId":"enterprise_co","userId":"ent-user-1","modelId":"gpt-4o"})");
        test::httpCall(m_nam, server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check"))), "POST", "{}");
        test::httpCall(m_nam, server.baseUrl().resolved(QUrl(QStringLiteral("/v1/chat/completions"))), "POST",
                       R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})", "application/json",
                       {{"Authorization", "Bearer sluice-demo-free-co-key"}});
        const QByteArray metrics = test::httpCall(m_nam, server.baseUrl().resolved(QUrl(QStringLiteral("/metrics"))), "GET").body;
        const QRegularExpression name(QStringLiteral("\\b(sluice_[a-z_]+)"));
        QSet<QString> used;
        for (const QString &e : exprs)
            for (auto it = name.globalMatch(e); it.hasNext();)
                used.insert(it.next().captured(1));
        QVERIFY(used.size() >= 12);
        for (const QString &metric : used)
            QVERIFY2(metrics.contains("\n" + metric.toUtf8() + "{") || metrics.contains("\n" + metric.toUtf8() + " "),
                     qPrintable(metric + QStringLiteral(" is used by the dashboard but not exposed")));
    }
};

QTEST_GUILESS_MAIN(TestMonitoring)
#include "tst_monitoring.moc"
