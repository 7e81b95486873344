// SPDX-License-Identifier: Apache-2.0
// The metrics text: exact counter lines after a scripted sequence, per-policy handles (the same
// handle for the same policy, counted from many threads without loss), histogram buckets
// cumulative, and only Prometheus-legal lines.
#include "engine/metrics.h"

#include <QRegularExpression>
#include <QtTest>
#include <thread>
#include <vector>

using namespace sluice;

class TestMetrics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void decisionsAndRejections()
    {
        Metrics m;
        m.recordDecision(Scope::UserModel, true, QStringLiteral("memory"));
        m.recordDecision(Scope::UserModel, true, QStringLiteral("memory"));
        m.recordDecision(Scope::Tenant, false, QStringLiteral("redis"));
        m.recordDecision(std::nullopt, true, QStringLiteral("something-new"));
        m.recordRejected(400);
        m.recordRejected(400);
        m.recordRejected(418);
        const QByteArray text = m.renderPrometheus();
        QVERIFY(text.contains("sluice_decisions_total{scope=\"USER_MODEL\",result=\"allowed\",source=\"memory\"} 2\n"));
        QVERIFY(text.contains("sluice_decisions_total{scope=\"TENANT\",result=\"blocked\",source=\"redis\"} 1\n"));
        QVERIFY(text.contains("sluice_decisions_total{scope=\"NONE\",result=\"allowed\",source=\"other\"} 1\n"));
        QVERIFY(text.contains("sluice_rejected_requests_total{status=\"400\"} 2\n"));
        QVERIFY(text.contains("sluice_rejected_requests_total{status=\"other\"} 1\n"));
        QCOMPARE(m.allowedTotal(), qint64(3));
        QCOMPARE(m.blockedTotal(), qint64(1));
    }

    void policyHandlesAreSharedAndExact()
    {
        Metrics m;
        auto h = m.policyCounters(7, Scope::Tenant);
        QCOMPARE(m.policyCounters(7, Scope::Tenant).get(), h.get());
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([h] {
                for (int i = 0; i < 10'000; ++i)
                    h->record(i % 10, 10, i % 10 == 9); // counts 0…9 against 10; every tenth violated
            });
        for (auto &t : threads)
            t.join();
        const QByteArray text = m.renderPrometheus();
        QVERIFY(text.contains("sluice_rate_limit_total_hits_total{scope=\"TENANT\",unit=\"requests\",policy=\"7\"} 40000\n"));
        QVERIFY(text.contains("sluice_rate_limit_over_limit_total{scope=\"TENANT\",unit=\"requests\",policy=\"7\"} 4000\n"));
        QVERIFY(text.contains("sluice_rate_limit_within_limit_total{scope=\"TENANT\",unit=\"requests\",policy=\"7\"} 36000\n"));
        // near: within and count >= 8 of 10 → counts 8 only (9 is the violated one here)
        QVERIFY(text.contains("sluice_rate_limit_near_limit_total{scope=\"TENANT\",unit=\"requests\",policy=\"7\"} 4000\n"));
    }

    void histogramIsCumulative()
    {
        Metrics m;
        for (qint64 us : {10, 60, 60, 3000, 10'000'000})
            m.recordLatencyUs(us);
        const QByteArray text = m.renderPrometheus();
        QVERIFY(text.contains("sluice_check_latency_seconds_bucket{door=\"http\",le=\"5e-05\"} 1\n"));
        QVERIFY(text.contains("sluice_check_latency_seconds_bucket{door=\"http\",le=\"0.0001\"} 3\n"));
        QVERIFY(text.contains("sluice_check_latency_seconds_bucket{door=\"http\",le=\"0.005\"} 4\n"));
        QVERIFY(text.contains("sluice_check_latency_seconds_bucket{door=\"http\",le=\"+Inf\"} 5\n"));
        QVERIFY(text.contains("sluice_check_latency_seconds_count{door=\"http\"} 5\n"));
        QVERIFY(text.contains("sluice_check_latency_seconds_count{door=\"grpc\"} 0\n"));
    }

    void everyLineIsWellFormed()
    {
        Metrics m;
        m.recordDecision(Scope::Global, false, QStringLiteral("local"));
        m.policyCounters(0, Scope::UserModel)->record(1, 100, false);
        // (raw string literals confuse moc here: plain escapes)
        const QRegularExpression sample(QStringLiteral("^[a-z_]+(\\{[a-z]+=\"[^\"\\n]*\"(,[a-z]+=\"[^\"\\n]*\")*\\})? [-+0-9.eInf]+$"));
        const QRegularExpression meta(QStringLiteral("^# (HELP|TYPE) [a-z_]+ .+$"));
        for (const QByteArray &line : m.renderPrometheus().split('\n')) {
            if (line.isEmpty())
                continue;
            const QString l = QString::fromUtf8(line);
            QVERIFY2(sample.match(l).hasMatch() || meta.match(l).hasMatch(), line.constData());
        }
    }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
