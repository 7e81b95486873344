// SPDX-License-Identifier: Apache-2.0
// Envoy's rate limit service over gRPC (design §12): envoy.service.ratelimit.v3.RateLimitService/
// ShouldRateLimit on --grpc-port, so Envoy, Istio, Envoy Gateway, Contour and Emissary use Sluice
// unchanged. gRPC runs on its own threads (the callback API: no thread waits for a decision); each
// call is handed to the check path through `dispatch`, which runs it on an HTTP thread's event loop
// and answers there; the answer finishes the call from that thread.
//
// Mapping: the entries of all descriptors of one request (keys tenant, user, api_key, model, tier;
// other keys ignored) form one identity and one atomic Sluice check; two different values for one
// key are INVALID_ARGUMENT. The cost is the descriptor-level hits_addend where a descriptor sets
// it (set to 0: look without charging), else the request-level one (0 or absent: 1). Every
// descriptor's status carries the decision's primary policy: its limit (requests_per_unit, with a
// unit when the window is a second, minute, hour or day), remaining and duration_until_reset;
// response_headers_to_add carries the same rate-limit headers as the HTTP check.
//
// Bounds, like the HTTP door's (the port is unauthenticated): a message of at most 64 KiB (gRPC's
// RESOURCE_EXHAUSTED above), at most kMaxDescriptors descriptors of at most kMaxEntries entries, a
// domain, key or value of at most kMaxStringBytes bytes (INVALID_ARGUMENT naming the bound), ids as
// the check contract's (128 characters, valid UTF-8). A refused call counts in
// sluice_rejected_requests_total like the other doors' refusals.
#pragma once

#include "grpc/layer.h"

#include "checkrequest.h"
#include "decision.h"

#include <QHostAddress>
#include <functional>
#include <memory>

namespace sluice {

class GrpcDoor
{
public:
    // Runs a check (or a look, when peek) on a thread of the check path; `done` is called exactly
    // once, on that thread, with an error or the decision.
    using Dispatch = std::function<void(const CheckRequest &request, bool peek,
                                        std::function<void(const ApiError *error, const Decision &decision)> done)>;

    static constexpr int kMaxMessageBytes = 64 * 1024;
    static constexpr int kMaxDescriptors = 64;
    static constexpr int kMaxEntries = 16;
    static constexpr size_t kMaxStringBytes = 1024;

    // rejected(status): a call refused with the HTTP status that its gRPC code stands for.
    GrpcDoor(Dispatch dispatch, std::function<void(int status)> rejected);
    ~GrpcDoor();
    GrpcDoor(const GrpcDoor &) = delete;
    GrpcDoor &operator=(const GrpcDoor &) = delete;

    // Listens on address:port (0: a free port); false and *error when it cannot.
    bool start(const QHostAddress &address, quint16 port, QString *error);
    quint16 port() const;
    // Stops accepting, finishes what is in flight (bounded), joins gRPC's threads.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace sluice
