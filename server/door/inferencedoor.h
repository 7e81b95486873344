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

#include "door/doorstats.h"
#include "door/tokenestimate.h"
#include "door/upstreamclient.h"
#include "http/httpapi.h"
#include "http/servercontext.h"

#include <QObject>
#include <QUrl>

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
