// SPDX-License-Identifier: Apache-2.0
#include "failover/circuitbreaker.h"

#include <algorithm>

namespace sluice {

CircuitBreaker::State CircuitBreaker::state(qint64 nowMs) const
{
    if (m_state == State::Open && nowMs - m_openedAt >= m_openMs)
        return State::HalfOpen;
    return m_state;
}

QString CircuitBreaker::stateName(State s)
{
    switch (s) {
    case State::Closed: return QStringLiteral("closed");
    case State::Open: return QStringLiteral("open");
    case State::HalfOpen: return QStringLiteral("half-open");
    }
    return {};
}

bool CircuitBreaker::allow(qint64 nowMs)
{
    switch (state(nowMs)) {
    case State::Closed:
        return true;
    case State::Open:
        return false;
    case State::HalfOpen:
        if (m_probeInFlight)
            return false;
        m_state = State::HalfOpen;
        m_probeInFlight = true;
        return true;
    }
    return false;
}

void CircuitBreaker::recordSuccess()
{
    m_failures = 0;
    m_probeInFlight = false;
    m_state = State::Closed;
    m_openMs = m_baseOpenMs;
}

void CircuitBreaker::recordFailure(qint64 nowMs)
{
    ++m_failures;
    if (m_state == State::HalfOpen) {
        // The probe failed: open again, for longer.
        m_probeInFlight = false;
        m_openMs = std::min(m_maxOpenMs, m_openMs * 2);
        m_state = State::Open;
        m_openedAt = nowMs;
        ++m_opens;
        return;
    }
    if (m_state == State::Closed && m_failures >= m_threshold) {
        m_state = State::Open;
        m_openedAt = nowMs;
        ++m_opens;
    }
}

} // namespace sluice
