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
    QByteArray key;
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

// Open addressing with linear probing over (hash, Log*) slots: a lookup compares the stored hash
// first and touches the key only on a hash match, and the hash computed once per key (it also
// picks the shard) is reused. Erased slots become tombstones; the table is rebuilt when they pile up.
class LogTable
{
public:
    using Log = MemoryWindowStore::Log;

    ~LogTable() { clear(); }

    Log *find(quint64 hash, const QByteArray &key) const
    {
        if (m_slots.empty())
            return nullptr;
        for (size_t i = hash & m_mask;; i = (i + 1) & m_mask) {
            const Slot &slot = m_slots[i];
            if (!slot.log)
                return nullptr;
            if (slot.log != tombstone() && slot.hash == hash && slot.log->key == key)
                return slot.log;
        }
    }

    // The key must not be present (callers find() first).
    Log *insert(quint64 hash, const QByteArray &key)
    {
        if ((m_size + m_tombstones + 1) * 4 > m_slots.size() * 3)
            rehash(std::max<size_t>(16, (m_size + 1) * 2));
        auto *log = new Log;
        log->key = key;
        for (size_t i = hash & m_mask;; i = (i + 1) & m_mask) {
            Slot &slot = m_slots[i];
            if (!slot.log || slot.log == tombstone()) {
                if (slot.log == tombstone())
                    --m_tombstones;
                slot = {hash, log};
                ++m_size;
                return log;
            }
        }
    }

    bool erase(quint64 hash, const QByteArray &key)
    {
        if (m_slots.empty())
            return false;
        for (size_t i = hash & m_mask;; i = (i + 1) & m_mask) {
            Slot &slot = m_slots[i];
            if (!slot.log)
                return false;
            if (slot.log != tombstone() && slot.hash == hash && slot.log->key == key) {
                removeAt(slot);
                return true;
            }
        }
    }

    template <typename Pred>
    int eraseIf(Pred pred)
    {
        int n = 0;
        for (Slot &slot : m_slots) {
            if (slot.log && slot.log != tombstone() && pred(*slot.log)) {
                removeAt(slot);
                ++n;
            }
        }
        if (m_tombstones > m_slots.size() / 4)
            rehash(std::max<size_t>(16, m_size * 2));
        return n;
    }

    size_t size() const { return m_size; }

private:
    struct Slot
    {
        quint64 hash = 0;
        Log *log = nullptr;
    };
    static Log *tombstone() { return reinterpret_cast<Log *>(alignof(Log)); }

    void removeAt(Slot &slot)
    {
        delete slot.log;
        slot.log = tombstone();
        --m_size;
        ++m_tombstones;
    }

    void rehash(size_t atLeast)
    {
        size_t capacity = 16;
        while (capacity < atLeast)
            capacity *= 2;
        std::vector<Slot> old = std::move(m_slots);
        m_slots.assign(capacity, Slot());
        m_mask = capacity - 1;
        m_tombstones = 0;
        for (const Slot &slot : old) {
            if (!slot.log || slot.log == tombstone())
                continue;
            size_t i = slot.hash & m_mask;
            while (m_slots[i].log)
                i = (i + 1) & m_mask;
            m_slots[i] = slot;
        }
    }

    void clear()
    {
        for (Slot &slot : m_slots) {
            if (slot.log && slot.log != tombstone())
                delete slot.log;
        }
        m_slots.clear();
        m_size = m_tombstones = 0;
    }

    std::vector<Slot> m_slots;
    size_t m_mask = 0;
    size_t m_size = 0;
    size_t m_tombstones = 0;
};

struct MemoryWindowStore::Shard
{
    SpinLock mutex;
    LogTable logs;
};

namespace {
// One hash per key: its high bits pick the shard, the whole of it places the key in the table.
inline quint64 keyHash(const QByteArray &key) { return FastHash()(key); }
inline int shardOf(quint64 hash) { return static_cast<int>((hash >> 40) % kShardCount); }
} // namespace

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
    int shardInline[kInline];
    quint64 hashInline[kInline];
    std::vector<int> shardHeap;
    std::vector<quint64> hashHeap;
    int *shards = shardInline;
    quint64 *hashes = hashInline;
    if (n > kInline) {
        shardHeap.resize(n);
        hashHeap.resize(n);
        shards = shardHeap.data();
        hashes = hashHeap.data();
    }
    for (size_t i = 0; i < n; ++i) {
        hashes[i] = keyHash(batch.keys[i].key);
        shards[i] = shardOf(hashes[i]);
    }
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
        found[i] = m_shards[shards[i]].logs.find(hashes[i], spec.key);
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
                log = m_shards[shards[i]].logs.insert(hashes[i], batch.keys[i].key);
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
        const quint64 hash = keyHash(spec.key);
        Shard &shard = m_shards[shardOf(hash)];
        std::lock_guard<SpinLock> lock(shard.mutex);
        const qint64 now = m_clock->nowUs();
        KeyUsage u{spec.key, 0, -1, now};
        if (Log *log = shard.logs.find(hash, spec.key)) {
            log->prune(now, spec.windowUs);
            u.used = log->sum;
            u.oldestUs = log->oldest();
        }
        result.push_back(u);
    }
    done(true, std::move(result));
}

void MemoryWindowStore::reset(const QByteArray &key, DoneCallback done)
{
    const quint64 hash = keyHash(key);
    Shard &shard = m_shards[shardOf(hash)];
    {
        std::lock_guard<SpinLock> lock(shard.mutex);
        shard.logs.erase(hash, key);
    }
    done(true);
}

int MemoryWindowStore::evictIdle()
{
    int dropped = 0;
    for (int s = 0; s < kShardCount; ++s) {
        std::lock_guard<SpinLock> lock(m_shards[s].mutex);
        const qint64 now = m_clock->nowUs();
        dropped += m_shards[s].logs.eraseIf(
            [now](const Log &log) { return log.entries.empty() || log.entries.back().ts <= now - log.windowUs; });
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
