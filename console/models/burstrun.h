// SPDX-License-Identifier: Apache-2.0
// One burst of checks: `total` requests, at most `concurrency` in flight, paced to
// `ratePerSecond` (0: as fast as the concurrency allows). Counts allowed / blocked / errors and
// reports progress; cancellable; bounded by construction. No widgets, so it is testable alone.
// Each start() begins a new generation: answers still in flight from an earlier run are dropped
// when they arrive (like hotspot's JobTracker), so a restart never counts them.
// With a lifecycle (design §10), every admitted request that got a reservation is completed
// `completeAfterMs` later (with `actualTokens`, or keeping its estimate), so an operator sees a
// tokens policy reconcile and a concurrency policy admit as leases are released.
#pragma once

#include "checkrequest.h"

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <optional>
#include <vector>

namespace sluice {

class ApiClient;

class BurstRun : public QObject
{
    Q_OBJECT
public:
    explicit BurstRun(ApiClient *client, QObject *parent = nullptr);

    void start(const CheckRequest &request, int total, int concurrency, int ratePerSecond);
    // For the next start(): complete each reservation this long after its admission (-1: never,
    // leases then expire by themselves), with this many tokens (nullopt: keep the estimate).
    void setLifecycle(int completeAfterMs, std::optional<qint64> actualTokens);
    void cancel();
    bool isRunning() const { return m_running; }

    int sent() const { return m_sent; }
    int done() const { return m_done; }
    int allowed() const { return m_allowed; }
    int blocked() const { return m_blocked; }
    int errors() const { return m_errors; }
    int completed() const { return m_completed; }
    // Why the run stopped before its end (the server stopped answering), or empty.
    QString stopReason() const { return m_stopReason; }
    int completionErrors() const { return m_completionErrors; }
    // Reservations admitted and not completed yet (held).
    int held() const { return m_held; }
    qint64 elapsedMs() const { return m_clock.isValid() ? m_clock.elapsed() : 0; }
    // Answers per second so far, and the q-quantile (0.5, 0.99) of the answers' round trips in ms
    // (-1 before any answer). One sample per answer: bounded by the burst's size.
    double answersPerSecond() const;
    double latencyQuantileMs(double q) const;

Q_SIGNALS:
    void progress();
    void finished();

private:
    void pump();
    void finishIfDone();
    void completeLater(const QString &reservationId);

    ApiClient *m_client;
    CheckRequest m_request;
    QTimer m_pacer;
    QElapsedTimer m_clock;
    int m_total = 0, m_concurrency = 1, m_rate = 0;
    int m_sent = 0, m_done = 0, m_inFlight = 0, m_allowed = 0, m_blocked = 0, m_errors = 0;
    bool m_running = false;
    quint64 m_generation = 0;
    int m_completeAfterMs = -1;
    std::optional<qint64> m_actualTokens;
    int m_completed = 0, m_completionErrors = 0, m_held = 0;
    int m_unanswered = 0; // consecutive checks with no answer at all
    std::vector<double> m_latenciesMs;
    QString m_stopReason;
};

} // namespace sluice
