// SPDX-License-Identifier: Apache-2.0
// Helpers for tests of the window stores (header-only: the support library does not link the
// server; the store tests do). Every wait is bounded.
#pragma once

#include "redis/redisconnection.h"
#include "engine/windowstore.h"

#include <QElapsedTimer>
#include <QtTest>
#include <optional>

namespace sluice::test {

// Runs one check and waits (bounded) for its answer, processing events meanwhile.
inline WindowOutcome checkAndWait(WindowStore &store, const WindowBatch &batch, int timeoutMs = 5000)
{
    std::optional<WindowOutcome> result;
    store.check(batch, [&](WindowOutcome o) { result = std::move(o); });
    QElapsedTimer t;
    t.start();
    while (!result && t.elapsed() < timeoutMs)
        QTest::qWait(1);
    return result.value_or(WindowOutcome{WindowOutcome::Status::Unavailable, QStringLiteral("no answer"), false, 0, {}, {}});
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
