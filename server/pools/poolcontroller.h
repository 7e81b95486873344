// SPDX-License-Identifier: Apache-2.0
// The GPU pools' load controller (design §14). Once a second, for every pool of the registry: the
// newest load reading of this instance (pushed, scraped from the model servers' /metrics, or asked
// of Prometheus; with none of them set, Sluice's own view: check → complete latency) goes to the store's poolStep() (poolrules.h: the state lives with the store, so a
// fleet shares one factor per pool), and the answer is published on the PoolBoard the check path
// reads. Reads run asynchronously (QNetworkAccessManager, a timeout below a second each) and never
// block the thread; a source that fails is named in GET /admin/pools and the pool's signal goes
// stale (static limits) when nothing else is fresh. Lives on one thread (the server's main thread).
#pragma once

#include "pools/layer.h"

#include "engine/poolboard.h"
#include "engine/policysnapshot.h"
#include "engine/windowstore.h"

#include <QNetworkAccessManager>
#include <QObject>
#include <QTimer>
#include <deque>
#include <functional>
#include <memory>

namespace sluice {

class PoolController final : public QObject
{
public:
    // Runs a pool step on a thread that owns a store; `done` may run on any thread.
    using StepFunction = std::function<void(const QString &pool, const PoolReading &reading, const PoolStepParams &params,
                                            WindowStore::PoolCallback done)>;

    // settings: staleMs, decrease and increase (the thresholds and factor range come from the registry).
    PoolController(std::shared_ptr<SnapshotHolder> snapshots, std::shared_ptr<PoolBoard> board, PoolStepParams settings,
                   QString prometheusUrl, StepFunction step, QObject *parent = nullptr);

    void start(int intervalMs = 1000);
    void stopTicking() { m_timer.stop(); }
    // Requests admitted here and not completed here after this long leave the own view (the lease
    // time: their leases expired; at most 10 minutes).
    void setForgetAfterMs(qint64 ms) { m_forgetAfterMs = ms; }

private:
    struct Sources
    {
        // The newest reading of each source (steady ms when it arrived; -1: none).
        double metricsQueue = -1, metricsKv = -1;
        qint64 metricsAtMs = -1;
        double promQueue = -1, promKv = -1;
        qint64 promAtMs = -1;
        int inFlight = 0; // requests of this pool not answered yet
        std::deque<std::pair<qint64, double>> ownMedians; // the own view's unsaturated medians (at ms, ms)
        double ownBaselineMs = -1;                         // its usual time (-1: not known yet)
    };
    // The own view's reading of a pool (invalid while it has too few completions), and its
    // summary for GET /admin/pools; `used` when it is the pool's signal.
    PoolReading ownReading(const PoolRow &pool, qint64 nowMs, bool used);
    void tick();
    void readMetrics(const PoolRow &pool);
    void askPrometheus(const PoolRow &pool);
    PoolReading newest(const QString &pool, qint64 nowMs) const;
    // One read of the pool answered: its sources (null when the pool is gone), one fewer in flight.
    Sources *answered(const QString &pool);
    void stepped(const QString &pool, std::optional<PoolState> state, const QString &error);

    std::shared_ptr<SnapshotHolder> m_snapshots;
    std::shared_ptr<PoolBoard> m_board;
    PoolStepParams m_settings;
    QString m_prometheusUrl;
    StepFunction m_step;
    QNetworkAccessManager m_network;
    QTimer m_timer;
    int m_intervalMs = 1000;
    qint64 m_forgetAfterMs = kOwnViewBaselineMs;
    std::unordered_map<QString, Sources, FastHash> m_sources;
    std::unordered_map<QString, PoolState, FastHash> m_states;
};

} // namespace sluice
