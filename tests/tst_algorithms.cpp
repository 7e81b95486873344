// SPDX-License-Identifier: Apache-2.0
// Token buckets and shadow policies (design §11) over real HTTP, with the demo's own examples:
// gpt-4o-mini users get 60 per minute with bursts of 10 (a token bucket), and a shadow policy tries
// 30 per minute on gpt-4o-mini (reported, counted in /metrics, never blocking).
#include "decision.h"
#include "http/httpapi.h"
#include "httpcall.h"
#include "services.h"
#include "sluiceserver.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QRandomGenerator>
#include <QtTest>

using namespace sluice;

using Answer = test::HttpAnswer;

class TestAlgorithms : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<SluiceServer> m_server;
    QNetworkAccessManager m_nam;

    Answer check(const QString &user, const QString &model = QStringLiteral("gpt-4o-mini"))
    {
        return test::httpCall(m_nam, QUrl(QStringLiteral("http://127.0.0.1:%1/rate-limit/check").arg(m_server->port())), "POST",
                              QStringLiteral(R"({"userId":"%1","modelId":"%2"})").arg(user, model).toUtf8());
    }
    static QJsonObject policy(const Answer &a, const QString &scope)
    {
        for (const QJsonValue &v : a.object().value(QStringLiteral("policies")).toArray()) {
            if (v.toObject().value(QStringLiteral("scope")).toString() == scope)
                return v.toObject();
        }
        return {};
    }
    QByteArray metrics()
    {
        return test::httpCall(m_nam, QUrl(QStringLiteral("http://127.0.0.1:%1/metrics").arg(m_server->port())), "GET").body;
    }
    static qint64 metric(const QByteArray &text, const QByteArray &line)
    {
        for (const QByteArray &l : text.split('\n')) {
            if (l.startsWith(line + ' '))
                return l.mid(line.size() + 1).toLongLong();
        }
        return -1;
    }

private Q_SLOTS:
    void init()
    {
        ServerConfig config; // the embedded demo
        config.port = 0;
        config.threads = 2;
        m_server = std::make_unique<SluiceServer>(config);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    void cleanup() { m_server.reset(); }

    void demoBucketAdmitsTheBurstThenDrips()
    {
        const QString user = QStringLiteral("bucket-") + QString::number(QRandomGenerator::global()->generate(), 36);
        for (int i = 1; i <= 10; ++i) {
            const Answer a = check(user);
            QCOMPARE(a.status, 200);
            const QJsonObject p = policy(a, QStringLiteral("USER_MODEL"));
            QCOMPARE(p.value(QStringLiteral("algorithm")).toString(), QStringLiteral("token_bucket"));
            QCOMPARE(p.value(QStringLiteral("limit")).toInt(), 10); // its capacity
            QVERIFY(p.value(QStringLiteral("count")).toInt() <= i);
        }
        const Answer refused = check(user);
        QCOMPARE(refused.status, 429);
        QCOMPARE(refused.object().value(QStringLiteral("algorithm")).toString(), QStringLiteral("token_bucket"));
        QCOMPARE(refused.headers.value("x-ratelimit-strategy"), QByteArray("token_bucket"));
        QCOMPARE(refused.object().value(QStringLiteral("primary")).toObject().value(QStringLiteral("scope")).toString(),
                 QStringLiteral("USER_MODEL"));
        // 60 per minute: one token drips back every second, so that is the wait (exactly, rounded up).
        QCOMPARE(refused.headers.value("retry-after"), QByteArray("1"));
        QTest::qWait(1100);
        QCOMPARE(check(user).status, 200);
        QCOMPARE(check(user).status, 429);
        // Another model keeps the sliding log and says so.
        const Answer log = check(user, QStringLiteral("gpt-4o"));
        QCOMPARE(log.headers.value("x-ratelimit-strategy"), QByteArray("sliding_window"));
        QCOMPARE(log.object().value(QStringLiteral("algorithm")).toString(), QStringLiteral("sliding_log"));
    }

    void shadowReportsAndCountsButNeverBlocks()
    {
        QCOMPARE(check(QStringLiteral("first"), QStringLiteral("gpt-4o")).status, 200); // counters exist once a check saw the policies
        const QByteArray before = metrics();
        const QByteArray shadowLine = R"(sluice_rate_limit_shadow_over_limit_total{scope="MODEL",unit="requests",policy="11"})";
        QCOMPARE(metric(before, shadowLine), qint64(0));
        // 30 per minute on gpt-4o-mini, in shadow: the 31st and 32nd are admitted, reported violated.
        const QString run = QString::number(QRandomGenerator::global()->generate(), 36);
        Answer a;
        for (int i = 1; i <= 32; ++i) {
            a = check(QStringLiteral("shadow-%1-%2").arg(run).arg(i));
            QCOMPARE(a.status, 200);
            const QJsonObject shadow = policy(a, QStringLiteral("MODEL"));
            QCOMPARE(shadow.value(QStringLiteral("shadow")).toBool(), true);
            QCOMPARE(shadow.value(QStringLiteral("violated")).toBool(), i > 30);
        }
        QVERIFY(a.object().value(QStringLiteral("primary")).toObject().value(QStringLiteral("scope")).toString() != QStringLiteral("MODEL"));
        QCOMPARE(policy(a, QStringLiteral("MODEL")).value(QStringLiteral("count")).toInt(), 31); // what it would have kept: 30, + this one
        QCOMPARE(metric(metrics(), shadowLine), qint64(2));
        // A shadow and a real violation together: the real one is the primary and the cause.
        const QString user = QStringLiteral("both-") + run;
        Answer last;
        for (int i = 0; i < 11; ++i)
            last = check(user);
        QCOMPARE(last.status, 429);
        QCOMPARE(last.object().value(QStringLiteral("primary")).toObject().value(QStringLiteral("scope")).toString(),
                 QStringLiteral("USER_MODEL"));
        QCOMPARE(policy(last, QStringLiteral("MODEL")).value(QStringLiteral("violated")).toBool(), true);
        QVERIFY2(!last.object().value(QStringLiteral("cause")).toString().contains(QStringLiteral("MODEL (")), last.body.constData());
    }
};

QTEST_GUILESS_MAIN(TestAlgorithms)
#include "tst_algorithms.moc"
