// SPDX-License-Identifier: Apache-2.0
// Helpers for tests of the window stores (header-only: the support library does not link the
// server; the store tests do). Every wait is bounded.
#pragma once

#include "redis/redisconnection.h"
#include "engine/windowstore.h"
#include "windowkey.h"

#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QtTest>
#include <memory>
#include <optional>

namespace sluice::test {

// A tenant's window key no other test (or earlier run) uses: "<what>-<random>".
inline QByteArray uniqueKey(const char *what)
{
    return windowKey(Scope::Tenant, QStringLiteral("%1-%2").arg(QLatin1String(what)).arg(QRandomGenerator::global()->generate64(), 0, 36));
}

// Runs one check and waits (bounded) for its answer, processing events meanwhile.
// (The answer lands in shared state: one that comes after the wait gave up writes there, not into
// a stack frame that is gone.)
inline WindowOutcome checkAndWait(WindowStore &store, const WindowBatch &batch, int timeoutMs = 5000)
{
    auto result = std::make_shared<std::optional<WindowOutcome>>();
    store.check(batch, [result](WindowOutcome o) { *result = std::move(o); });
    QElapsedTimer t;
    t.start();
    while (!*result && t.elapsed() < timeoutMs)
        QTest::qWait(1);
    if (*result)
        return std::move(**result);
    WindowOutcome none;
    none.status = WindowOutcome::Status::Unavailable;
    none.error = QStringLiteral("no answer");
    return none;
}

// Completes (or, with extend, extends) a reservation and waits (bounded) for the answer.
inline ReservationOutcome reservationAndWait(WindowStore &store, const QString &id, std::optional<qint64> tokens,
                                             bool extend = false, qint64 leaseUs = 0, int timeoutMs = 5000)
{
    auto result = std::make_shared<std::optional<ReservationOutcome>>();
    auto done = [result](ReservationOutcome o) { *result = std::move(o); };
    if (extend)
        store.extend(id, leaseUs, done);
    else
        store.complete(id, tokens, done);
    QElapsedTimer t;
    t.start();
    while (!*result && t.elapsed() < timeoutMs)
        QTest::qWait(1);
    return result->value_or(ReservationOutcome{ReservationOutcome::Status::Unavailable, QStringLiteral("no answer"), 0});
}

inline bool waitConnected(const RedisConnection &connection, int timeoutMs = 5000)
{
    QElapsedTimer t;
    t.start();
    while (!connection.isConnected() && t.elapsed() < timeoutMs)
        QTest::qWait(5);
    return connection.isConnected();
}

} // namespace sluice::test
