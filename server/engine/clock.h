// SPDX-License-Identifier: Apache-2.0
// Time for the memory store and the engine, in microseconds since the Unix epoch. Tests drive a
// ManualClock; production reads the system clock. Thread-safe.
#pragma once

#include "engine/layer.h"

#include <QtGlobal>
#include <atomic>
#include <chrono>
#include <memory>

namespace sluice {

class Clock
{
public:
    virtual ~Clock() = default;
    virtual qint64 nowUs() const = 0;
};

class SystemClock final : public Clock
{
public:
    qint64 nowUs() const override
    {
        return std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    }
};

// Monotonic time (never jumps with the wall clock) for intervals: breaker timing, timeouts.
class SteadyClock final : public Clock
{
public:
    qint64 nowUs() const override
    {
        return std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now().time_since_epoch()).count();
    }
};

class ManualClock final : public Clock
{
public:
    explicit ManualClock(qint64 startUs = 1'700'000'000'000'000) : m_now(startUs) {}
    qint64 nowUs() const override { return m_now.load(std::memory_order_relaxed); }
    void set(qint64 us) { m_now.store(us, std::memory_order_relaxed); }
    void advanceUs(qint64 us) { m_now.fetch_add(us, std::memory_order_relaxed); }
    void advanceSeconds(double s) { advanceUs(static_cast<qint64>(s * 1e6)); }

private:
    std::atomic<qint64> m_now;
};

inline std::shared_ptr<const Clock> systemClock()
{
    static const auto clock = std::make_shared<const SystemClock>();
    return clock;
}

inline std::shared_ptr<const Clock> steadyClock()
{
    static const auto clock = std::make_shared<const SteadyClock>();
    return clock;
}

} // namespace sluice
