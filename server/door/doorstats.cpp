// SPDX-License-Identifier: Apache-2.0
#include "door/doorstats.h"

namespace sluice {

void DoorStats::countAnswer(const char *route, int status)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_answers[{QByteArray(route), status}];
}

void DoorStats::recordFirstByte(double seconds)
{
    size_t i = 0;
    while (i < kLatencyBucketsS.size() && seconds > kLatencyBucketsS[i])
        ++i;
    m_buckets[i].fetch_add(1, std::memory_order_relaxed);
    m_latencyCount.fetch_add(1, std::memory_order_relaxed);
    m_latencySumUs.fetch_add(qint64(seconds * 1e6), std::memory_order_relaxed);
}

void DoorStats::render(QByteArray &out) const
{
    out += "# HELP sluice_door_requests_total Answers of the inference door, by route and HTTP status (499: the client left).\n"
           "# TYPE sluice_door_requests_total counter\n";
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (const auto &[key, n] : m_answers)
            out += "sluice_door_requests_total{route=\"" + key.first + "\",code=\"" + QByteArray::number(key.second) + "\"} "
                + QByteArray::number(n) + '\n';
    }
    out += "# HELP sluice_door_in_flight Requests the inference door is proxying now (streams included).\n"
           "# TYPE sluice_door_in_flight gauge\nsluice_door_in_flight " + QByteArray::number(inFlight.load()) + '\n';
    out += "# HELP sluice_door_streams_in_flight Streamed answers being relayed now.\n"
           "# TYPE sluice_door_streams_in_flight gauge\nsluice_door_streams_in_flight " + QByteArray::number(streams.load()) + '\n';
    out += "# HELP sluice_door_tokens_total Tokens through the inference door by direction: the upstream's usage, else the estimate.\n"
           "# TYPE sluice_door_tokens_total counter\n";
    out += "sluice_door_tokens_total{direction=\"prompt\"} " + QByteArray::number(tokens(Direction::Prompt)) + '\n';
    out += "sluice_door_tokens_total{direction=\"completion\"} " + QByteArray::number(tokens(Direction::Completion)) + '\n';
    static constexpr const char *kFailures[] = {"connect", "connect_timeout", "first_byte_timeout", "idle_timeout", "closed", "protocol", "too_large"};
    out += "# HELP sluice_door_upstream_failures_total Upstream calls that failed, by kind.\n"
           "# TYPE sluice_door_upstream_failures_total counter\n";
    for (size_t i = 0; i < m_failures.size(); ++i)
        out += "sluice_door_upstream_failures_total{kind=\"" + QByteArray(kFailures[i]) + "\"} "
            + QByteArray::number(m_failures[i].load(std::memory_order_relaxed)) + '\n';
    out += "# HELP sluice_door_upstream_first_byte_seconds Time from the request sent upstream to the answer's head.\n"
           "# TYPE sluice_door_upstream_first_byte_seconds histogram\n";
    qint64 cumulative = 0;
    for (size_t i = 0; i < kLatencyBucketsS.size(); ++i) {
        cumulative += m_buckets[i].load(std::memory_order_relaxed);
        out += "sluice_door_upstream_first_byte_seconds_bucket{le=\"" + QByteArray::number(kLatencyBucketsS[i]) + "\"} "
            + QByteArray::number(cumulative) + '\n';
    }
    cumulative += m_buckets.back().load(std::memory_order_relaxed);
    out += "sluice_door_upstream_first_byte_seconds_bucket{le=\"+Inf\"} " + QByteArray::number(cumulative) + '\n';
    out += "sluice_door_upstream_first_byte_seconds_sum " + QByteArray::number(m_latencySumUs.load() / 1e6) + '\n';
    out += "sluice_door_upstream_first_byte_seconds_count " + QByteArray::number(m_latencyCount.load()) + '\n';
}

} // namespace sluice
