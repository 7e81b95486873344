// SPDX-License-Identifier: Apache-2.0
// The memory store's data: one WindowLog per key, held in a LogTable per shard. No locking here
// (the store holds the shard's lock around every call) and no clock (callers pass `now`).
//
// WindowLog is one allocation: a small header, the key's bytes right after it, and a ring of
// (timestamp, weight) entries whose first slot is inline, so a key with one entry costs one
// malloc of ~100 bytes (a std::deque per key cost ~830 bytes of RSS). The ring grows by doubling
// on the heap only for keys that hold several entries at once.
//
// LogTable is open addressing with linear probing over (hash, WindowLog*) slots: a lookup compares
// the stored hash first and the key only on a hash match. Erased slots become tombstones, cleaned
// when the table is rebuilt at insert time. Idle logs (every entry out of its window) are freed by
// expireSome(): a bounded number of slots per call from a cursor that goes round the table, so
// housekeeping is amortized over the calls and no caller ever waits on a whole-table sweep
// (like nginx's limit_req, which expires a few entries per request).
#pragma once

#include "memory/layer.h"

#include <QByteArray>
#include <QtGlobal>
#include <vector>

namespace sluice {

struct LogEntry
{
    qint64 ts;
    qint64 weight;
};

class WindowLog
{
public:
    static WindowLog *create(const QByteArray &key);
    static void destroy(WindowLog *log);
    WindowLog(const WindowLog &) = delete;
    WindowLog &operator=(const WindowLog &) = delete;

    bool hasKey(const QByteArray &key) const;
    QByteArray key() const;

    // Drops entries with ts <= now - window: an entry counts while now - window < ts <= now.
    void prune(qint64 nowUs, qint64 windowUs);
    // Makes room for one more entry (may allocate, may throw std::bad_alloc); append() after it
    // cannot fail.
    void reserveOne()
    {
        if (m_count == m_capacity)
            grow();
    }
    void append(qint64 ts, qint64 weight);
    // Like append(), but keeps the ring in time order when ts is older than the newest entry
    // (leases are stamped with their expiry; after reserveOne()).
    void insertSorted(qint64 ts, qint64 weight);
    // The entry at `ts` weighing `from` takes weight `to` (in place: it keeps its time). Entries
    // of equal time and weight are interchangeable, so any one of them will do. False when none.
    bool reweigh(qint64 ts, qint64 from, qint64 to);
    // Removes one entry at `ts` weighing `weight`; false when there is none.
    bool eraseOne(qint64 ts, qint64 weight);
    // A token bucket's log holds one entry: its TAT (ts in us, rounded up; weight the exact TAT in
    // ns). Sets it (after reserveOne() when empty) or, with tatNs <= 0, clears it.
    void setOnly(qint64 ts, qint64 weight);

    qint64 sum() const { return m_sum; }
    int size() const { return static_cast<int>(m_count); }
    bool empty() const { return m_count == 0; }
    qint64 oldest() const { return m_count ? m_ring[m_head].ts : -1; }
    qint64 newest() const { return m_count ? m_ring[(m_head + m_count - 1) & (m_capacity - 1)].ts : -1; }
    const LogEntry &at(int i) const { return m_ring[(m_head + static_cast<quint32>(i)) & (m_capacity - 1)]; }

    // The window the log was last used with: an idle log (nothing left in it) can be freed.
    qint64 windowUs = 0;
    bool idle(qint64 nowUs) const { return m_count == 0 || newest() <= nowUs - windowUs; }

private:
    explicit WindowLog(quint32 keyLength);
    ~WindowLog();
    const char *keyData() const { return reinterpret_cast<const char *>(this + 1); }
    void grow();
    // Index of the first entry with at(i).ts >= ts (entries are in time order).
    int lowerBound(qint64 ts) const;
    int find(qint64 ts, qint64 weight) const;
    LogEntry &entry(int i) { return m_ring[(m_head + static_cast<quint32>(i)) & (m_capacity - 1)]; }

    qint64 m_sum = 0;
    LogEntry *m_ring;        // &m_inline until a second entry is held at once
    quint32 m_capacity = 1;  // a power of two
    quint32 m_head = 0;
    quint32 m_count = 0;
    quint32 m_keyLength;
    LogEntry m_inline{0, 0};
    // followed by m_keyLength bytes of key
};

class LogTable
{
public:
    LogTable() = default;
    LogTable(const LogTable &) = delete;
    LogTable &operator=(const LogTable &) = delete;
    ~LogTable();

    WindowLog *find(quint64 hash, const QByteArray &key) const;
    // The key must not be present (callers find() first).
    WindowLog *insert(quint64 hash, const QByteArray &key);
    bool erase(quint64 hash, const QByteArray &key);
    // Visits at most `slots` slots, from where the previous call stopped, and frees the idle logs
    // among them; returns how many it freed.
    int expireSome(qint64 nowUs, int slots);

    size_t size() const { return m_size; }
    size_t capacity() const { return m_slots.size(); }
    // Bytes the table itself holds (slots), not counting the logs.
    size_t slotBytes() const { return m_slots.capacity() * sizeof(Slot); }

private:
    struct Slot
    {
        quint64 hash = 0;
        WindowLog *log = nullptr;
    };
    static WindowLog *tombstone() { return reinterpret_cast<WindowLog *>(alignof(WindowLog)); }
    static bool live(const Slot &s) { return s.log && s.log != tombstone(); }
    void removeAt(Slot &slot);
    void rehash(size_t atLeast);

    std::vector<Slot> m_slots;
    size_t m_mask = 0;
    size_t m_size = 0;
    size_t m_tombstones = 0;
    size_t m_cursor = 0;
};

} // namespace sluice
