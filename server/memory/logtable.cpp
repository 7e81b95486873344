// SPDX-License-Identifier: Apache-2.0
#include "memory/logtable.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace sluice {

WindowLog::WindowLog(quint32 keyLength) : m_ring(&m_inline), m_keyLength(keyLength) {}

WindowLog::~WindowLog()
{
    if (m_ring != &m_inline)
        std::free(m_ring);
}

WindowLog *WindowLog::create(const QByteArray &key)
{
    const auto length = static_cast<quint32>(key.size());
    void *memory = ::operator new(sizeof(WindowLog) + length);
    auto *log = new (memory) WindowLog(length);
    std::memcpy(reinterpret_cast<char *>(log + 1), key.constData(), length);
    return log;
}

void WindowLog::destroy(WindowLog *log)
{
    log->~WindowLog();
    ::operator delete(log);
}

bool WindowLog::hasKey(const QByteArray &key) const
{
    return static_cast<quint32>(key.size()) == m_keyLength && std::memcmp(keyData(), key.constData(), m_keyLength) == 0;
}

QByteArray WindowLog::key() const { return QByteArray(keyData(), static_cast<qsizetype>(m_keyLength)); }

void WindowLog::prune(qint64 nowUs, qint64 window)
{
    const qint64 horizon = nowUs - window;
    while (m_count && m_ring[m_head].ts <= horizon) {
        m_sum -= m_ring[m_head].weight;
        m_head = (m_head + 1) & (m_capacity - 1);
        --m_count;
    }
    if (!m_count)
        m_head = 0;
}

// Called when the ring is full. realloc keeps what is there (for a large ring glibc moves the
// pages with mremap: no copy, no new page faults for them), then the part that had wrapped round
// to the front moves up behind the rest, so the entries are contiguous from m_head again.
void WindowLog::grow()
{
    const quint32 capacity = m_capacity * 2;
    if (m_ring == &m_inline) {
        auto *ring = static_cast<LogEntry *>(std::malloc(capacity * sizeof(LogEntry)));
        if (!ring)
            throw std::bad_alloc();
        ring[0] = m_inline;
        m_ring = ring;
        m_head = 0;
    } else {
        auto *ring = static_cast<LogEntry *>(std::realloc(m_ring, capacity * sizeof(LogEntry)));
        if (!ring)
            throw std::bad_alloc();
        std::memcpy(ring + m_capacity, ring, m_head * sizeof(LogEntry));
        m_ring = ring;
    }
    m_capacity = capacity;
}

void WindowLog::append(qint64 ts, qint64 weight)
{
    if (m_count == m_capacity)
        grow();
    m_ring[(m_head + m_count) & (m_capacity - 1)] = {ts, weight};
    ++m_count;
    m_sum += weight;
}

void WindowLog::insertSorted(qint64 ts, qint64 weight)
{
    append(ts, weight);
    for (int i = size() - 1; i > 0 && entry(i - 1).ts > ts; --i)
        std::swap(entry(i - 1), entry(i));
}

int WindowLog::lowerBound(qint64 ts) const
{
    int lo = 0, hi = size();
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (at(mid).ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int WindowLog::find(qint64 ts, qint64 weight) const
{
    for (int i = lowerBound(ts); i < size() && at(i).ts == ts; ++i) {
        if (at(i).weight == weight)
            return i;
    }
    return -1;
}

bool WindowLog::reweigh(qint64 ts, qint64 from, qint64 to)
{
    const int i = find(ts, from);
    if (i < 0)
        return false;
    entry(i).weight = to;
    m_sum += to - from;
    return true;
}

bool WindowLog::eraseOne(qint64 ts, qint64 weight)
{
    const int i = find(ts, weight);
    if (i < 0)
        return false;
    for (int j = i; j + 1 < size(); ++j)
        entry(j) = entry(j + 1);
    --m_count;
    m_sum -= weight;
    if (!m_count)
        m_head = 0;
    return true;
}

void WindowLog::setOnly(qint64 ts, qint64 weight)
{
    if (m_count == 0) {
        append(ts, weight);
        return;
    }
    m_head = 0;
    m_count = 1;
    m_ring[0] = {ts, weight};
    m_sum = weight;
}

LogTable::~LogTable()
{
    for (Slot &slot : m_slots) {
        if (live(slot))
            WindowLog::destroy(slot.log);
    }
}

WindowLog *LogTable::find(quint64 hash, const QByteArray &key) const
{
    if (m_slots.empty())
        return nullptr;
    for (size_t i = hash & m_mask;; i = (i + 1) & m_mask) {
        const Slot &slot = m_slots[i];
        if (!slot.log)
            return nullptr;
        if (slot.log != tombstone() && slot.hash == hash && slot.log->hasKey(key))
            return slot.log;
    }
}

WindowLog *LogTable::insert(quint64 hash, const QByteArray &key)
{
    if ((m_size + m_tombstones + 1) * 4 > m_slots.size() * 3)
        rehash(std::max<size_t>(16, (m_size + 1) * 2));
    WindowLog *log = WindowLog::create(key);
    for (size_t i = hash & m_mask;; i = (i + 1) & m_mask) {
        Slot &slot = m_slots[i];
        if (!live(slot)) {
            if (slot.log == tombstone())
                --m_tombstones;
            slot = {hash, log};
            ++m_size;
            return log;
        }
    }
}

bool LogTable::erase(quint64 hash, const QByteArray &key)
{
    if (m_slots.empty())
        return false;
    for (size_t i = hash & m_mask;; i = (i + 1) & m_mask) {
        Slot &slot = m_slots[i];
        if (!slot.log)
            return false;
        if (slot.log != tombstone() && slot.hash == hash && slot.log->hasKey(key)) {
            removeAt(slot);
            return true;
        }
    }
}

int LogTable::expireSome(qint64 nowUs, int slots)
{
    if (m_slots.empty() || m_size == 0)
        return 0;
    int freed = 0;
    const size_t visits = std::min(static_cast<size_t>(std::max(0, slots)), m_slots.size()); // once round at most
    for (size_t n = 0; n < visits; ++n) {
        m_cursor = (m_cursor + 1) & m_mask;
        Slot &slot = m_slots[m_cursor];
        if (live(slot) && slot.log->idle(nowUs)) {
            removeAt(slot);
            ++freed;
        }
    }
    return freed;
}

void LogTable::removeAt(Slot &slot)
{
    WindowLog::destroy(slot.log);
    slot.log = tombstone();
    --m_size;
    ++m_tombstones;
}

void LogTable::rehash(size_t atLeast)
{
    size_t capacity = 16;
    while (capacity < atLeast)
        capacity *= 2;
    std::vector<Slot> old = std::move(m_slots);
    m_slots.assign(capacity, Slot());
    m_mask = capacity - 1;
    m_tombstones = 0;
    m_cursor &= m_mask;
    for (const Slot &slot : old) {
        if (!live(slot))
            continue;
        size_t i = slot.hash & m_mask;
        while (m_slots[i].log)
            i = (i + 1) & m_mask;
        m_slots[i] = slot;
    }
}

} // namespace sluice
