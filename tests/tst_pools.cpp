// SPDX-License-Identifier: Apache-2.0
// GPU pools, load signals and priority classes (design §14, issue 22), with real processes on
// loopback: sluice-server, a real Prometheus, a real Redis and Postgres. No model server can be
// installed here, so a small stand-in inside this test speaks vLLM's /metrics (its metric names and
// labels) and, when asked to, answers garbage the way a broken exporter or proxy would.
#include "httpcall.h"
#include "services.h"

#include "engine/poolrules.h"
#include "memory/memorywindowstore.h"
#include "pools/loadsignals.h"
#include "pools/poolcontroller.h"
#include "redis/redisclusterwindowstore.h"
#include "redis/rediswindowstore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <cmath>

using namespace sluice;

namespace {

const QByteArray kToken = "pools-token";
using Headers = QList<QPair<QByteArray, QByteArray>>;
const Headers kAdmin{{"Authorization", "Bearer " + kToken}};

// gold is critical, the free tier sheddable, acme standard. Every tenant: 10 an hour, adaptive.
QByteArray registry(const QString &pool, const QStringList &metricsUrls = {})
{
    QJsonObject poolJson{{QStringLiteral("name"), pool}, {QStringLiteral("models"), QJsonArray{QStringLiteral("m1"), QStringLiteral("cheap")}},
                         {QStringLiteral("queueThreshold"), 5}, {QStringLiteral("kvCacheThreshold"), 0.8}};
    if (!metricsUrls.isEmpty())
        poolJson.insert(QStringLiteral("metricsUrls"), QJsonArray::fromStringList(metricsUrls));
    const QJsonObject o{
        {QStringLiteral("tenants"), QJsonArray{QJsonObject{{QStringLiteral("id"), QStringLiteral("gold")}, {QStringLiteral("priority"), QStringLiteral("critical")}},
                                               QJsonObject{{QStringLiteral("id"), QStringLiteral("acme")}}}},
        {QStringLiteral("users"), QJsonArray{}},
        {QStringLiteral("tiers"), QJsonArray{QJsonObject{{QStringLiteral("id"), QStringLiteral("paid")}},
                                             QJsonObject{{QStringLiteral("id"), QStringLiteral("free")}, {QStringLiteral("priority"), QStringLiteral("sheddable")}}}},
        {QStringLiteral("models"), QJsonArray{QJsonObject{{QStringLiteral("id"), QStringLiteral("m1")}, {QStringLiteral("tierId"), QStringLiteral("paid")}},
                                              QJsonObject{{QStringLiteral("id"), QStringLiteral("cheap")}, {QStringLiteral("tierId"), QStringLiteral("free")}}}},
        {QStringLiteral("apiKeys"), QJsonArray{}},
        {QStringLiteral("policies"), QJsonArray{QJsonObject{{QStringLiteral("id"), 1}, {QStringLiteral("scope"), QStringLiteral("TENANT")},
                                                            {QStringLiteral("windowSeconds"), 3600}, {QStringLiteral("limit"), 10},
                                                            {QStringLiteral("adaptive"), true}}}},
        {QStringLiteral("pools"), QJsonArray{poolJson}}};
    return QJsonDocument(o).toJson();
}

// A model server's /metrics as vLLM writes it (or anything else, to break it).
class ModelServerStandIn : public QTcpServer
{
public:
    ModelServerStandIn()
    {
        connect(this, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = nextPendingConnection()) {
                connect(s, &QTcpSocket::readyRead, s, [this, s] {
                    if (!s->readAll().contains("\r\n\r\n"))
                        return;
                    ++requests;
                    QTimer::singleShot(delayMs, s, [this, s] { answer(s); });
                });
                connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
    }
    void answer(QTcpSocket *s)
    {
                    s->write("HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\nConnection: close\r\nContent-Length: "
                             + QByteArray::number(body.size()) + "\r\n\r\n" + body);
                    s->disconnectFromHost();
    }
    void setLoad(double waiting, double kv, const QByteArray &model = "m1")
    {
        contentType = "text/plain; version=0.0.4";
        body = "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
               "# TYPE vllm:num_requests_waiting gauge\n"
               "vllm:num_requests_waiting{model_name=\"" + model + "\"} " + QByteArray::number(waiting, 'f', 1) + "\n"
               "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
               "# TYPE vllm:num_requests_running gauge\n"
               "vllm:num_requests_running{model_name=\"" + model + "\"} 4.0\n"
               "# TYPE vllm:kv_cache_usage_perc gauge\n"
               "vllm:kv_cache_usage_perc{model_name=\"" + model + "\"} " + QByteArray::number(kv) + "\n";
    }
    QString url(const QString &path = QStringLiteral("/metrics")) const { return QStringLiteral("http://127.0.0.1:%1%2").arg(serverPort()).arg(path); }
    QByteArray body;
    QByteArray contentType = "text/plain";
    int delayMs = 0;   // before answering
    int requests = 0;  // requests answered or waiting
};

// A real Prometheus scraping `target` every second, on a free loopback port.
class Prometheus
{
public:
    ~Prometheus()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.terminate();
            if (!m_process.waitForFinished(10000))
                m_process.kill();
            m_process.waitForFinished(5000);
        }
    }
    bool start(const QString &target, QString *error)
    {
        const QString binary = QStandardPaths::findExecutable(QStringLiteral("prometheus"));
        if (binary.isEmpty()) {
            *error = QStringLiteral("prometheus is not installed (Debian package prometheus)");
            return false;
        }
        m_port = test::freePort();
        QFile config(m_dir.filePath(QStringLiteral("prometheus.yml")));
        if (!config.open(QIODevice::WriteOnly))
            return false;
        config.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                     "scrape_configs:\n  - job_name: vllm\n    static_configs: [{targets: ['" + target.toUtf8() + "']}]\n");
        config.close();
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.start(binary, {QStringLiteral("--config.file=") + config.fileName(), QStringLiteral("--storage.tsdb.path=") + m_dir.filePath(QStringLiteral("data")),
                                 QStringLiteral("--web.listen-address=127.0.0.1:%1").arg(m_port), QStringLiteral("--log.level=warn")});
        if (!m_process.waitForStarted(10000)) {
            *error = m_process.errorString();
            return false;
        }
        QNetworkAccessManager nam;
        for (int i = 0; i < 100; ++i) { // ready within 20 s
            if (test::httpCall(nam, QUrl(url() + QStringLiteral("/-/ready")), "GET", {}, {}, {}, 1000).status == 200)
                return true;
            QTest::qWait(200);
        }
        *error = QStringLiteral("prometheus did not become ready: ") + QString::fromUtf8(m_process.readAll());
        return false;
    }
    QString url() const { return QStringLiteral("http://127.0.0.1:%1").arg(m_port); }

private:
    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
};

QString writeRegistry(QTemporaryDir &dir, const QByteArray &json)
{
    QFile f(dir.filePath(QStringLiteral("registry.json")));
    if (!f.open(QIODevice::WriteOnly) || f.write(json) != json.size())
        return QString();
    return f.fileName();
}

test::HttpAnswer check(QNetworkAccessManager &nam, const test::ServerProcess &s, const QByteArray &tenant, const QByteArray &model,
                       const QByteArray &user = "u1")
{
    const QByteArray tenantField = tenant.isEmpty() ? QByteArray() : R"("tenantId":")" + tenant + R"(",)";
    return test::httpCall(nam, s.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check"))), "POST",
                          "{" + tenantField + R"("userId":")" + user + R"(","modelId":")" + model + R"("})");
}

QJsonObject poolOf(QNetworkAccessManager &nam, const test::ServerProcess &s)
{
    const QJsonArray a = test::httpCall(nam, s.baseUrl().resolved(QUrl(QStringLiteral("/admin/pools"))), "GET", {}, {}, kAdmin).array();
    return a.isEmpty() ? QJsonObject() : a.first().toObject();
}

int pushLoad(QNetworkAccessManager &nam, const test::ServerProcess &s, const QString &name, const QByteArray &load)
{
    return test::httpCall(nam, s.baseUrl().resolved(QUrl(QStringLiteral("/admin/pools/%1/load").arg(name))), "PUT", load, "application/json", kAdmin)
        .status;
}

double factorOf(const QJsonObject &p) { return p.value(QStringLiteral("factor")).toDouble(-1); }

// Steps the pool `name` through `readings` in `remote` (Redis: pool_step.lua) and in a memory store
// (poolrules.h), comparing every answer; steps are 1 ms apart at most, so each call steps. The
// first calls may wait for the connection or a Cluster's slot map: each is tried for 10 s.
void compareWithMemory(WindowStore &remote, const QString &name, const PoolStepParams &params, const std::vector<PoolReading> &readings)
{
    MemoryWindowStore memory;
    for (const PoolReading &reading : readings) {
        std::optional<PoolState> a, b;
        QString error;
        QElapsedTimer waited;
        waited.start();
        while (!a && waited.elapsed() < 10000) {
            bool answered = false;
            remote.poolStep(name, reading, params, [&](std::optional<PoolState> s, const QString &why) {
                a = s;
                error = why;
                answered = true;
            });
            QTRY_VERIFY_WITH_TIMEOUT(answered, 5000);
            if (!a)
                QTest::qWait(100);
        }
        QVERIFY2(a, qPrintable(error));
        memory.poolStep(name, reading, params, [&](std::optional<PoolState> s, const QString &) { b = s; });
        QVERIFY(b);
        QCOMPARE(a->factor, b->factor);
        QCOMPARE(a->saturation, b->saturation);
        QCOMPARE(a->kvCache, b->kvCache);
        QCOMPARE(a->stale, false);
        QCOMPARE(a->source, reading.source);
        QTest::qWait(3);
    }
}

} // namespace

class TestPools : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // The controller's rule (poolrules.h), step by step on a given clock.
    void stepRule()
    {
        PoolStepParams params;
        params.decrease = 0.5;
        params.increase = 0.25;
        params.minFactor = 0.1;
        params.maxFactor = 1;
        params.staleMs = 5000;
        PoolRecord record;
        // No signal at all: stale, static.
        PoolState s = pool::step(record, {}, 1000, params);
        QVERIFY(s.stale);
        QCOMPARE(s.factor, 1.0);
        // Saturated by the queue (12 > 5): halves once per step, never twice within one.
        s = pool::step(record, {12, 0.1, 0, QStringLiteral("push")}, 2000, params);
        QVERIFY(s.saturated());
        QCOMPARE(s.saturation, 12.0 / 5);
        QCOMPARE(s.factor, 0.5);
        s = pool::step(record, {}, 2500, params);
        QCOMPARE(s.factor, 0.5);
        QCOMPARE(s.signalAgeMs, qint64(500));
        s = pool::step(record, {}, 3000, params);
        QCOMPARE(s.factor, 0.25);
        s = pool::step(record, {}, 3950, params); // a tick 50 ms early still steps
        QCOMPARE(s.factor, 0.125);
        s = pool::step(record, {}, 5000, params);
        QCOMPARE(s.factor, 0.1); // the floor: minFactor
        // By the KV cache (0.9 > 0.8) as well; an older reading never replaces a newer one.
        s = pool::step(record, {0, 0.9, 0, QStringLiteral("metrics")}, 6000, params);
        QCOMPARE(s.saturation, 0.9 / 0.8);
        s = pool::step(record, {0, 0.1, 5000, QStringLiteral("prometheus")}, 6000, params);
        QCOMPARE(s.source, QStringLiteral("metrics"));
        // Load gone: climbs additively to maxFactor.
        s = pool::step(record, {1, 0.2, 0, QStringLiteral("push")}, 7000, params);
        QVERIFY(!s.saturated());
        QCOMPARE(s.factor, 0.1 + 0.25);
        for (qint64 t = 8000; t <= 11000; t += 1000)
            s = pool::step(record, {1, 0.2, 0, QStringLiteral("push")}, t, params);
        QCOMPARE(s.factor, 1.0);
        // Saturated again, then silent: stale after staleMs, and back to static at once.
        s = pool::step(record, {10, -1, 0, QStringLiteral("push")}, 12000, params);
        QCOMPARE(s.factor, 0.5);
        s = pool::step(record, {}, 17001, params);
        QVERIFY(s.stale);
        QVERIFY(!s.saturated());
        QCOMPARE(s.factor, 1.0);
    }

    void loadSources()
    {
        QString error;
        auto load = parseModelServerMetrics("# TYPE vllm:num_requests_waiting gauge\n"
                                            "vllm:num_requests_waiting{model_name=\"a\"} 3.0\n"
                                            "vllm:num_requests_waiting{model_name=\"b\"} 2 1700000000000\n"
                                            "vllm:gpu_cache_usage_perc{model_name=\"a\"} 0.5\n"
                                            "vllm:kv_cache_usage_perc{model_name=\"b\",engine=\"0\"} 0.7\n",
                                            &error);
        QVERIFY(load);
        QCOMPARE(load->queue, 5.0);
        QCOMPARE(load->kvCache, 0.7);
        load = parseModelServerMetrics("tgi_queue_size 7\ntgi_batch_current_size 3\n", &error);
        QVERIFY(load);
        QCOMPARE(load->queue, 7.0);
        QCOMPARE(load->kvCache, -1.0);
        QVERIFY(!parseModelServerMetrics("<html>502 Bad Gateway</html>", &error));
        QVERIFY2(error.contains(QLatin1String("no load metric")), qPrintable(error));

        QCOMPARE(*parsePrometheusValue(R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"12"]}]}})", &error), 12.0);
        QCOMPARE(*parsePrometheusValue(R"({"status":"success","data":{"resultType":"vector","result":[]}})", &error), -1.0);
        QCOMPARE(*parsePrometheusValue(R"({"status":"success","data":{"resultType":"scalar","result":[1.5,"0.25"]}})", &error), 0.25);
        QVERIFY(!parsePrometheusValue(R"({"status":"error","errorType":"bad_data","error":"parse error"})", &error));
        QVERIFY2(error.contains(QLatin1String("parse error")), qPrintable(error));
        QVERIFY(!parsePrometheusValue("garbage", &error));
        QVERIFY2(error.contains(QLatin1String("not JSON")), qPrintable(error));
        PoolRow row;
        row.models = QStringList{QStringLiteral("gpt-4o"), QStringLiteral("llama-3.1")};
        QCOMPARE(poolQueueQuery(row), QStringLiteral(R"(avg(vllm:num_requests_waiting{model_name=~"gpt\\-4o|llama\\-3\\.1"}))"));
        row.queueQuery = QStringLiteral("avg(tgi_queue_size)");
        QCOMPARE(poolQueueQuery(row), QStringLiteral("avg(tgi_queue_size)"));
    }

    // pool_step.lua states poolrules.h's rule: the same readings give the same factors in Redis
    // (its own clock) as in memory (steps 1 ms apart at most: each call steps).
    void redisKeepsTheRuleOfMemory()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        RedisWindowStore remote(redis.host(), redis.port(), 0, 2000);
        PoolStepParams params;
        params.stepMs = 1;
        params.decrease = 0.7;
        params.increase = 0.1;
        params.minFactor = 0.2;
        params.maxFactor = 1.5;
        const QString name = QStringLiteral("rule-%1").arg(QDateTime::currentMSecsSinceEpoch());
        std::vector<PoolReading> readings;
        for (double q : {12, 12, 12, 12, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1})
            readings.push_back({q, 0.4, 0, QStringLiteral("push")});
        compareWithMemory(remote, name, params, readings);
        if (QTest::currentTestFailed())
            return;
        QVERIFY(redis.cli({QStringLiteral("DEL"), QStringLiteral("sluice:{pool:%1}").arg(name)}) == "1");
    }

    // On a Redis Cluster the pool's hash lives on its own slot's node: the same rule again.
    void redisClusterKeepsTheRuleOfMemory()
    {
        test::RedisCluster cluster;
        QString error;
        SLUICE_REQUIRE_SERVICE(cluster.start(&error), error);
        RedisClusterWindowStore remote(cluster.nodes(), 2000);
        PoolStepParams params;
        params.stepMs = 1;
        params.decrease = 0.6;
        params.increase = 0.2;
        params.minFactor = 0.1;
        std::vector<PoolReading> readings;
        for (double q : {12, 12, 12, 0, 0, 7})
            readings.push_back({q, -1, 0, QStringLiteral("metrics")});
        compareWithMemory(remote, QStringLiteral("cluster-%1").arg(QDateTime::currentMSecsSinceEpoch()), params, readings);
    }

    // Saturated: sheddable refused before the store (nothing counted), critical at its static
    // limit, standard at the scaled one; every answer names the pool.
    void shedsSheddableKeepsCritical()
    {
        QTemporaryDir dir;
        const QString file = writeRegistry(dir, registry(QStringLiteral("gpu-a")));
        test::ServerProcess server;
        QString error;
        QVERIFY2(server.start({QStringLiteral("--registry-file"), file, QStringLiteral("--admin-token"), QString::fromUtf8(kToken),
                               QStringLiteral("--pool-decrease"), QStringLiteral("0.5")},
                              &error),
                 qPrintable(error));
        QNetworkAccessManager nam;
        // No signal yet: stale, static; answers carry the pool.
        test::HttpAnswer a = check(nam, server, "acme", "cheap");
        QCOMPARE(a.status, 200);
        QJsonObject p = a.object().value(QStringLiteral("pool")).toObject();
        QCOMPARE(p.value(QStringLiteral("name")).toString(), QStringLiteral("gpu-a"));
        QCOMPARE(p.value(QStringLiteral("priority")).toString(), QStringLiteral("sheddable")); // the free tier's
        QCOMPARE(p.value(QStringLiteral("stale")).toBool(), true);
        QCOMPARE(a.object().value(QStringLiteral("limit")).toInt(), 10);

        QCOMPARE(pushLoad(nam, server, QStringLiteral("gpu-a"), R"({"queue":12,"kvCache":0.5})"), 202);
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, server).value(QStringLiteral("saturated")).toBool(), 5000);
        p = poolOf(nam, server);
        QCOMPARE(p.value(QStringLiteral("signal")).toObject().value(QStringLiteral("source")).toString(), QStringLiteral("push"));
        QCOMPARE(p.value(QStringLiteral("saturation")).toDouble(), 2.4);

        // sheddable: 429, Retry-After, the cause, nothing counted
        a = check(nam, server, "acme", "cheap");
        QCOMPARE(a.status, 429);
        QCOMPARE(a.headers.value("retry-after"), QByteArray("1"));
        QCOMPARE(a.object().value(QStringLiteral("cause")).toString(), QStringLiteral("pool gpu-a saturated (queue 12 > 5): sheddable traffic paused"));
        QCOMPARE(a.object().value(QStringLiteral("pool")).toObject().value(QStringLiteral("shed")).toBool(), true);
        QCOMPARE(a.object().value(QStringLiteral("source")).toString(), QStringLiteral("pool"));
        const test::HttpAnswer usage = test::httpCall(nam, server.baseUrl().resolved(QUrl(QStringLiteral("/admin/usage?key=sluice:%7Btenant:acme%7D"))),
                                                      "GET", {}, {}, kAdmin);
        QCOMPARE(usage.status, 200);
        QCOMPARE(usage.array().first().toObject().value(QStringLiteral("count")).toInt(), 1); // the one check before the load

        // critical: its static 10, whatever the factor
        int allowed = 0;
        for (int i = 0; i < 12; ++i) {
            a = check(nam, server, "gold", "m1");
            QCOMPARE(a.object().value(QStringLiteral("pool")).toObject().value(QStringLiteral("priority")).toString(), QStringLiteral("critical"));
            allowed += a.status == 200;
            if (a.status == 200)
                QCOMPARE(a.object().value(QStringLiteral("limit")).toInt(), 10);
        }
        QCOMPARE(allowed, 10);
        // standard: the adaptive limit scaled by the factor the answer reports
        QTRY_VERIFY_WITH_TIMEOUT(factorOf(poolOf(nam, server)) <= 0.5, 5000);
        a = check(nam, server, "acme", "m1");
        const double factor = a.object().value(QStringLiteral("pool")).toObject().value(QStringLiteral("factor")).toDouble();
        QVERIFY2(factor <= 0.5, qPrintable(QString::number(factor)));
        QCOMPARE(a.object().value(QStringLiteral("limit")).toInt(), std::max(1, static_cast<int>(std::floor(10 * std::max(0.1, factor)))));

        // seen in /metrics and GET /admin/pools
        const QByteArray metrics = test::httpCall(nam, server.baseUrl().resolved(QUrl(QStringLiteral("/metrics"))), "GET").body;
        QVERIFY2(metrics.contains("sluice_pool_shed_total{pool=\"gpu-a\",priority=\"sheddable\"} 1\n"), metrics.constData());
        QVERIFY(metrics.contains("sluice_pool_saturation{pool=\"gpu-a\"} 2.4\n"));
        QVERIFY(metrics.contains("sluice_pool_stale{pool=\"gpu-a\"} 0\n"));
        QCOMPARE(poolOf(nam, server).value(QStringLiteral("shed")).toObject().value(QStringLiteral("sheddable")).toInt(), 1);

        // bad pushes: clear errors, nothing taken
        QCOMPARE(pushLoad(nam, server, QStringLiteral("nope"), R"({"queue":1})"), 404);
        QCOMPARE(pushLoad(nam, server, QStringLiteral("gpu-a"), R"({"queue":-1})"), 400);
        QCOMPARE(pushLoad(nam, server, QStringLiteral("gpu-a"), R"({"kvCache":1.5})"), 400);
        QCOMPARE(pushLoad(nam, server, QStringLiteral("gpu-a"), R"({})"), 400);
        QVERIFY(server.stop());
    }

    // Load gone: the factor climbs back; no signal: stale, static, nothing shed.
    void recoversAndFallsBackWhenStale()
    {
        QTemporaryDir dir;
        const QString file = writeRegistry(dir, registry(QStringLiteral("gpu-b")));
        test::ServerProcess server;
        QString error;
        QVERIFY2(server.start({QStringLiteral("--registry-file"), file, QStringLiteral("--admin-token"), QString::fromUtf8(kToken),
                               QStringLiteral("--pool-decrease"), QStringLiteral("0.5"), QStringLiteral("--pool-increase"),
                               QStringLiteral("0.25"), QStringLiteral("--pool-stale-seconds"), QStringLiteral("2")},
                              &error),
                 qPrintable(error));
        QNetworkAccessManager nam;
        QElapsedTimer timer;
        timer.start();
        while (factorOf(poolOf(nam, server)) > 0.26 && timer.elapsed() < 10000) {
            QCOMPARE(pushLoad(nam, server, QStringLiteral("gpu-b"), R"({"queue":20})"), 202);
            QTest::qWait(300);
        }
        QVERIFY(factorOf(poolOf(nam, server)) <= 0.26);
        QCOMPARE(check(nam, server, "acme", "cheap").status, 429);
        // load gone: +0.25 a second back to 1 (pushed every 300 ms so the signal stays fresh)
        timer.restart();
        while (factorOf(poolOf(nam, server)) < 1 && timer.elapsed() < 10000) {
            QCOMPARE(pushLoad(nam, server, QStringLiteral("gpu-b"), R"({"queue":1,"kvCache":0.2})"), 202);
            QTest::qWait(300);
        }
        QCOMPARE(factorOf(poolOf(nam, server)), 1.0);
        QCOMPARE(check(nam, server, "acme", "cheap").status, 200);
        // saturated again, then silence: stale within 2 s, the sheddable caller served
        QCOMPARE(pushLoad(nam, server, QStringLiteral("gpu-b"), R"({"queue":20})"), 202);
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, server).value(QStringLiteral("saturated")).toBool(), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, server).value(QStringLiteral("stale")).toBool(), 6000);
        const QJsonObject p = poolOf(nam, server);
        QCOMPARE(factorOf(p), 1.0);
        QVERIFY(!p.value(QStringLiteral("saturated")).toBool());
        const test::HttpAnswer a = check(nam, server, "acme", "cheap");
        QCOMPARE(a.status, 200);
        QCOMPARE(a.object().value(QStringLiteral("limit")).toInt(), 10);
        const QJsonObject health = test::httpCall(nam, server.baseUrl().resolved(QUrl(QStringLiteral("/health"))), "GET").object();
        QCOMPARE(health.value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
        QCOMPARE(health.value(QStringLiteral("pools")).toObject().value(QStringLiteral("gpu-b")).toObject().value(QStringLiteral("stale")).toBool(), true);
        QVERIFY(server.stop());
    }

    // The model servers' own /metrics, and a real Prometheus scraping them; broken sources are
    // named and checks go on.
    void readsModelServersAndPrometheus()
    {
        ModelServerStandIn vllm;
        QVERIFY(vllm.listen(QHostAddress::LocalHost));
        vllm.setLoad(8, 0.3);
        Prometheus prometheus;
        QString error;
        SLUICE_REQUIRE_SERVICE(prometheus.start(QStringLiteral("127.0.0.1:%1").arg(vllm.serverPort()), &error), error);

        // 1. scraped directly
        QTemporaryDir dir;
        test::ServerProcess direct;
        QVERIFY2(direct.start({QStringLiteral("--registry-file"), writeRegistry(dir, registry(QStringLiteral("gpu-c"), {vllm.url()})),
                               QStringLiteral("--admin-token"), QString::fromUtf8(kToken)},
                              &error),
                 qPrintable(error));
        QNetworkAccessManager nam;
        QTRY_COMPARE_WITH_TIMEOUT(poolOf(nam, direct).value(QStringLiteral("signal")).toObject().value(QStringLiteral("source")).toString(),
                                  QStringLiteral("metrics"), 5000);
        QJsonObject p = poolOf(nam, direct);
        QCOMPARE(p.value(QStringLiteral("queue")).toDouble(), 8.0);
        QCOMPARE(p.value(QStringLiteral("kvCache")).toDouble(), 0.3);
        QCOMPARE(p.value(QStringLiteral("saturation")).toDouble(), 1.6);
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, direct).value(QStringLiteral("saturated")).toBool(), 3000);
        QCOMPARE(check(nam, direct, "acme", "cheap").status, 429);
        // the exporter breaks: the error is named, the signal goes stale, checks go on
        vllm.body = "<html>502 Bad Gateway</html>";
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, direct).value(QStringLiteral("signal")).toObject().value(QStringLiteral("errors")).toObject()
                                     .value(QStringLiteral("metrics")).toString().contains(QLatin1String("no load metric")),
                                 5000);
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, direct).value(QStringLiteral("stale")).toBool(), 8000);
        QCOMPARE(check(nam, direct, "acme", "cheap").status, 200);
        QVERIFY(direct.stop());

        // 2. through Prometheus (vLLM's default PromQL by model_name)
        vllm.setLoad(1, 0.9);
        test::ServerProcess viaPrometheus;
        QTemporaryDir dir2;
        QVERIFY2(viaPrometheus.start({QStringLiteral("--registry-file"), writeRegistry(dir2, registry(QStringLiteral("gpu-d"))),
                                      QStringLiteral("--admin-token"), QString::fromUtf8(kToken), QStringLiteral("--prometheus-url"), prometheus.url()},
                                     &error),
                 qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, viaPrometheus).value(QStringLiteral("kvCache")).toDouble() == 0.9, 15000);
        p = poolOf(nam, viaPrometheus);
        QCOMPARE(p.value(QStringLiteral("signal")).toObject().value(QStringLiteral("source")).toString(), QStringLiteral("prometheus"));
        QCOMPARE(p.value(QStringLiteral("queue")).toDouble(), 1.0);
        QCOMPARE(p.value(QStringLiteral("saturation")).toDouble(), 0.9 / 0.8);
        QTRY_COMPARE_WITH_TIMEOUT(check(nam, viaPrometheus, "acme", "cheap").status, 429, 3000);
        QCOMPARE(check(nam, viaPrometheus, "gold", "m1").status, 200);
        QVERIFY(viaPrometheus.stop());

        // 3. a "Prometheus" that answers garbage, and one that is not there
        ModelServerStandIn garbage;
        QVERIFY(garbage.listen(QHostAddress::LocalHost));
        garbage.body = "this is not Prometheus";
        for (const QString &url : {QStringLiteral("http://127.0.0.1:%1").arg(garbage.serverPort()), QStringLiteral("http://127.0.0.1:%1").arg(test::freePort())}) {
            test::ServerProcess broken;
            QTemporaryDir dir3;
            QVERIFY2(broken.start({QStringLiteral("--registry-file"), writeRegistry(dir3, registry(QStringLiteral("gpu-e"))),
                                   QStringLiteral("--admin-token"), QString::fromUtf8(kToken), QStringLiteral("--prometheus-url"), url},
                                  &error),
                     qPrintable(error));
            QTRY_VERIFY_WITH_TIMEOUT(!poolOf(nam, broken).value(QStringLiteral("signal")).toObject().value(QStringLiteral("errors")).toObject()
                                          .value(QStringLiteral("prometheus")).toString().isEmpty(),
                                     5000);
            const QString why = poolOf(nam, broken).value(QStringLiteral("signal")).toObject().value(QStringLiteral("errors")).toObject()
                                    .value(QStringLiteral("prometheus")).toString();
            qInfo("%s: %s", qPrintable(url), qPrintable(why));
            QVERIFY(poolOf(nam, broken).value(QStringLiteral("stale")).toBool());
            QCOMPARE(check(nam, broken, "acme", "cheap").status, 200);
            QVERIFY(broken.stop());
        }
    }

    // A pool removed from the registry while its reads are in flight, then added again, is read
    // again (it used to keep a negative count of reads in flight and never be read any more).
    void aPoolAddedAgainIsReadAgain()
    {
        ModelServerStandIn vllm;
        QVERIFY(vllm.listen(QHostAddress::LocalHost));
        vllm.setLoad(3, 0.2);
        vllm.delayMs = 600; // longer than the controller's tick below: reads overlap ticks
        RegistryData with;
        with.models = {{QStringLiteral("m1"), QStringLiteral("paid"), QString()}};
        PoolRow row;
        row.name = QStringLiteral("gpu-r");
        row.models = {QStringLiteral("m1")};
        row.metricsUrls = {vllm.url()};
        with.pools = {row};
        RegistryData without = with;
        without.pools.clear();
        auto snapshots = std::make_shared<SnapshotHolder>(std::make_shared<const PolicySnapshot>(with));
        auto board = std::make_shared<PoolBoard>();
        MemoryWindowStore store;
        PoolController controller(snapshots, board, PoolStepParams(), QString(),
                                  [&store](const QString &pool, const PoolReading &reading, const PoolStepParams &params,
                                           WindowStore::PoolCallback done) { store.poolStep(pool, reading, params, std::move(done)); });
        controller.start(200);
        QTRY_VERIFY_WITH_TIMEOUT(vllm.requests >= 1, 3000);
        QTest::qWait(100); // a read in flight
        snapshots->swap(std::make_shared<const PolicySnapshot>(without));
        QTest::qWait(1500); // the removal is seen and the reads in flight answer
        snapshots->swap(std::make_shared<const PolicySnapshot>(with));
        const int before = vllm.requests;
        QTRY_VERIFY_WITH_TIMEOUT(vllm.requests >= before + 2, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(board->current()->count(QStringLiteral("gpu-r")) ? board->current()->at(QStringLiteral("gpu-r")).state.source : QString(),
                                  QStringLiteral("metrics"), 5000);
    }

    // No source set: Sluice's own view (check → complete latency) is the signal. Requests that
    // complete at once set the pool's usual time; held 2 s they saturate it, and a sheddable
    // request is shed with that cause. Requests not completed show as in flight.
    void ownViewWhenNothingElseIsSet()
    {
        QJsonObject reg = QJsonDocument::fromJson(registry(QStringLiteral("gpu-own"))).object();
        QJsonArray policies = reg.value(QStringLiteral("policies")).toArray();
        policies.append(QJsonObject{{QStringLiteral("id"), 2}, {QStringLiteral("scope"), QStringLiteral("MODEL")}, {QStringLiteral("modelId"), QStringLiteral("m1")},
                                    {QStringLiteral("unit"), QStringLiteral("concurrent")},
                                    {QStringLiteral("limit"), 1000}});
        reg.insert(QStringLiteral("policies"), policies);
        QTemporaryDir dir;
        const QString file = writeRegistry(dir, QJsonDocument(reg).toJson());
        test::ServerProcess server;
        QString error;
        QVERIFY2(server.start({QStringLiteral("--registry-file"), file, QStringLiteral("--admin-token"), QString::fromUtf8(kToken)}, &error),
                 qPrintable(error));
        QNetworkAccessManager nam;
        QCOMPARE(poolOf(nam, server).value(QStringLiteral("signal")).toObject().value(QStringLiteral("configured")).toArray(),
                 (QJsonArray{QStringLiteral("push"), QStringLiteral("own")}));
        int user = 0;
        // `n` requests of m1 at once (each its own user: the base rule's 100 an hour stays away),
        // held `holdMs` each, then completed.
        auto cycle = [&](int n, int holdMs) {
            QStringList ids;
            for (int i = 0; i < n; ++i) {
                const test::HttpAnswer a = check(nam, server, QByteArray(), "m1", "own-" + QByteArray::number(user++));
                QCOMPARE(a.status, 200);
                ids << a.object().value(QStringLiteral("reservationId")).toString();
                QVERIFY(!ids.last().isEmpty());
            }
            QTest::qWait(holdMs);
            for (const QString &id : ids)
                QCOMPARE(test::httpCall(nam, server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/complete"))), "POST",
                                        R"({"reservationId":")" + id.toUtf8() + R"("})")
                             .status,
                         200);
        };
        auto own = [&] { return poolOf(nam, server).value(QStringLiteral("signal")).toObject().value(QStringLiteral("own")).toObject(); };
        cycle(12, 0);
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, server).value(QStringLiteral("signal")).toObject().value(QStringLiteral("source")).toString()
                                     == QStringLiteral("own"),
                                 5000);
        QJsonObject p = poolOf(nam, server);
        QVERIFY2(!p.value(QStringLiteral("stale")).toBool(), QJsonDocument(p).toJson().constData());
        QVERIFY(!p.value(QStringLiteral("saturated")).toBool());
        QVERIFY(own().value(QStringLiteral("used")).toBool());
        QVERIFY(own().value(QStringLiteral("usualLatencyMs")).isDouble());
        QCOMPARE(check(nam, server, "acme", "cheap").status, 200); // sheddable, not saturated

        // Held 2 s each (twice as many as the quick ones in the window; the quick ones took twelve
        // round trips at most, so this holds on a slow machine too): saturated.
        cycle(12, 2000);
        cycle(12, 2000);
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, server).value(QStringLiteral("saturated")).toBool(), 5000);
        const test::HttpAnswer shed = check(nam, server, "acme", "cheap");
        QCOMPARE(shed.status, 429);
        const QString cause = shed.object().value(QStringLiteral("cause")).toString();
        QVERIFY2(cause.startsWith(QStringLiteral("pool gpu-own saturated (its requests take ")) &&
                     cause.endsWith(QStringLiteral("x their usual time from check to complete): sheddable traffic paused")),
                 qPrintable(cause));
        QVERIFY(poolOf(nam, server).value(QStringLiteral("queue")).isNull()); // the own view is no queue

        // Admitted, not completed: in flight. A pool where nothing completes any more (hung) stays
        // saturated by the age of what it holds, instead of going stale (static limits) for want
        // of completions; and the slow medians did not become its usual time.
        for (int i = 0; i < 6; ++i)
            QCOMPARE(check(nam, server, QByteArray(), "m1", "held-" + QByteArray::number(i)).status, 200);
        QTRY_COMPARE_WITH_TIMEOUT(own().value(QStringLiteral("inFlight")).toInt(), 6, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(own().value(QStringLiteral("completions")).toInt(), 0, 10000);
        QTest::qWait(1500); // a tick or more with no completion in the window
        p = poolOf(nam, server);
        QVERIFY2(p.value(QStringLiteral("saturated")).toBool() && !p.value(QStringLiteral("stale")).toBool(), QJsonDocument(p).toJson().constData());
        QVERIFY(own().value(QStringLiteral("usualLatencyMs")).toDouble() < 1000);
        // A push is a source of its own: it wins over the own view.
        QCOMPARE(pushLoad(nam, server, QStringLiteral("gpu-own"), R"({"queue":1})"), 202);
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, server).value(QStringLiteral("signal")).toObject().value(QStringLiteral("source")).toString()
                                     == QStringLiteral("push"),
                                 5000);
        QVERIFY(!own().value(QStringLiteral("used")).toBool());
        // The push gone stale (5 s): the own view is the signal again (an old push is no source).
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, server).value(QStringLiteral("signal")).toObject().value(QStringLiteral("source")).toString()
                                     == QStringLiteral("own"),
                                 12000);
        QVERIFY(server.stop());
    }

    // Two instances on one Redis: a push to one reaches both, and they apply one factor.
    void twoInstancesOnOneRedisApplyOneFactor()
    {
        test::RedisServer redis;
        QString error;
        SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
        const QString name = QStringLiteral("gpu-fleet-%1").arg(QDateTime::currentMSecsSinceEpoch());
        QTemporaryDir dir;
        const QString file = writeRegistry(dir, registry(name));
        const QStringList args{QStringLiteral("--registry-file"), file, QStringLiteral("--redis"), redis.url(), QStringLiteral("--admin-token"),
                               QString::fromUtf8(kToken), QStringLiteral("--pool-decrease"), QStringLiteral("0.5")};
        test::ServerProcess a, b;
        QVERIFY2(a.start(args, &error), qPrintable(error));
        QVERIFY2(b.start(args, &error), qPrintable(error));
        QNetworkAccessManager nam;
        QElapsedTimer timer;
        timer.start();
        // pushed to a only, for as long as it takes the factor to reach its floor (0.1)
        while (!(factorOf(poolOf(nam, a)) == 0.1 && factorOf(poolOf(nam, b)) == 0.1) && timer.elapsed() < 15000) {
            QCOMPARE(pushLoad(nam, a, name, R"({"queue":30})"), 202);
            QTest::qWait(300);
        }
        QCOMPARE(factorOf(poolOf(nam, a)), 0.1);
        QCOMPARE(factorOf(poolOf(nam, b)), 0.1);
        QVERIFY(poolOf(nam, b).value(QStringLiteral("saturated")).toBool());
        QCOMPARE(check(nam, b, "acme", "cheap").status, 429);
        const test::HttpAnswer standard = check(nam, b, "acme", "m1", "u2");
        QCOMPARE(standard.status, 200);
        QCOMPARE(standard.object().value(QStringLiteral("limit")).toInt(), 1); // 10 × 0.1
        QVERIFY(a.stop());
        QVERIFY(b.stop());
        redis.cli({QStringLiteral("DEL"), QStringLiteral("sluice:{pool:%1}").arg(name)});
    }

    // Priority through the admin API, in Postgres, reaching another instance: API key > tenant > tier.
    void priorityReachesEveryInstance()
    {
        test::PostgresServer pg(test::Sharing::Private);
        QString error;
        SLUICE_REQUIRE_SERVICE(pg.start(&error) && pg.migrate(&error), error);
        const QStringList args{QStringLiteral("--postgres"), pg.conninfo(), QStringLiteral("--admin-token"), QString::fromUtf8(kToken)};
        test::ServerProcess a, b;
        QVERIFY2(a.start(args, &error), qPrintable(error));
        QVERIFY2(b.start(args, &error), qPrintable(error));
        QNetworkAccessManager nam;
        auto saturate = [&] {
            for (const test::ServerProcess *s : {&a, &b})
                pushLoad(nam, *s, QStringLiteral("gpu-main"), R"({"queue":50})");
        };
        saturate();
        QTRY_VERIFY_WITH_TIMEOUT(poolOf(nam, b).value(QStringLiteral("saturated")).toBool(), 5000);
        // the demo: free_co on the free tier's tiny-model is sheddable
        QCOMPARE(check(nam, b, "free_co", "tiny-model", "free-user-1").status, 429);
        auto put = [&](const QString &path, const QByteArray &body) {
            return test::httpCall(nam, a.baseUrl().resolved(QUrl(path)), "PUT", body, "application/json", kAdmin).status;
        };
        QCOMPARE(put(QStringLiteral("/admin/tenants/free_co"), R"({"priority":"critical"})"), 200);
        QTRY_COMPARE_WITH_TIMEOUT(check(nam, b, "free_co", "tiny-model", "free-user-1").status, 200, 5000);
        const QJsonArray tenants = test::httpCall(nam, b.baseUrl().resolved(QUrl(QStringLiteral("/admin/tenants"))), "GET", {}, {}, kAdmin).array();
        bool seen = false;
        for (const QJsonValue &t : tenants)
            seen = seen || (t[QStringLiteral("id")] == QStringLiteral("free_co") && t[QStringLiteral("priority")] == QStringLiteral("critical"));
        QVERIFY(seen);
        // an API key of free_co made sheddable: the key wins over its tenant
        const QJsonObject key = test::httpCall(nam, a.baseUrl().resolved(QUrl(QStringLiteral("/admin/api-keys"))), "POST",
                                               R"({"tenantId":"free_co"})", "application/json", kAdmin).object();
        QCOMPARE(put(QStringLiteral("/admin/api-keys/%1").arg(key.value(QStringLiteral("id")).toInteger()), R"({"priority":"sheddable"})"), 200);
        const QByteArray withKey = "{\"userId\":\"free-user-1\",\"modelId\":\"tiny-model\",\"apiKey\":\"" + key.value(QStringLiteral("apiKey")).toString().toUtf8() + "\"}";
        saturate();
        QTRY_COMPARE_WITH_TIMEOUT(test::httpCall(nam, b.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check"))), "POST", withKey).status, 429, 5000);
        QCOMPARE(check(nam, b, "free_co", "tiny-model", "free-user-1").status, 200);
        // bad input
        QCOMPARE(put(QStringLiteral("/admin/tiers/free"), R"({"priority":"gold"})"), 400);
        QCOMPARE(put(QStringLiteral("/admin/tiers/nope"), R"({"priority":"critical"})"), 404);
        QCOMPARE(put(QStringLiteral("/admin/tiers/free"), R"({})"), 400);
        QVERIFY(pg.psql(QStringLiteral("UPDATE tenant SET priority = 'vip' WHERE id = 'free_co'")).isNull()); // the schema refuses it too
        QVERIFY(a.stop());
        QVERIFY(b.stop());
    }

    void badConfigurationIsAClearError_data()
    {
        QTest::addColumn<QByteArray>("registryJson");
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<QString>("says");
        const QByteArray good = registry(QStringLiteral("gpu-x"));
        QByteArray twoPools = good;
        twoPools.replace("\"pools\": [", R"("pools": [{"name": "other", "models": ["m1"]}, )");
        QTest::addRow("a model in two pools") << twoPools << QStringList() << QStringLiteral("model m1 is in two pools");
        QByteArray unknown = good;
        unknown.replace("\"cheap\"\n", "\"nope\"\n");
        QTest::addRow("a threshold out of range") << QByteArray(good).replace("\"kvCacheThreshold\": 0.8", "\"kvCacheThreshold\": 2")
                                                  << QStringList() << QStringLiteral("kvCacheThreshold must be a number above 0 and at most 1");
        QTest::addRow("a metrics URL that is not one") << QByteArray(good).replace("\"queueThreshold\": 5", "\"queueThreshold\": 5, \"metricsUrls\": [\"ftp://x\"]")
                                                       << QStringList() << QStringLiteral("metricsUrls: 'ftp://x' is not an http(s) URL");
        QTest::addRow("a bad priority") << QByteArray(good).replace("\"critical\"", "\"vip\"") << QStringList()
                                        << QStringLiteral("tenant gold: priority must be critical, standard, sheddable or null");
        QTest::addRow("a bad Prometheus URL") << good << QStringList{QStringLiteral("--prometheus-url"), QStringLiteral("localhost:9090")}
                                              << QStringLiteral("must be an http(s) URL of Prometheus");
        QTest::addRow("a bad decrease") << good << QStringList{QStringLiteral("--pool-decrease"), QStringLiteral("1.5")}
                                        << QStringLiteral("--pool-decrease must be a number above 0 and below 1");
    }

    void badConfigurationIsAClearError()
    {
        QFETCH(QByteArray, registryJson);
        QFETCH(QStringList, extra);
        QFETCH(QString, says);
        QTemporaryDir dir;
        test::ServerProcess server;
        QString error;
        QVERIFY(!server.start(QStringList{QStringLiteral("--registry-file"), writeRegistry(dir, registryJson)} + extra, &error));
        QVERIFY2(error.contains(says) || server.output().contains(says.toUtf8()), qPrintable(error + QString::fromUtf8(server.output())));
    }
};

QTEST_MAIN(TestPools)
#include "tst_pools.moc"
