// SPDX-License-Identifier: Apache-2.0
// Batched checks (design §4): the checks that wait for the same connection (single-node Redis) or
// the same slot (Redis Cluster) go to Redis as one window_check.lua call that decides them in
// order, each seeing the entries of those before it — exact and atomic, with the per-call cost
// (EVALSHA, TIME, argument parsing, pruning the shared keys) paid once per batch.
// A check that waited longer than the call timeout for a call, or finds 20,000 waiting, fails
// (Unavailable: the breaker and the failure mode take it from there).
// Checks go at the end of the event loop's current turn: those read in the same turn go together,
// and a lone check goes as soon as its request has been handled (no timer, no added latency at low
// load). While two calls are in flight (pipelined: Redis works on one while the other travels) the
// next checks queue, and go together when one comes back: under load batches form by themselves.
// The send runs from an event of the batcher's own, never inside a connection's callback, so the
// store may write the call to its socket at once (RedisConnection::writeNow). At most maxChecks checks in one
// call, and never one key with two different policies in one call (a policy edited mid-batch waits
// for the next call).
// A call that timed out (its checks were answered Unavailable, and the failure mode answered their
// callers) may still run in Redis: what it did then is reported to the store's `late` handler,
// check by check, so that the store can take back what nobody was told was admitted.
// Lives on, and must be used from, its store's thread.
#pragma once

#include "redis/layer.h"

#include "redis/redisconnection.h"
#include "engine/windowstore.h"

#include <QObject>
#include <deque>
#include <functional>

namespace sluice {

class CheckBatcher
{
public:
    struct Result
    {
        QString error;                         // not empty: the call failed (every check of it)
        qint64 nowUs = 0;                      // Redis TIME of the call: the time of its entries
        bool admitted = false;
        std::vector<KeyState> keys;            // one per Item::specs, same order
        RedisConnection *answeredBy = nullptr; // where to take an admission back (Cluster)
        // Key k got the check's entry: an admitted check is written where it fits (a shadow key
        // that would refuse is not).
        bool wrote(size_t k) const { return admitted && k < keys.size() && keys[k].fits; }
    };
    struct Item
    {
        std::vector<WindowSpec> specs;
        QByteArray id;
        qint64 leaseUs = 0;
        QByteArray recordKey; // the reservation record the script writes; empty: none
        std::function<void(Result)> done;
        qint64 queuedAtMs = 0; // (set by submit)
    };
    using SendCallback = std::function<void(const RedisResult &, RedisConnection *answeredBy, const QString &error)>;
    // Sends an EVALSHA of window_check.lua, in Redis's protocol (RespCommand; NOSCRIPT and
    // redirections are its business); `late` as RedisConnection's: what a call that `done` was
    // told had timed out did after all.
    using Send = std::function<void(const QByteArray &resp, SendCallback done, SendCallback late)>;
    // For each check of a timed-out call: its result after all (admitted, nowUs, wrote()), or, with
    // an error, that its outcome will never be known (the connection went first).
    using Late = std::function<void(const Item &item, const Result &result)>;

    static constexpr int kDefaultMaxChecks = 64;
    // More checks than this waiting: the next ones fail at once (Redis cannot keep up).
    static constexpr size_t kMaxQueued = 20'000;
    explicit CheckBatcher(Send send, int maxChecks = kDefaultMaxChecks) : m_send(std::move(send)), m_maxChecks(std::max(1, maxChecks)) {}
    CheckBatcher(const CheckBatcher &) = delete;
    CheckBatcher &operator=(const CheckBatcher &) = delete;

    void submit(Item item);
    void setLate(Late late) { m_late = std::move(late); }
    void setMaxChecks(int maxChecks) { m_maxChecks = std::max(1, maxChecks); }
    // A check that waited this long for its call to be sent fails instead (Unavailable), like a
    // call that timed out: a slow or stuck Redis never grows the queue without end.
    void setQueueTimeoutMs(int ms) { m_queueTimeoutMs = ms; }
    // Calls in flight at once (pipelined on the connection; Redis runs them in order).
    static constexpr int kMaxInFlight = 2;

    qint64 calls() const { return m_calls; }
    qint64 failedCalls() const { return m_failedCalls; }   // an error or a timeout
    qint64 timedOutCalls() const { return m_timedOutCalls; }
    qint64 checks() const { return m_checks; }
    int queued() const { return static_cast<int>(m_queue.size()); }

private:
    void flush();     // sends calls while fewer than kMaxInFlight are out and checks wait
    void sendOne();   // one call of the checks at the front of the queue
    void scheduleFlush();

    Send m_send;
    Late m_late;
    int m_maxChecks;
    int m_queueTimeoutMs = 50;
    std::deque<Item> m_queue;
    QObject m_tick; // context of the posted flush: deleted with the batcher, which drops it
    bool m_flushPosted = false;
    int m_inFlight = 0;
    qint64 m_calls = 0;
    qint64 m_failedCalls = 0;
    qint64 m_timedOutCalls = 0;
    qint64 m_checks = 0;
};

// The most keys one check may have in window_check.lua: its admission and two masks (2n + 1 bits)
// are one exact Lua number (a double).
inline constexpr size_t kMaxKeysPerScriptCheck = 26;
static_assert(kMaxKeysPerCheck <= kMaxKeysPerScriptCheck, "a check's keys must fit the script's masks");

// Decodes window_check.lua's reply {now, then per check of n keys: admitted + 2 * fits mask +
// 2^(n+1) * full mask, used_1, oldest_1, …} for checks of keysPerCheck keys each: false when the
// reply is not of that shape.
bool decodeBatchReply(const RedisReply &reply, const std::vector<size_t> &keysPerCheck, qint64 *now,
                      std::vector<bool> *admitted, std::vector<std::vector<KeyState>> *states);

} // namespace sluice
