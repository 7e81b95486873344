// SPDX-License-Identifier: Apache-2.0
// The inference door's figures over every HTTP thread, rendered into /metrics: answers by route and
// status, requests and streams in flight, tokens by direction, upstream failures by kind, and the
// upstream's time to first byte. Thread-safe: atomics, and a mutex for the answers' table only.
#pragma once

#include "door/layer.h"

#include "door/upstreamclient.h"

#include <QByteArray>
#include <array>
#include <atomic>
#include <map>
#include <mutex>

namespace sluice {

class DoorStats
{
public:
    static constexpr std::array<double, 12> kLatencyBucketsS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    enum class Direction { Prompt, Completion };

    std::atomic<int> inFlight{0};
    std::atomic<int> streams{0};
    void countAnswer(const char *route, int status);
    void countTokens(Direction d, qint64 n) { m_tokens[static_cast<size_t>(d)].fetch_add(n, std::memory_order_relaxed); }
    void countUpstreamFailure(UpstreamCall::Failure f) { m_failures[static_cast<size_t>(f)].fetch_add(1, std::memory_order_relaxed); }
    void recordFirstByte(double seconds);
    qint64 tokens(Direction d) const { return m_tokens[static_cast<size_t>(d)].load(std::memory_order_relaxed); }
    void render(QByteArray &out) const;

private:
    mutable std::mutex m_mutex; // the answers' table
    std::map<std::pair<QByteArray, int>, qint64> m_answers;
    std::array<std::atomic<qint64>, 2> m_tokens{};
    std::array<std::atomic<qint64>, 7> m_failures{};
    std::array<std::atomic<qint64>, kLatencyBucketsS.size() + 1> m_buckets{};
    std::atomic<qint64> m_latencyCount{0};
    std::atomic<qint64> m_latencySumUs{0};
};

} // namespace sluice
