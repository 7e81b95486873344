// SPDX-License-Identifier: Apache-2.0
// A shared (Redis / Redis Cluster) store behind a circuit breaker and a failure mode. When the
// breaker refuses or the remote call fails (error, timeout: the remote store's own per-call
// timeout bounds it), the check is answered at once by the mode:
//   local       the `local` store (the process's memory store), every limit divided by
//               `instances` (rounded down, but at least 1 for a non-zero limit), source "local";
//   fail-open   admitted, nothing counted, source "fail-open";
//   fail-closed Status::Unavailable (the HTTP layer answers 503).
// It goes back to the remote store by itself: the breaker half-opens and one check probes.
// Only checks take the probe and report their outcome: usage and reset calls (live charts poll
// usage every 250 ms) go to the remote only while the breaker is closed and never touch it, so
// they cannot take the probe and leave the breaker half-open forever.
// It knows no backend: any WindowStore behind it, any as the local one, time from a Clock.
#pragma once

#include "failover/layer.h"

#include "engine/clock.h"
#include "engine/windowstore.h"
#include "failover/circuitbreaker.h"

#include <memory>
#include <optional>

namespace sluice {

enum class FailureMode { Local, FailOpen, FailClosed };
std::optional<FailureMode> failureModeFromName(const QString &name);
QString failureModeName(FailureMode mode);

class ResilientWindowStore final : public WindowStore
{
public:
    // localTag: the first character of the local store's reservation ids.
    ResilientWindowStore(std::unique_ptr<WindowStore> remote, FailureMode mode, std::shared_ptr<WindowStore> local,
                         int instances, CircuitBreaker breaker = CircuitBreaker(),
                         std::shared_ptr<const Clock> clock = steadyClock(), QChar localTag = QLatin1Char('m'));

    void check(const WindowBatch &batch, CheckCallback done) override;
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override;
    void reset(const QByteArray &key, DoneCallback done) override;
    // A reservation made by the local store during an outage is completed there (its id says
    // so, see `localTag`); the others go to the remote while the breaker is closed.
    void complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done) override;
    void extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done) override;
    // The remote's pool state while the breaker is closed and it answers; else the local store's
    // (this instance alone: the fleet's instances may differ until the remote is back).
    void poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done) override;
    QString source() const override { return m_remote->source(); }
    QJsonObject health() const override;
    StoreStatus status() const override;

    const CircuitBreaker &breaker() const { return m_breaker; }
    WindowStore &remote() { return *m_remote; }
    qint64 fallbacks() const { return m_fallbacks; }
    static qint64 localLimit(qint64 limit, int instances);

private:
    void fallback(const WindowBatch &batch, const QString &why, const CheckCallback &done);
    // The store holding a reservation, or null (answered Unavailable) when the breaker is not closed.
    WindowStore *holderOf(const QString &reservationId) const;
    qint64 nowMs() const { return m_clock->nowUs() / 1000; }

    std::unique_ptr<WindowStore> m_remote;
    FailureMode m_mode;
    std::shared_ptr<WindowStore> m_local;
    int m_instances;
    CircuitBreaker m_breaker;
    std::shared_ptr<const Clock> m_clock;
    QChar m_localTag;
    std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
    qint64 m_fallbacks = 0;
    QString m_lastError;
};

} // namespace sluice
