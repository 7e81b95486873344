// SPDX-License-Identifier: Apache-2.0
// The inference door (design §15): Sluice in the request path as an OpenAI-compatible proxy.
// POST /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models, in front of one
// upstream (--upstream: a model router, vLLM, TGI). Per request:
//
//   identity   Authorization: Bearer <a Sluice API key> — its tenant, and its user when the key has
//              one; else the body's `user` is the end user; else the key itself ("key-<id>").
//   check      one check with the estimate (door/tokenestimate.h); refused → 429 in OpenAI's error
//              shape with Retry-After and the x-ratelimit-* headers; never forwarded.
//   forward    the body as sent, but a stream asks for usage (stream_options.include_usage); the
//              answer passes through with the rate-limit headers: a stream chunk by chunk as it
//              comes (events cut at their boundaries, flow-controlled by the client's reading), the
//              usage chunk hidden from a client that did not ask for it.
//   settle     the reservation completed with the upstream's reported usage when the answer ends;
//              with what was generated so far when the client leaves mid-stream (the upstream call
//              is aborted) or the upstream dies mid-stream; with nothing when the upstream fails
//              before answering (502 connect / garbage, 504 timeouts, in OpenAI's error shape).
//
// One InferenceDoor per HTTP thread (its upstream connections are that thread's); the statistics
// are the process's (DoorStats, /metrics).
#pragma once

#include "door/layer.h"

#include "door/tokenestimate.h"
#include "door/upstreamclient.h"
#include "http/httpapi.h"
#include "http/servercontext.h"

#include <QObject>
#include <QUrl>
#include <array>
#include <atomic>
#include <map>
#include <mutex>

namespace sluice {

class CheckService;

struct DoorSettings
{
    QUrl upstream;                 // http://host:port[/prefix]: the request's path is appended
    QByteArray upstreamKey;        // sent as Authorization: Bearer (empty: no Authorization)
    UpstreamTimeouts timeouts;
    qint64 maxResponseBytes = 32 * 1024 * 1024;
    int maxInFlight = 1000;
    qint64 defaultMaxTokens = 1024;
};

// The door's figures over every thread, for /metrics.
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

class InferenceDoor : public QObject
{
public:
    InferenceDoor(CheckService &service, ServerContext &context, DoorSettings settings, std::shared_ptr<DoorStats> stats,
                  QObject *parent = nullptr);
    ~InferenceDoor() override;

    void install(HttpApi &api);

    // An OpenAI-shaped error body: {"error":{"message","type","param","code"}}.
    static QByteArray errorBody(const QString &message, const char *type, const char *code, const char *param = nullptr);

private:
    void proxy(DoorApi api, const char *route, const HttpRequest &request, HttpResponder responder);
    void listModels(const HttpRequest &request, HttpResponder responder);

    friend class DoorExchange;
    CheckService &m_service;
    ServerContext &m_context;
    DoorSettings m_settings;
    std::shared_ptr<DoorStats> m_stats;
    UpstreamPool m_pool;
};

} // namespace sluice
