// SPDX-License-Identifier: Apache-2.0
// A shared (Redis / Redis Cluster) store behind a circuit breaker and a failure mode. When the
// breaker refuses or the remote call fails (error, timeout: the remote store's own per-call
// timeout bounds it), the check is answered at once by the mode:
//   local       the process's memory store, every limit divided by `instances` (rounded down,
//               but at least 1 for a non-zero limit), source "local";
//   fail-open   admitted, nothing counted, source "fail-open";
//   fail-closed Status::Unavailable (the HTTP layer answers 503).
// It goes back to the remote store by itself: the breaker half-opens and probes.
#pragma once

#include "circuitbreaker.h"
#include "memorywindowstore.h"
#include "windowstore.h"

#include <memory>

namespace sluice {

enum class FailureMode { Local, FailOpen, FailClosed };
std::optional<FailureMode> failureModeFromName(const QString &name);
QString failureModeName(FailureMode mode);

class ResilientWindowStore final : public WindowStore
{
public:
    ResilientWindowStore(std::unique_ptr<WindowStore> remote, FailureMode mode, std::shared_ptr<MemoryWindowStore> local,
                         int instances, CircuitBreaker breaker = CircuitBreaker());

    void check(const WindowBatch &batch, CheckCallback done) override;
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override;
    void reset(const QByteArray &key, DoneCallback done) override;
    QString source() const override { return m_remote->source(); }
    QJsonObject health() const override;

    const CircuitBreaker &breaker() const { return m_breaker; }
    WindowStore &remote() { return *m_remote; }
    static qint64 localLimit(qint64 limit, int instances);

private:
    void fallback(const WindowBatch &batch, const QString &why, const CheckCallback &done);

    std::unique_ptr<WindowStore> m_remote;
    FailureMode m_mode;
    std::shared_ptr<MemoryWindowStore> m_local;
    int m_instances;
    CircuitBreaker m_breaker;
    std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
    qint64 m_fallbacks = 0;
    QString m_lastError;
};

} // namespace sluice
