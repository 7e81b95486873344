// SPDX-License-Identifier: Apache-2.0
// The embedded default store: an exact sliding-window log per key in process memory.
// Sharded maps under one spin lock each; a check locks the shards of its keys in index order, so a
// multi-key check is atomic (all keys admit or none is written) and deadlock-free. Per key a ring
// of (timestamp, weight) entries and the weight sum; entries are pruned on access, a refused
// request writes nothing (so a key holds at most `limit` unit entries), and evictIdle() drops keys
// whose every entry has left its window, so memory stays bounded by the live keys.
// It must never block on anything but its own shard mutexes.
#pragma once

#include "clock.h"
#include "windowstore.h"

#include <memory>

namespace sluice {

class MemoryWindowStore final : public WindowStore
{
public:
    explicit MemoryWindowStore(std::shared_ptr<const Clock> clock = systemClock(), QString source = QStringLiteral("memory"));
    ~MemoryWindowStore() override;

    void check(const WindowBatch &batch, CheckCallback done) override;
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override;
    void reset(const QByteArray &key, DoneCallback done) override;
    QString source() const override;

    // Synchronous core of check(), for the engine benchmark and the callback-free fast path.
    WindowOutcome checkNow(const WindowBatch &batch);

    // Drops keys with no entry left in their window; returns how many were dropped.
    int evictIdle();
    // Number of keys held (for tests and /metrics).
    qint64 keyCount() const;

    struct Log; // opaque: one key's log (defined in the .cpp)

private:
    struct Shard;
    std::shared_ptr<const Clock> m_clock;
    QString m_source;
    std::unique_ptr<Shard[]> m_shards;
};

} // namespace sluice
