// SPDX-License-Identifier: Apache-2.0
// The answer of POST /rate-limit/check (design §3), the same body for 200 and 429. The server
// writes it (fast, by hand), the console and tests read it back.
#pragma once

#include "priority.h"
#include "scope.h"
#include "unit.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <optional>

namespace sluice {

class TextBuffer;

struct PolicyUsage
{
    Scope scope = Scope::Global;
    QString label;          // "tenant enterprise_co"
    QByteArray key;         // the window key
    qint64 limit = 0;
    qint64 count = 0;       // the count this request makes (or would have made, when blocked)
    qint64 windowSeconds = 0; // 0 for a concurrent policy (no window)
    Unit unit = Unit::Requests;
    Algorithm algorithm = Algorithm::SlidingLog; // a token bucket's limit is its capacity (burst)
    bool shadow = false;      // evaluated and reported, never blocks, never the primary
    qint64 remaining = 0;     // left after this request (allowed) or as it stands (refused)
    qint64 resetSeconds = 0;  // until the oldest counted entry leaves (concurrent: the earliest lease expires)
    bool violated = false;
};

// The GPU pool of the request's model (design §14), as the check found it.
struct PoolDecision
{
    QString name;
    double saturation = 0;
    double factor = 1;      // the pool's: adaptive limits of standard and sheddable callers are scaled by it
    Priority priority = Priority::Standard; // the caller's class
    bool stale = true;      // no fresh load signal: static limits, nothing shed
    bool shed = false;      // refused because the pool is saturated (sheddable traffic paused)
};

struct Decision
{
    bool allowed = false;
    qint64 limit = 0;
    qint64 count = 0;
    qint64 remaining = 0;
    qint64 windowSeconds = 0;
    qint64 resetSeconds = 0;
    qint64 retryAfterSeconds = 0;
    QString modelTier;      // from the registry; null for an unknown model
    QString cause;          // null when allowed
    QString source;         // memory, redis, redis-cluster, local, fail-open
    std::optional<PolicyUsage> primary;
    QList<PolicyUsage> policies; // every applicable policy, most specific first
    // Set when a tokens or concurrent policy applied to an admitted request (design §10): the id
    // to complete or extend, and when its leases (and the reservation) expire.
    QString reservationId;
    qint64 leaseExpiresInSeconds = 0;
    std::optional<PoolDecision> pool; // set when the model is in a pool

    QByteArray toJson() const;
    // The same bytes at the end of `out` (the hot path's reused buffer).
    void writeJson(TextBuffer &out) const;
    static std::optional<Decision> fromJson(const QByteArray &json);
};

// The policy that binds, an index into `policies` (-1 when none is enforced): the most specific
// violated one, else the enforced one nearest its limit by share (a tokens policy at 900/1000
// binds before requests at 2/10; ties keep the more specific). Shadow policies never bind.
int bindingPolicy(const QList<PolicyUsage> &policies);

// The rate-limit headers of an answer (IETF RateLimit/RateLimit-Policy, X-RateLimit-*, the
// OpenAI-style x-ratelimit-{limit,remaining,reset}-{requests,tokens} per unit, and Retry-After
// when refused; X-Sluice-Reservation and X-Sluice-Lease-Expires-In when the check reserved) as ready "Name: value\r\n" lines: one formatting for every door (the
// HTTP check and forward-auth send them as they are, the gRPC door splits them into header values).
// withReservation false: without the two X-Sluice reservation lines (the inference door settles the
// reservation itself: a client that had its id could complete it for 0 tokens).
QByteArray decisionHeaderLines(const Decision &d, qint64 nowEpochSeconds, bool withReservation = true);
// The same lines at the end of `out`.
void appendDecisionHeaderLines(TextBuffer &out, const Decision &d, qint64 nowEpochSeconds, bool withReservation = true);

} // namespace sluice
