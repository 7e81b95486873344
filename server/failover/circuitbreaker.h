// SPDX-License-Identifier: Apache-2.0
// Closed → open after `threshold` consecutive failures → half-open after the open interval
// (1 s, doubling up to 30 s while probes fail): exactly one probe call goes through; its success
// closes the breaker, its failure opens it again. While open, callers are refused at once, so a
// dead Redis costs no waiting at all. Single-threaded (one per store, on the store's thread).
#pragma once

#include "failover/layer.h"

#include <QString>
#include <QtGlobal>

namespace sluice {

class CircuitBreaker
{
public:
    enum class State { Closed, Open, HalfOpen };

    explicit CircuitBreaker(int threshold = 5, qint64 openMs = 1000, qint64 maxOpenMs = 30000)
        : m_threshold(threshold), m_baseOpenMs(openMs), m_maxOpenMs(maxOpenMs), m_openMs(openMs) {}

    // May a call go to the remote store now? (In half-open, only the one probe may.)
    bool allow(qint64 nowMs);
    void recordSuccess();
    void recordFailure(qint64 nowMs);

    State state(qint64 nowMs) const;
    static QString stateName(State s);
    qint64 opens() const { return m_opens; }
    int consecutiveFailures() const { return m_failures; }

private:
    int m_threshold;
    qint64 m_baseOpenMs;
    qint64 m_maxOpenMs;
    qint64 m_openMs;
    State m_state = State::Closed;
    qint64 m_openedAt = 0;
    bool m_probeInFlight = false;
    int m_failures = 0;
    qint64 m_opens = 0;
};

} // namespace sluice
