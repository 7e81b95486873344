// SPDX-License-Identifier: Apache-2.0
// The sliding-window-log store interface (design §4). Asynchronous so that the memory, Redis and
// Redis Cluster stores fit behind it unchanged: the callback runs on the calling thread, exactly
// once, either before check() returns (memory) or later from that thread's event loop (Redis).
//
// Semantics every store must share (the data-driven store suite holds them to it), each kind's rules
// stated once in windowrules.h (the kinds: windowkind.h):
// - an entry counts while its timestamp t satisfies now - window < t <= now;
// - a request is admitted only if it fits every key (window::fits: for a log, used + weight <=
//   limit); then one entry of the key's weight is appended to every key; a refused request writes
//   nothing; a store reports what it found per key (KeyState) and judges nothing else;
// - entries carry their weight; `used` is the weight sum of the counted entries;
// - a lease key (a concurrent policy) holds one entry per lease, stamped with its expiry: it
//   counts while now < expiry, until completion releases it (design §10);
// - a bucket key (a token bucket, design §11) holds one theoretical arrival time (TAT): a request
//   of weight w fits when max(TAT, now) + w·T − now <= burst·T (T = window / limit per token),
//   and then moves TAT there; KeyState.used is the tokens drained (rounded up), oldestUs the TAT;
// - a log key (requests, tokens, leases) holds at most kMaxLogEntries entries (unit.h): a request
//   that would add one more does not fit it, and KeyState.full says why;
// - a shadow key never refuses anything: an admitted request is added to it only where it fits
//   (as if it were enforced alone: what it would have refused leaves no trace);
// - an admitted batch with any lease or reweighable key makes a reservation: an id the store can
//   find again (from any instance sharing it) to complete (reweigh the token entries in place,
//   release the leases) or extend (renew the leases) until it expires with its leases.
#pragma once

#include "engine/layer.h"

#include "engine/poolrules.h"
#include "engine/windowkind.h"
#include "unit.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <functional>
#include <optional>
#include <vector>

namespace sluice {

struct WindowSpec
{
    QByteArray key;       // from window::specFor(): the scope's key + its kind's suffix (windowkey.h)
    qint64 windowUs = 0;  // window length in microseconds (> 0); 0 for leases
    qint64 limit = 0;     // >= 0 (a bucket: tokens refilled per window)
    qint64 weight = 1;    // the entry this request adds: 1, or its token cost (reweighable)
    WindowKind kind = WindowKind::RequestLog; // what the key holds and its rules (windowkind.h)
    qint64 burst = 0;     // a bucket's capacity (>= 1)
    bool shadow = false;  // never refuses (see above)

    const WindowKindInfo &info() const { return kindInfo(kind); }
    bool isLog() const { return info().log; }
    bool isLease() const { return info().lease; }
    bool isBucket() const { return info().bucket; }
    bool reweighable() const { return info().reweighable; }
    // A bucket's refill: microseconds per token (infinite for limit 0).
    double usPerToken() const { return limit > 0 ? static_cast<double>(windowUs) / static_cast<double>(limit) : 1e300; }
};

// The most keys one check has: a key per scope and unit (6 scopes × 3 units).
inline constexpr size_t kMaxKeysPerCheck = 6 * 3;

struct WindowBatch
{
    std::vector<WindowSpec> keys;
    qint64 leaseUs = 600'000'000; // how long leases (and the reservation) live unless extended
    bool reserves() const
    {
        for (const WindowSpec &s : keys) {
            if (s.isLease() || s.reweighable())
                return true;
        }
        return false;
    }
};

struct KeyState
{
    qint64 used = 0;      // weight counted in the window before this request
    // Timestamp of the oldest counted entry before this request; -1 when none. A store may leave
    // it -1 for keys the decision does not read (neither the admitted primary nor violated).
    qint64 oldestUs = -1;
    // The key's log holds kMaxLogEntries entries: the request does not fit it, whatever its limit.
    bool full = false;
    // The store's judgement (windowrules.h): the request fits this key. (A shadow key's request is
    // written only where it fits; a check is admitted when every other key fits.)
    bool fits = true;
};

struct WindowOutcome
{
    // Unavailable: the store could not answer; Full: it would have to hold more keys than its bound.
    enum class Status { Ok, Unavailable, Full };
    Status status = Status::Ok;
    QString error;                // for Unavailable: why (timeout, connection refused, …)
    bool admitted = false;
    qint64 nowUs = 0;             // the store's clock at the decision (Redis TIME for Redis)
    std::vector<KeyState> keys;   // one per WindowBatch::keys, same order
    QString source;               // "memory", "redis", "redis-cluster", "local", "fail-open"
    QString reservationId;        // admitted and WindowBatch::reserves(): the reservation made
    qint64 leaseExpiresUs = 0;    // when it expires (the store's clock)
};

// What became of a complete or an extend.
struct ReservationOutcome
{
    enum class Status { Done, AlreadyCompleted, NotFound, Unavailable };
    Status status = Status::Done;
    QString error;              // for Unavailable
    qint64 leaseExpiresInUs = 0; // extend: until the renewed leases expire
};

struct KeyUsage
{
    QByteArray key;
    qint64 used = 0;
    qint64 oldestUs = -1;
    qint64 nowUs = 0;
};

// What a store says about itself, typed: /metrics and /health's totals read these fields, never
// the names of its health() JSON (which /health shows as it is, under store.threads).
struct StoreStatus
{
    QString source;             // "memory", "redis", "redis-cluster"
    bool ok = true;             // healthy ("status": "ok")
    bool connected = true;      // a shared store: connected (a Cluster: to every node)
    qint64 inFlight = 0;        // calls waiting for their reply
    bool hasBreaker = false;    // behind a circuit breaker (ResilientWindowStore):
    int breakerState = 0;       //   0 closed, 1 half-open, 2 open
    qint64 breakerOpens = 0;
    qint64 fallbacks = 0;       //   checks the failure mode answered
    QString failureMode;
    bool shared = false;        // a shared store's script calls (Redis, Cluster):
    qint64 calls = 0;           //   check calls (a batch each)
    qint64 batchedChecks = 0;   //   checks (or Cluster slot groups) they decided
    qint64 failedCalls = 0;     //   failed, timeouts included
    qint64 timedOutCalls = 0;
    bool followsSentinel = false;
    qint64 primaryChanges = 0;  //   failovers followed
    QString lastError;
    QJsonObject health;         // health(), as /health shows it
};

class WindowStore
{
public:
    using CheckCallback = std::function<void(WindowOutcome)>;
    using UsageCallback = std::function<void(bool ok, std::vector<KeyUsage>)>;
    using DoneCallback = std::function<void(bool ok)>;
    using ReservationCallback = std::function<void(ReservationOutcome)>;
    // The pool's state, or nullopt and why not.
    using PoolCallback = std::function<void(std::optional<PoolState>, const QString &error)>;

    virtual ~WindowStore() = default;

    virtual void check(const WindowBatch &batch, CheckCallback done) = 0;
    // A store that decides in this process (memory) decides here, at once, as check() would; one
    // that must ask another (Redis) answers nothing, and the check goes through check(). (The hot
    // path: no callback to allocate, nothing to keep alive until an answer comes.)
    virtual std::optional<WindowOutcome> checkAtOnce(const WindowBatch &batch)
    {
        Q_UNUSED(batch);
        return std::nullopt;
    }
    // Current usage of keys without recording anything (admin usage, live charts).
    virtual void usage(const std::vector<WindowSpec> &keys, UsageCallback done) = 0;
    // The end of a reservation's request: its reweighable entries take `tokens` as their weight
    // (absent: they keep the estimate; the entry keeps its time), its leases are released. A
    // second completion changes nothing (AlreadyCompleted); unknown or expired: NotFound.
    virtual void complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done) = 0;
    // Renews a reservation's leases (and the reservation) for leaseUs from now. A completed one is
    // AlreadyCompleted; unknown or expired: NotFound.
    virtual void extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done) = 0;
    // The load controller of a GPU pool (design §14, poolrules.h) keeps its state with the store, so
    // that every instance sharing the store applies one factor: folds this instance's reading in,
    // steps the factor when a step is due (the store's clock), answers the pool's state.
    virtual void poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done)
    {
        Q_UNUSED(pool);
        Q_UNUSED(reading);
        Q_UNUSED(params);
        done(std::nullopt, QStringLiteral("%1 keeps no pool state").arg(source()));
    }
    // Forgets a key's log (admin reset).
    virtual void reset(const QByteArray &key, DoneCallback done) = 0;
    // "memory", "redis", "redis-cluster"
    virtual QString source() const = 0;
    // State for /health (connection, breaker, …); {} when there is nothing to say.
    virtual QJsonObject health() const { return {}; }
    // The same, typed (a store with counters of its own overrides it).
    virtual StoreStatus status() const
    {
        StoreStatus s;
        s.source = source();
        s.health = health();
        return s;
    }
};

} // namespace sluice
