// SPDX-License-Identifier: Apache-2.0
#include "burstrun.h"

#include <algorithm>
#include <cmath>

#include "apiclient.h"

namespace sluice {

BurstRun::BurstRun(ApiClient *client, QObject *parent) : QObject(parent), m_client(client)
{
    m_pacer.setInterval(10);
    connect(&m_pacer, &QTimer::timeout, this, &BurstRun::pump);
}

void BurstRun::start(const CheckRequest &request, int total, int concurrency, int ratePerSecond)
{
    cancel();
    ++m_generation; // whatever the previous run still has in flight is now stale
    m_request = request;
    m_total = std::max(0, total);
    m_concurrency = std::max(1, concurrency);
    m_rate = std::max(0, ratePerSecond);
    m_sent = m_done = m_inFlight = m_allowed = m_blocked = m_errors = 0;
    m_completed = m_completionErrors = m_held = 0;
    m_unanswered = 0;
    m_latenciesMs.clear();
    m_latenciesMs.reserve(static_cast<size_t>(std::min(m_total, 100000)));
    m_stopReason.clear();
    m_running = true;
    m_clock.start();
    m_pacer.start();
    pump();
    finishIfDone();
}

void BurstRun::cancel()
{
    if (!m_running)
        return;
    m_total = m_sent; // nothing more goes out; answers still in flight are counted
    m_pacer.stop();
    finishIfDone();
}

void BurstRun::pump()
{
    // How many may have been sent by now at the requested rate.
    const qint64 allowedByRate = m_rate > 0 ? 1 + m_clock.elapsed() * m_rate / 1000 : m_total;
    while (m_sent < m_total && m_inFlight < m_concurrency && m_sent < allowedByRate) {
        ++m_sent;
        ++m_inFlight;
        const qint64 sentAtNs = m_clock.nsecsElapsed();
        m_client->check(m_request, this, [this, generation = m_generation, sentAtNs](int status, const Decision &d, const ApiError &e) {
            if (generation != m_generation)
                return; // an answer of an earlier run
            if (status != 0)
                m_latenciesMs.push_back(static_cast<double>(m_clock.nsecsElapsed() - sentAtNs) / 1e6);
            --m_inFlight;
            ++m_done;
            if (status == 200 && !d.reservationId.isEmpty()) {
                ++m_held;
                completeLater(d.reservationId);
            }
            if (status == 200)
                ++m_allowed;
            else if (status == 429)
                ++m_blocked;
            else
                ++m_errors;
            // A server that stopped answering ends the burst with a reason, instead of a run of errors.
            m_unanswered = status == 0 ? m_unanswered + 1 : 0;
            if (m_unanswered >= 3 && m_stopReason.isEmpty()) {
                m_stopReason = QStringLiteral("stopped: the server at %1 does not answer (%2)").arg(m_client->server().toString(), e.message());
                cancel();
            }
            Q_EMIT progress();
            pump();
            finishIfDone();
        });
    }
    if (m_sent >= m_total)
        m_pacer.stop();
}

double BurstRun::answersPerSecond() const
{
    const double seconds = elapsedMs() / 1000.0;
    return seconds > 0 ? m_done / seconds : 0;
}

double BurstRun::latencyQuantileMs(double q) const
{
    if (m_latenciesMs.empty())
        return -1;
    std::vector<double> sorted = m_latenciesMs;
    // Nearest rank: the smallest sample with at least q of them at or below it.
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    const size_t i = std::min(sorted.size() - 1, rank > 0 ? rank - 1 : 0);
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(i), sorted.end());
    return sorted[i];
}

void BurstRun::setLifecycle(int completeAfterMs, std::optional<qint64> actualTokens)
{
    m_completeAfterMs = completeAfterMs;
    m_actualTokens = actualTokens;
}

void BurstRun::completeLater(const QString &reservationId)
{
    if (m_completeAfterMs < 0)
        return; // held until its leases expire
    QTimer::singleShot(m_completeAfterMs, this, [this, reservationId, generation = m_generation] {
        if (generation != m_generation)
            return;
        m_client->completeReservation(ReservationRequest{reservationId, m_actualTokens}, this,
                                      [this, generation](int status, const QJsonObject &, const ApiError &) {
                                          if (generation != m_generation)
                                              return;
                                          --m_held;
                                          ++(status == 200 ? m_completed : m_completionErrors);
                                          Q_EMIT progress();
                                      });
    });
}

void BurstRun::finishIfDone()
{
    if (m_running && m_sent >= m_total && m_inFlight == 0) {
        m_running = false;
        m_pacer.stop();
        Q_EMIT finished();
    }
}

} // namespace sluice
