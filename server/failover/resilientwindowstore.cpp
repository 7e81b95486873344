// SPDX-License-Identifier: Apache-2.0
#include "failover/resilientwindowstore.h"

#include "engine/windowrules.h"

#include <chrono>

namespace sluice {

std::optional<FailureMode> failureModeFromName(const QString &name)
{
    if (name == QStringLiteral("local"))
        return FailureMode::Local;
    if (name == QStringLiteral("fail-open"))
        return FailureMode::FailOpen;
    if (name == QStringLiteral("fail-closed"))
        return FailureMode::FailClosed;
    return std::nullopt;
}

QString failureModeName(FailureMode mode)
{
    switch (mode) {
    case FailureMode::Local: return QStringLiteral("local");
    case FailureMode::FailOpen: return QStringLiteral("fail-open");
    case FailureMode::FailClosed: return QStringLiteral("fail-closed");
    }
    return {};
}

ResilientWindowStore::ResilientWindowStore(std::unique_ptr<WindowStore> remote, FailureMode mode,
                                           std::shared_ptr<WindowStore> local, int instances, CircuitBreaker breaker,
                                           std::shared_ptr<const Clock> clock, QChar localTag)
    : m_remote(std::move(remote)), m_mode(mode), m_local(std::move(local)), m_instances(std::max(1, instances)),
      m_breaker(breaker), m_clock(std::move(clock)), m_localTag(localTag)
{
}

qint64 ResilientWindowStore::localLimit(qint64 limit, int instances)
{
    if (limit <= 0)
        return 0;
    return std::max<qint64>(1, limit / std::max(1, instances));
}

void ResilientWindowStore::check(const WindowBatch &batch, CheckCallback done)
{
    if (!m_breaker.allow(nowMs()))
        return fallback(batch, QStringLiteral("circuit breaker open: %1").arg(m_lastError), done);
    m_remote->check(batch, [this, alive = std::weak_ptr<bool>(m_alive), batch, done = std::move(done)](WindowOutcome outcome) {
        if (alive.expired())
            return;
        if (outcome.status == WindowOutcome::Status::Ok) {
            m_breaker.recordSuccess();
            return done(std::move(outcome));
        }
        m_breaker.recordFailure(nowMs());
        m_lastError = outcome.error;
        fallback(batch, outcome.error, done);
    });
}

void ResilientWindowStore::fallback(const WindowBatch &batch, const QString &why, const CheckCallback &done)
{
    ++m_fallbacks;
    switch (m_mode) {
    case FailureMode::Local: {
        WindowBatch scaled = batch;
        for (WindowSpec &s : scaled.keys)
            s.limit = localLimit(s.limit, m_instances);
        return m_local->check(scaled, [done](WindowOutcome o) {
            o.source = QStringLiteral("local");
            done(std::move(o));
        });
    }
    case FailureMode::FailOpen: {
        WindowOutcome o;
        o.admitted = true;
        o.nowUs = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        o.keys.resize(batch.keys.size());
        for (size_t i = 0; i < batch.keys.size(); ++i) // (nothing counted: would it fit an empty key?)
            o.keys[i].fits = window::fits(batch.keys[i], o.keys[i]);
        o.source = QStringLiteral("fail-open");
        return done(std::move(o));
    }
    case FailureMode::FailClosed: {
        WindowOutcome o;
        o.status = WindowOutcome::Status::Unavailable;
        o.error = why;
        o.source = m_remote->source();
        return done(std::move(o));
    }
    }
}

void ResilientWindowStore::usage(const std::vector<WindowSpec> &keys, UsageCallback done)
{
    // Never allow(): that would take the half-open probe, and only a check reports its outcome.
    if (m_breaker.state(nowMs()) != CircuitBreaker::State::Closed)
        return done(false, {});
    m_remote->usage(keys, std::move(done));
}

void ResilientWindowStore::reset(const QByteArray &key, DoneCallback done)
{
    m_local->reset(key, [](bool) {});
    if (m_breaker.state(nowMs()) != CircuitBreaker::State::Closed)
        return done(false);
    m_remote->reset(key, std::move(done));
}

WindowStore *ResilientWindowStore::holderOf(const QString &reservationId) const
{
    if (reservationId.startsWith(m_localTag))
        return m_local.get();
    // Like usage(): never the half-open probe.
    return m_breaker.state(nowMs()) == CircuitBreaker::State::Closed ? m_remote.get() : nullptr;
}

void ResilientWindowStore::complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done)
{
    if (WindowStore *store = holderOf(reservationId))
        return store->complete(reservationId, tokens, std::move(done));
    done({ReservationOutcome::Status::Unavailable, QStringLiteral("circuit breaker open: %1").arg(m_lastError), 0});
}

void ResilientWindowStore::extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done)
{
    if (WindowStore *store = holderOf(reservationId))
        return store->extend(reservationId, leaseUs, std::move(done));
    done({ReservationOutcome::Status::Unavailable, QStringLiteral("circuit breaker open: %1").arg(m_lastError), 0});
}

void ResilientWindowStore::poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done)
{
    auto local = [local = m_local, pool, reading, params, done](const QString &why) {
        local->poolStep(pool, reading, params, [done, why](std::optional<PoolState> state, const QString &error) {
            done(state, state ? QStringLiteral("kept by this instance alone: %1").arg(why) : error);
        });
    };
    // Like usage(): never the half-open probe.
    if (m_breaker.state(nowMs()) != CircuitBreaker::State::Closed)
        return local(QStringLiteral("circuit breaker open"));
    m_remote->poolStep(pool, reading, params, [local, done](std::optional<PoolState> state, const QString &error) {
        if (state)
            return done(state, QString());
        local(error);
    });
}

StoreStatus ResilientWindowStore::status() const
{
    StoreStatus s = m_remote->status();
    const CircuitBreaker::State state = m_breaker.state(nowMs());
    s.hasBreaker = true;
    s.breakerState = state == CircuitBreaker::State::Open ? 2 : state == CircuitBreaker::State::HalfOpen ? 1 : 0;
    s.breakerOpens = m_breaker.opens();
    s.fallbacks = m_fallbacks;
    s.failureMode = failureModeName(m_mode);
    s.ok = s.ok && state == CircuitBreaker::State::Closed;
    if (s.lastError.isEmpty())
        s.lastError = m_lastError;
    s.health = health();
    return s;
}

QJsonObject ResilientWindowStore::health() const
{
    QJsonObject o = m_remote->health();
    const CircuitBreaker::State state = m_breaker.state(nowMs());
    o.insert(QStringLiteral("breaker"), QJsonObject{{QStringLiteral("state"), CircuitBreaker::stateName(state)},
                                                   {QStringLiteral("consecutiveFailures"), m_breaker.consecutiveFailures()},
                                                   {QStringLiteral("opens"), m_breaker.opens()}});
    o.insert(QStringLiteral("failureMode"), failureModeName(m_mode));
    o.insert(QStringLiteral("fallbacks"), m_fallbacks);
    if (state != CircuitBreaker::State::Closed)
        o.insert(QStringLiteral("status"), QStringLiteral("degraded"));
    return o;
}

} // namespace sluice
