// SPDX-License-Identifier: Apache-2.0
// Redis Sentinel (design §4, issue 11): a primary, a replica and three sentinels (redis-server in
// sentinel mode, as Debian's redis-sentinel runs it) on loopback; a real sluice-server follows
// the primary the sentinels name, through a failover caused by killing the primary under load.
// The data nodes want a password (the sentinels are told it with auth-pass; Sluice gets it from
// SLUICE_REDIS_PASSWORD), and a wrong one is a startup error.
#include "services.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QtTest>

using namespace sluice;

namespace {

const QString kMaster = QStringLiteral("sluicemaster");
const QString kPassword = QStringLiteral("sentinel-test-pw"); // the primary and the replica want it

// One redis-server (or sentinel) in a directory of its own, stopped at the end.
struct Node
{
    QString dir;
    quint16 port = 0;
    bool running = false;
    ~Node()
    {
        if (running)
            test::runScript(QStringLiteral("redis.sh"), {QStringLiteral("stop"), dir});
    }
    QByteArray cli(const QStringList &args) const
    {
        QProcess p;
        p.start(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-p"), QString::number(port), QStringLiteral("--no-auth-warning"),
                                                         QStringLiteral("-a"), kPassword} + args);
        if (!p.waitForFinished(5000))
            return {};
        return p.readAllStandardOutput().trimmed();
    }
};

} // namespace

class TestSentinel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void serverFollowsAFailover()
    {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        QString error;
        Node primary, replica, sentinels[3];
        auto start = [&](Node &n, const QString &name, const QStringList &extra) {
            n.dir = tmp.filePath(name);
            for (int attempt = 0; attempt < 5 && !n.running; ++attempt) {
                n.port = test::freePort();
                n.running = !test::runScript(QStringLiteral("redis.sh"), QStringList{extra.isEmpty() || extra[0] != QStringLiteral("sentinel")
                                                                                         ? QStringLiteral("start") : QStringLiteral("sentinel"),
                                                                                     n.dir, QString::number(n.port)}
                                                                             + (extra.isEmpty() || extra[0] != QStringLiteral("sentinel") ? extra : extra.mid(1)),
                                                   &error)
                                 .isNull();
            }
            return n.running;
        };
        const QStringList auth{QStringLiteral("--requirepass"), kPassword, QStringLiteral("--masterauth"), kPassword};
        SLUICE_REQUIRE_SERVICE(start(primary, QStringLiteral("primary"), auth), error);
        SLUICE_REQUIRE_SERVICE(start(replica, QStringLiteral("replica"), auth + QStringList{QStringLiteral("--replicaof"), QStringLiteral("127.0.0.1"),
                                                                                           QString::number(primary.port)}),
                               error);
        QStringList seeds;
        for (int i = 0; i < 3; ++i) {
            SLUICE_REQUIRE_SERVICE(start(sentinels[i], QStringLiteral("sentinel%1").arg(i),
                                         {QStringLiteral("sentinel"), kMaster, QString::number(primary.port), kPassword}),
                                   error);
            seeds << QStringLiteral("127.0.0.1:%1").arg(sentinels[i].port);
        }
        // The replica is in sync and every sentinel knows it and the two other sentinels.
        QTRY_VERIFY_WITH_TIMEOUT(replica.cli({QStringLiteral("INFO"), QStringLiteral("replication")}).contains("master_link_status:up"), 15000);
        for (const Node &s : sentinels) {
            QTRY_VERIFY_WITH_TIMEOUT(s.cli({QStringLiteral("SENTINEL"), QStringLiteral("replicas"), kMaster}).contains(QByteArray::number(replica.port)),
                                     20000);
            auto otherSentinels = [&s] {
                const QList<QByteArray> lines = s.cli({QStringLiteral("SENTINEL"), QStringLiteral("master"), kMaster}).split('\n');
                const qsizetype at = lines.indexOf(QByteArrayLiteral("num-other-sentinels"));
                return at >= 0 && at + 1 < lines.size() ? lines[at + 1].toInt() : 0;
            };
            QTRY_VERIFY_WITH_TIMEOUT(otherSentinels() >= 2, 20000);
        }

        test::ServerProcess server;
        QVERIFY2(server.start({QStringLiteral("--redis-sentinel"), seeds.join(QLatin1Char(',')), QStringLiteral("--redis-master"), kMaster,
                               QStringLiteral("--redis-timeout-ms"), QStringLiteral("200"), QStringLiteral("--threads"), QStringLiteral("2")},
                              &error, {QStringLiteral("SLUICE_REDIS_PASSWORD=") + kPassword}),
                 qPrintable(error));
        {
            // the same with a wrong password: a clear startup error naming the primary
            test::ServerProcess wrong;
            QString why;
            QVERIFY(!wrong.start({QStringLiteral("--redis-sentinel"), seeds.join(QLatin1Char(',')), QStringLiteral("--redis-master"), kMaster},
                                 &why, {QStringLiteral("SLUICE_REDIS_PASSWORD=not-it")}));
            QVERIFY2(wrong.output().contains(QStringLiteral("127.0.0.1:%1 refused the credentials").arg(primary.port).toUtf8()), wrong.output().constData());
            QVERIFY(!wrong.output().contains("not-it"));
        }
        QNetworkAccessManager nam;
        const QUrl checkUrl = server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check")));

        // Checks under load: up to 8 in flight, each bounded by its own timeout; the loop by count and time.
        struct Answer
        {
            qint64 atMs;
            int status;
            QString source;
        };
        std::vector<Answer> answers;
        int inFlight = 0, sent = 0, hung = 0;
        QElapsedTimer clock;
        clock.start();
        auto send = [&] {
            QNetworkRequest req(checkUrl);
            req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
            req.setTransferTimeout(5000);
            QNetworkReply *reply = nam.post(req, QStringLiteral(R"({"userId":"sentinel-%1","modelId":"gpt-4o"})").arg(sent % 50).toUtf8());
            ++sent;
            ++inFlight;
            connect(reply, &QNetworkReply::finished, this, [&, reply] {
                --inFlight;
                const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
                if (status == 0)
                    ++hung;
                answers.push_back({clock.elapsed(), status,
                                   QJsonDocument::fromJson(reply->readAll()).object().value(QStringLiteral("source")).toString()});
                reply->deleteLater();
            });
        };
        auto runUntil = [&](const std::function<bool()> &done, qint64 limitMs) {
            const qint64 until = clock.elapsed() + limitMs;
            while (!done() && clock.elapsed() < until && sent < 50000) {
                while (inFlight < 8)
                    send();
                QTest::qWait(5);
            }
            return done();
        };
        auto lastSource = [&] { return answers.empty() ? QString() : answers.back().source; };
        QVERIFY2(runUntil([&] { return lastSource() == QStringLiteral("redis"); }, 15000), qPrintable(lastSource()));
        runUntil([] { return false; }, 500); // load on the primary

        // The primary dies under load.
        const qint64 killedAt = clock.elapsed();
        const size_t before = answers.size();
        QVERIFY(!test::runScript(QStringLiteral("redis.sh"), {QStringLiteral("kill"), primary.dir}).isNull());
        primary.running = false;
        // The sentinels promote the replica; Sluice answers from the failure mode meanwhile and
        // from Redis again after the switch. Failover here: down-after 1 s + election (~1-3 s).
        auto promoted = [&] {
            return sentinels[0].cli({QStringLiteral("SENTINEL"), QStringLiteral("get-master-addr-by-name"), kMaster}).endsWith(QByteArray::number(replica.port));
        };
        QVERIFY2(runUntil(promoted, 30000), "the sentinels did not promote the replica");
        const qint64 promotedAt = clock.elapsed();
        bool backOnRedis = false;
        qint64 backAt = 0;
        runUntil([&] {
            for (size_t i = before; i < answers.size(); ++i) {
                if (answers[i].atMs > promotedAt && answers[i].source == QStringLiteral("redis")) {
                    backOnRedis = true;
                    backAt = answers[i].atMs;
                }
            }
            return backOnRedis;
        }, 8000);
        runUntil([] { return false; }, 300);
        while (inFlight > 0 && clock.elapsed() < promotedAt + 20000)
            QTest::qWait(10);
        int fromFailureMode = 0;
        for (size_t i = before; i < answers.size(); ++i)
            fromFailureMode += answers[i].source == QStringLiteral("local") ? 1 : 0;
        qInfo("killed at %lld ms, promoted by %lld ms, answers from Redis again at %lld ms; %zu checks after the kill, %d from the "
              "local fallback, %d unanswered",
              killedAt, promotedAt, backAt, answers.size() - before, fromFailureMode, hung);
        QVERIFY2(backOnRedis, "no check answered from Redis after the failover");
        QCOMPARE(hung, 0);
        QCOMPARE(inFlight, 0);
        for (const Answer &a : answers)
            QVERIFY2(a.status == 200 || a.status == 429, qPrintable(QString::number(a.status)));
        // /health names the new primary.
        QNetworkRequest health(server.baseUrl().resolved(QUrl(QStringLiteral("/health"))));
        QNetworkReply *h = nam.get(health);
        QTRY_VERIFY_WITH_TIMEOUT(h->isFinished(), 5000);
        const QByteArray body = h->readAll();
        h->deleteLater();
        QVERIFY2(body.contains(QStringLiteral("127.0.0.1:%1").arg(replica.port).toUtf8()), body.constData());
        // /metrics counts the failover (once per HTTP thread, each on its own connection: the
        // second may notice it a moment after the first; a loaded run saw 1 at the first read) and
        // the script calls.
        QByteArray metrics;
        QElapsedTimer reading;
        reading.start();
        do {
            QNetworkReply *m = nam.get(QNetworkRequest(server.baseUrl().resolved(QUrl(QStringLiteral("/metrics")))));
            QTRY_VERIFY_WITH_TIMEOUT(m->isFinished(), 5000);
            metrics = m->readAll();
            m->deleteLater();
            if (!metrics.contains("\nsluice_redis_primary_changes_total 2\n"))
                QTest::qWait(100);
        } while (!metrics.contains("\nsluice_redis_primary_changes_total 2\n") && reading.elapsed() < 10000);
        const qsizetype changes = metrics.indexOf("\nsluice_redis_primary_changes_total ");
        QVERIFY2(metrics.contains("\nsluice_redis_primary_changes_total 2\n"), metrics.mid(changes, 60).constData());
        QVERIFY2(metrics.contains("\nsluice_redis_script_calls_total "), metrics.constData());
        // the calls the failover broke are counted as the store's errors
        const qsizetype at = metrics.indexOf("\nsluice_store_call_errors_total{store=\"redis\"} ");
        QVERIFY2(at >= 0, metrics.constData());
        const QByteArray errors = metrics.mid(at + 47).split('\n').first();
        QVERIFY2(errors.toLongLong() >= 1, errors.constData());
        QVERIFY(server.stop());
    }

    void wrongSentinelSettingsAreStartupErrors()
    {
        test::ServerProcess server;
        QString error;
        QVERIFY(!server.start({QStringLiteral("--redis-sentinel"), QStringLiteral("127.0.0.1:1")}, &error));
        QVERIFY2(server.output().contains("--redis-sentinel and --redis-master go together"), server.output().constData());
        QVERIFY(!server.start({QStringLiteral("--redis-sentinel"), QStringLiteral("nowhere"), QStringLiteral("--redis-master"), QStringLiteral("m")}, &error));
        QVERIFY2(server.output().contains("sentinels must be host:port"), server.output().constData());
        QVERIFY(!server.start({QStringLiteral("--redis-sentinel"), QStringLiteral("127.0.0.1:1"), QStringLiteral("--redis-master"), QStringLiteral("m"),
                               QStringLiteral("--redis"), QStringLiteral("redis://127.0.0.1:1")},
                              &error));
        QVERIFY2(server.output().contains("exclude each other"), server.output().constData());
    }
};

QTEST_MAIN(TestSentinel)
#include "tst_sentinel.moc"
