// SPDX-License-Identifier: Apache-2.0
// The embedded default store: an exact sliding-window log per key in process memory.
// Sharded LogTables under one spin lock each; a check locks the shards of its keys in index order,
// so a multi-key check is atomic (all keys admit or none is written) and deadlock-free. Keys are
// placed by SipHash-1-3 with a per-process key: callers choose ids, and must not be able to choose
// colliding ones. A refused request writes nothing (a key holds at most `limit` unit entries).
//
// Memory is bounded twice: idle logs are freed one slot at a time by every check on each shard
// it already holds (and by housekeep(), a bounded step the server runs every 25 ms), never by a
// sweep under the locks; and at most `maxKeys` keys exist: a check that would create one more is refused
// with Status::Full (503), never an OOM kill. Reservations (design §10) are bounded by the same
// number: each lives until its leases expire (--lease-seconds), a completed one as a small marker. The bound is checked before inserting without a
// reservation, so concurrent checks may pass it by at most a few keys.
// It must never block on anything but its own shard locks.
#pragma once

#include "memory/layer.h"

#include "engine/clock.h"
#include "engine/fasthash.h"
#include "engine/uniqueids.h"
#include "engine/windowstore.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace sluice {

class MemoryWindowStore final : public WindowStore
{
public:
    static constexpr qint64 kDefaultMaxKeys = 5'000'000; // ~0.75 GiB of one-entry keys
    static constexpr int kShardCount = 64;

    explicit MemoryWindowStore(std::shared_ptr<const Clock> clock = systemClock(), QString source = QStringLiteral("memory"),
                               qint64 maxKeys = kDefaultMaxKeys);
    ~MemoryWindowStore() override;

    void check(const WindowBatch &batch, CheckCallback done) override;
    std::optional<WindowOutcome> checkAtOnce(const WindowBatch &batch) override { return checkNow(batch); }
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override;
    void reset(const QByteArray &key, DoneCallback done) override;
    void complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done) override;
    void extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done) override;
    // This process's pools (poolrules.h), on the store's clock.
    void poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done) override;
    QString source() const override;
    QJsonObject health() const override;

    // Synchronous core of check(), for the engine benchmark, the local fallback and tests.
    WindowOutcome checkNow(const WindowBatch &batch);

    // A bounded step of housekeeping: visits at most `slotsPerShard` slots of each shard (one
    // shard locked at a time) and frees the idle logs; returns how many it freed.
    int housekeep(int slotsPerShard = 256);
    // Keys held now (an atomic read; for /health, /metrics and tests).
    qint64 keyCount() const { return m_keys.load(std::memory_order_relaxed); }
    qint64 maxKeys() const { return m_maxKeys; }
    // Checks refused because the store was full.
    qint64 refusedFull() const { return m_refusedFull.load(std::memory_order_relaxed); }
    // Reservations held (completed or not, until they expire).
    qint64 reservationCount() const;
    // Synchronous cores of complete() and extend().
    ReservationOutcome completeNow(const QString &reservationId, std::optional<qint64> tokens);
    ReservationOutcome extendNow(const QString &reservationId, qint64 leaseUs);
    // Reservations made here start with this (ResilientWindowStore routes by it).
    static constexpr char kReservationTag = 'm';

private:
    struct Shard;
    struct Reservations;
    // Runs f(log) on the key's log under its shard's lock (f is not called when it has none).
    template <typename F>
    void withLog(const QByteArray &key, quint64 hash, F f);
    std::shared_ptr<const Clock> m_clock;
    QString m_source;
    qint64 m_maxKeys;
    std::unique_ptr<Shard[]> m_shards;
    std::atomic<qint64> m_keys{0};
    std::atomic<qint64> m_refusedFull{0};
    std::unique_ptr<Reservations> m_reservations;
    std::atomic<qint64> m_reservationsHeld{0};
    std::mutex m_poolMutex; // pools: stepped once a second, never on the check path
    std::unordered_map<QString, PoolRecord, FastHash> m_pools;
};

} // namespace sluice
