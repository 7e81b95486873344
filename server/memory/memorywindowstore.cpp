// SPDX-License-Identifier: Apache-2.0
#include "memorywindowstore.h"

#include "fasthash.h"

#include <QHash>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <deque>
#include <unordered_map>

namespace sluice {

namespace {
constexpr int kShardCount = 64;

struct Entry
{
    qint64 ts;
    qint64 weight;
};

} // namespace

struct MemoryWindowStore::Log
{
    std::deque<Entry> entries;
    qint64 sum = 0;
    qint64 windowUs = 0;

    // Drops entries with t <= now - window: an entry counts while now - window < t <= now.
    void prune(qint64 nowUs, qint64 window)
    {
        const qint64 horizon = nowUs - window;
        while (!entries.empty() && entries.front().ts <= horizon) {
            sum -= entries.front().weight;
            entries.pop_front();
        }
    }
    qint64 oldest() const { return entries.empty() ? -1 : entries.front().ts; }
};

namespace {
// Critical sections here are a few hundred nanoseconds: spinning (then yielding) beats parking
// a thread in the kernel, and an uncontended lock is one atomic exchange.
class SpinLock
{
public:
    void lock()
    {
        for (int spins = 0; m_locked.exchange(true, std::memory_order_acquire); ++spins) {
            while (m_locked.load(std::memory_order_relaxed)) {
                if (++spins > 64)
                    std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
                else
                    __builtin_ia32_pause();
#endif
            }
        }
    }
    void unlock() { m_locked.store(false, std::memory_order_release); }

private:
    std::atomic<bool> m_locked{false};
};
} // namespace

struct MemoryWindowStore::Shard
{
    SpinLock mutex;
    std::unordered_map<QByteArray, Log, FastHash> logs;
};

MemoryWindowStore::MemoryWindowStore(std::shared_ptr<const Clock> clock, QString source)
    : m_clock(std::move(clock)), m_source(std::move(source)), m_shards(new Shard[kShardCount])
{
}

MemoryWindowStore::~MemoryWindowStore() = default;

QString MemoryWindowStore::source() const { return m_source; }

WindowOutcome MemoryWindowStore::checkNow(const WindowBatch &batch)
{
    const size_t n = batch.keys.size();
    WindowOutcome out;
    out.source = m_source;
    out.keys.resize(n);

    // Lock every shard the batch touches, in index order (deadlock-free, atomic over all keys).
    constexpr size_t kInline = 8;
    int shardOf[kInline];
    std::vector<int> shardOfHeap;
    int *shards = shardOf;
    if (n > kInline) {
        shardOfHeap.resize(n);
        shards = shardOfHeap.data();
    }
    for (size_t i = 0; i < n; ++i)
        shards[i] = static_cast<int>((FastHash()(batch.keys[i].key) >> 40) % kShardCount);
    int orderInline[kInline];
    std::vector<int> orderHeap;
    int *order = orderInline;
    if (n > kInline) {
        orderHeap.resize(n);
        order = orderHeap.data();
    }
    std::copy(shards, shards + n, order);
    std::sort(order, order + n);
    const size_t locked = static_cast<size_t>(std::unique(order, order + n) - order);
    for (size_t i = 0; i < locked; ++i)
        m_shards[order[i]].mutex.lock();

    const qint64 now = m_clock->nowUs();
    out.nowUs = now;
    bool admitted = true;
    Log *logs[kInline];
    std::vector<Log *> logsHeap;
    Log **found = logs;
    if (n > kInline) {
        logsHeap.resize(n);
        found = logsHeap.data();
    }
    for (size_t i = 0; i < n; ++i) {
        const WindowSpec &spec = batch.keys[i];
        auto &map = m_shards[shards[i]].logs;
        auto it = map.find(spec.key);
        found[i] = it == map.end() ? nullptr : &it->second;
        if (found[i]) {
            found[i]->prune(now, spec.windowUs);
            out.keys[i] = {found[i]->sum, found[i]->oldest()};
        }
        if (out.keys[i].used + batch.cost > spec.limit)
            admitted = false;
    }
    if (admitted) {
        for (size_t i = 0; i < n; ++i) {
            Log *log = found[i];
            if (!log)
                log = &m_shards[shards[i]].logs[batch.keys[i].key];
            log->entries.push_back({now, batch.cost});
            log->sum += batch.cost;
            log->windowUs = batch.keys[i].windowUs;
        }
    }
    out.admitted = admitted;

    for (size_t i = locked; i-- > 0;)
        m_shards[order[i]].mutex.unlock();
    return out;
}

void MemoryWindowStore::check(const WindowBatch &batch, CheckCallback done)
{
    done(checkNow(batch));
}

void MemoryWindowStore::usage(const std::vector<WindowSpec> &keys, UsageCallback done)
{
    std::vector<KeyUsage> result;
    result.reserve(keys.size());
    for (const WindowSpec &spec : keys) {
        Shard &shard = m_shards[(FastHash()(spec.key) >> 40) % kShardCount];
        std::lock_guard<SpinLock> lock(shard.mutex);
        const qint64 now = m_clock->nowUs();
        KeyUsage u{spec.key, 0, -1, now};
        auto it = shard.logs.find(spec.key);
        if (it != shard.logs.end()) {
            it->second.prune(now, spec.windowUs);
            u.used = it->second.sum;
            u.oldestUs = it->second.oldest();
        }
        result.push_back(u);
    }
    done(true, std::move(result));
}

void MemoryWindowStore::reset(const QByteArray &key, DoneCallback done)
{
    Shard &shard = m_shards[(FastHash()(key) >> 40) % kShardCount];
    {
        std::lock_guard<SpinLock> lock(shard.mutex);
        shard.logs.erase(key);
    }
    done(true);
}

int MemoryWindowStore::evictIdle()
{
    int dropped = 0;
    for (int s = 0; s < kShardCount; ++s) {
        std::lock_guard<SpinLock> lock(m_shards[s].mutex);
        const qint64 now = m_clock->nowUs();
        auto &logs = m_shards[s].logs;
        for (auto it = logs.begin(); it != logs.end();) {
            Log &log = it->second;
            if (log.entries.empty() || log.entries.back().ts <= now - log.windowUs) {
                it = logs.erase(it);
                ++dropped;
            } else {
                ++it;
            }
        }
    }
    return dropped;
}

qint64 MemoryWindowStore::keyCount() const
{
    qint64 n = 0;
    for (int s = 0; s < kShardCount; ++s) {
        std::lock_guard<SpinLock> lock(m_shards[s].mutex);
        n += static_cast<qint64>(m_shards[s].logs.size());
    }
    return n;
}

} // namespace sluice
