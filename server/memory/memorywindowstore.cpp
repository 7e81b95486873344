// SPDX-License-Identifier: Apache-2.0
#include "memory/memorywindowstore.h"

#include "engine/siphash.h"
#include "engine/windowrules.h"
#include "memory/logtable.h"
#include "memory/reservationtable.h"
#include "memory/spinlock.h"

#include <algorithm>
#include <cmath>
#include <mutex>

namespace sluice {

namespace {
// A token bucket's TAT (design §11, GCRA) in nanoseconds: the log's one entry holds it exactly in
// its weight. What it means for a request is windowrules.h's (fits, wait, reset).
struct Bucket
{
    qint64 nowNs;
    double nsPerToken;
    qint64 baseNs; // max(TAT, now)
    static Bucket of(const WindowLog *log, const WindowSpec &spec, qint64 nowUs)
    {
        const qint64 nowNs = nowUs * 1000;
        const qint64 tat = log && !log->empty() ? log->at(0).weight : nowNs;
        return {nowNs, spec.usPerToken() * 1000.0, std::max(tat, nowNs)};
    }
    double drained() const { return static_cast<double>(baseNs - nowNs) / nsPerToken; }
    // The facts the rules judge: tokens drained (rounded up) and the TAT (us, rounded up).
    KeyState state() const { return {static_cast<qint64>(std::ceil(drained() - 1e-9)), (baseNs + 999) / 1000}; }
    static qint64 usOf(qint64 ns) { return (ns + 999) / 1000; }
};

// Slots each check visits for idle logs in every shard it holds (a visit may touch a cold log, so
// it is kept to one: measured, four cost a third of the engine's throughput). With the bounded
// background step (SluiceServer: housekeep(64) every 25 ms) the cursor goes round every table
// while its keys are still young, so the live set tracks the callers of the last window.
constexpr int kExpirePerCheck = 1;

// One hash per key: its high bits pick the shard, the whole of it places the key in the table.
inline quint64 keyHash(const QByteArray &key)
{
    return sipHash13(processSipKey(), key.constData(), static_cast<size_t>(key.size()));
}
inline int shardOf(quint64 hash) { return static_cast<int>((hash >> 40) % MemoryWindowStore::kShardCount); }

// Small arrays on the stack for the usual handful of keys, on the heap beyond.
template <typename T, size_t N = 8>
class SmallArray
{
public:
    explicit SmallArray(size_t n)
    {
        if (n > N) {
            m_heap.resize(n);
            m_data = m_heap.data();
        }
    }
    T &operator[](size_t i) { return m_data[i]; }
    T *data() { return m_data; }

private:
    T m_inline[N];
    std::vector<T> m_heap;
    T *m_data = m_inline;
};
} // namespace

struct MemoryWindowStore::Shard
{
    SpinLock lock;
    LogTable logs;
};

// Taken before any shard lock, never while one is held.
struct MemoryWindowStore::Reservations
{
    std::mutex lock;
    ReservationTable table;
    UniqueIds ids{QByteArray(1, MemoryWindowStore::kReservationTag)};
};

MemoryWindowStore::MemoryWindowStore(std::shared_ptr<const Clock> clock, QString source, qint64 maxKeys)
    : m_clock(std::move(clock)), m_source(std::move(source)), m_maxKeys(maxKeys), m_shards(new Shard[kShardCount]),
      m_reservations(std::make_unique<Reservations>())
{
}

MemoryWindowStore::~MemoryWindowStore() = default;

QString MemoryWindowStore::source() const { return m_source; }

QJsonObject MemoryWindowStore::health() const
{
    return {{QStringLiteral("status"), QStringLiteral("ok")},
            {QStringLiteral("keys"), keyCount()},
            {QStringLiteral("maxKeys"), m_maxKeys},
            {QStringLiteral("reservations"), reservationCount()},
            {QStringLiteral("refusedFull"), refusedFull()}};
}

qint64 MemoryWindowStore::reservationCount() const { return m_reservationsHeld.load(std::memory_order_relaxed); }

WindowOutcome MemoryWindowStore::checkNow(const WindowBatch &batch)
{
    const size_t n = batch.keys.size();
    WindowOutcome out;
    out.source = m_source;
    out.keys.resize(n);

    // The record a reservation will need, filled while the shards are held.
    const bool reserves = batch.reserves();
    MemoryReservation reservation;

    {
    // Lock every shard the batch touches, in index order (deadlock-free, atomic over all keys).
    SmallArray<quint64> hashes(n);
    SmallArray<int> shards(n);
    SmallArray<int> order(n);
    for (size_t i = 0; i < n; ++i) {
        hashes[i] = keyHash(batch.keys[i].key);
        shards[i] = shardOf(hashes[i]);
        order[i] = shards[i];
    }
    std::sort(order.data(), order.data() + n);
    const size_t locked = static_cast<size_t>(std::unique(order.data(), order.data() + n) - order.data());
    for (size_t i = 0; i < locked; ++i)
        m_shards[order[i]].lock.lock();
    // Unlocks in reverse order whatever happens: an allocation failure must not leave a shard locked.
    struct Unlocker
    {
        Shard *shards;
        const int *order;
        size_t n;
        ~Unlocker()
        {
            for (size_t i = n; i-- > 0;)
                shards[order[i]].lock.unlock();
        }
    } unlocker{m_shards.get(), order.data(), locked};

    const qint64 now = m_clock->nowUs();
    out.nowUs = now;
    const qint64 leaseExpires = now + batch.leaseUs;
    bool admitted = true;
    qint64 newKeys = 0;
    SmallArray<WindowLog *> found(n);
    SmallArray<char> fits(n);      // this key would take the request (shadow keys: only written then)
    SmallArray<qint64> bucketTat(n); // buckets: the TAT after this request, ns
    for (size_t i = 0; i < n; ++i) {
        const WindowSpec &spec = batch.keys[i];
        found[i] = m_shards[shards[i]].logs.find(hashes[i], spec.key);
        if (found[i]) {
            // A lease is stamped with its expiry and a bucket with its TAT: they count while now
            // is before them (window 0).
            found[i]->prune(now, spec.isLog() ? spec.windowUs : 0);
        } else {
            ++newKeys;
        }
        if (spec.isBucket()) {
            const Bucket b = Bucket::of(found[i], spec, now);
            out.keys[i] = b.state();
            bucketTat[i] = b.baseNs + static_cast<qint64>(std::llround(static_cast<double>(spec.weight) * b.nsPerToken));
        } else {
            if (found[i])
                out.keys[i] = {found[i]->sum(), found[i]->oldest()};
            out.keys[i].full = found[i] && found[i]->size() >= kMaxLogEntries;
        }
        out.keys[i].fits = window::fits(spec, out.keys[i]);
        fits[i] = out.keys[i].fits;
        if (!fits[i] && !spec.shadow)
            admitted = false;
    }
    if (admitted && reserves && m_reservationsHeld.load(std::memory_order_relaxed) >= m_maxKeys) {
        admitted = false;
        out.status = WindowOutcome::Status::Full;
        out.error = QStringLiteral("the memory store holds its maximum of %1 reservations").arg(m_maxKeys);
        m_refusedFull.fetch_add(1, std::memory_order_relaxed);
    }
    if (admitted && newKeys > 0 && keyCount() + newKeys > m_maxKeys) {
        admitted = false;
        out.status = WindowOutcome::Status::Full;
        out.error = QStringLiteral("the memory store holds its maximum of %1 keys").arg(m_maxKeys);
        m_refusedFull.fetch_add(1, std::memory_order_relaxed);
    }
    if (admitted) {
        try {
            // Every allocation first (new logs, ring growth, the reservation's key list), then the
            // appends, which cannot fail: running out of memory leaves every count as it was (a
            // new empty log is just idle).
            for (size_t i = 0; i < n; ++i) {
                if (!found[i]) {
                    found[i] = m_shards[shards[i]].logs.insert(hashes[i], batch.keys[i].key);
                    m_keys.fetch_add(1, std::memory_order_relaxed);
                }
                found[i]->reserveOne();
                const WindowSpec &spec = batch.keys[i];
                if (reserves && (spec.isLease() || spec.reweighable()) && (fits[i] || !spec.shadow))
                    reservation.keys.push_back({spec.key, hashes[i], spec.isLease(), spec.isBucket(), spec.usPerToken() * 1000.0});
            }
        } catch (const std::bad_alloc &) {
            admitted = false;
            out.status = WindowOutcome::Status::Unavailable;
            out.error = QStringLiteral("the memory store is out of memory");
        }
    }
    if (admitted) {
        for (size_t i = 0; i < n; ++i) {
            const WindowSpec &spec = batch.keys[i];
            if (spec.shadow && !fits[i])
                continue; // what a shadow policy would have refused leaves no trace in it
            if (spec.isBucket()) {
                found[i]->setOnly(Bucket::usOf(bucketTat[i]), bucketTat[i]);
                found[i]->windowUs = 0; // idle (full again) once its TAT has passed
                if (spec.reweighable())
                    reservation.estimate = spec.weight;
            } else if (spec.isLease()) {
                found[i]->insertSorted(leaseExpires, 1);
                found[i]->windowUs = 0; // idle once its last lease expired
            } else {
                found[i]->append(now, spec.weight);
                found[i]->windowUs = spec.windowUs;
                if (spec.reweighable())
                    reservation.estimate = spec.weight;
            }
        }
        reservation.admittedUs = now;
        reservation.expiresUs = leaseExpires;
    }
    out.admitted = admitted;

    // Amortized housekeeping on the shards already held: a few slots each, never a sweep.
    qint64 freed = 0;
    for (size_t i = 0; i < locked; ++i)
        freed += m_shards[order[i]].logs.expireSome(now, kExpirePerCheck);
    if (freed)
        m_keys.fetch_sub(freed, std::memory_order_relaxed);
    }

    // The record goes in after the shards are released (the reservation lock comes first).
    if (out.admitted && reserves) {
        std::lock_guard<std::mutex> lock(m_reservations->lock);
        const QByteArray id = m_reservations->ids.next();
        m_reservationsHeld.fetch_sub(m_reservations->table.expireSome(out.nowUs, kExpirePerCheck + 1), std::memory_order_relaxed);
        m_reservationsHeld.fetch_add(1, std::memory_order_relaxed);
        out.reservationId = QString::fromLatin1(id);
        out.leaseExpiresUs = reservation.expiresUs;
        m_reservations->table.insert(id, std::move(reservation));
    }
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
        std::lock_guard<SpinLock> lock(shard.lock);
        const qint64 now = m_clock->nowUs();
        KeyUsage u{spec.key, 0, -1, now};
        if (WindowLog *log = shard.logs.find(hash, spec.key)) {
            log->prune(now, spec.isLog() ? spec.windowUs : 0);
            if (spec.isBucket() && !log->empty()) {
                const KeyState b = Bucket::of(log, spec, now).state();
                u.used = b.used;
                u.oldestUs = b.oldestUs;
            } else if (!spec.isBucket()) {
                u.used = log->sum();
                u.oldestUs = log->oldest();
            }
        }
        result.push_back(u);
    }
    done(true, std::move(result));
}

void MemoryWindowStore::reset(const QByteArray &key, DoneCallback done)
{
    const quint64 hash = keyHash(key);
    Shard &shard = m_shards[shardOf(hash)];
    bool erased = false;
    {
        std::lock_guard<SpinLock> lock(shard.lock);
        erased = shard.logs.erase(hash, key);
    }
    if (erased)
        m_keys.fetch_sub(1, std::memory_order_relaxed);
    done(true);
}

template <typename F>
void MemoryWindowStore::withLog(const QByteArray &key, quint64 hash, F f)
{
    Shard &shard = m_shards[shardOf(hash)];
    std::lock_guard<SpinLock> lock(shard.lock);
    if (WindowLog *log = shard.logs.find(hash, key))
        f(*log);
}

ReservationOutcome MemoryWindowStore::completeNow(const QString &reservationId, std::optional<qint64> tokens)
{
    std::lock_guard<std::mutex> lock(m_reservations->lock);
    MemoryReservation *r = m_reservations->table.find(reservationId.toLatin1(), m_clock->nowUs());
    if (!r)
        return {ReservationOutcome::Status::NotFound, {}, 0};
    if (r->completed)
        return {ReservationOutcome::Status::AlreadyCompleted, {}, 0};
    r->completed = true;
    for (const MemoryReservation::Key &k : r->keys) {
        withLog(k.key, k.hash, [&](WindowLog &log) {
            if (k.lease) {
                log.eraseOne(r->expiresUs, 1);
            } else if (tokens && k.bucket) {
                // The bucket gives back (or takes) the difference: its TAT moves by it.
                if (log.empty())
                    return;
                const qint64 tat = log.at(0).weight
                    + static_cast<qint64>(std::llround(static_cast<double>(*tokens - r->estimate) * k.nsPerToken));
                if (Bucket::usOf(tat) <= m_clock->nowUs())
                    log.eraseOne(log.at(0).ts, log.at(0).weight);
                else
                    log.setOnly(Bucket::usOf(tat), tat);
            } else if (tokens) {
                log.reweigh(r->admittedUs, r->estimate, *tokens); // gone already when it left its window
            }
        });
    }
    if (tokens)
        r->estimate = *tokens;
    // Only "it was completed" is left to remember until it expires.
    std::vector<MemoryReservation::Key>().swap(r->keys);
    return {ReservationOutcome::Status::Done, {}, 0};
}

ReservationOutcome MemoryWindowStore::extendNow(const QString &reservationId, qint64 leaseUs)
{
    std::lock_guard<std::mutex> lock(m_reservations->lock);
    const QByteArray id = reservationId.toLatin1();
    const qint64 now = m_clock->nowUs();
    MemoryReservation *r = m_reservations->table.find(id, now);
    if (!r)
        return {ReservationOutcome::Status::NotFound, {}, 0};
    if (r->completed)
        return {ReservationOutcome::Status::AlreadyCompleted, {}, 0};
    const qint64 expires = std::max(r->expiresUs, now + leaseUs);
    bool allHeld = true;
    for (const MemoryReservation::Key &k : r->keys) {
        if (!k.lease)
            continue;
        // Erase, then insert into the slot it freed: nothing to allocate, nothing can fail.
        bool held = false;
        withLog(k.key, k.hash, [&](WindowLog &log) {
            held = log.eraseOne(r->expiresUs, 1);
            if (held)
                log.insertSorted(expires, 1);
        });
        allHeld = allHeld && held;
    }
    // A lease gone meanwhile (it expired as we came, or an operator reset the key) is not held
    // any more: say so rather than renew a slot the caller does not have.
    if (!allHeld)
        return {ReservationOutcome::Status::NotFound, {}, 0};
    m_reservations->table.renew(*r, expires);
    return {ReservationOutcome::Status::Done, {}, expires - now};
}

void MemoryWindowStore::complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done)
{
    done(completeNow(reservationId, tokens));
}

void MemoryWindowStore::extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done)
{
    done(extendNow(reservationId, leaseUs));
}

int MemoryWindowStore::housekeep(int slotsPerShard)
{
    {
        std::lock_guard<std::mutex> lock(m_reservations->lock);
        m_reservationsHeld.fetch_sub(m_reservations->table.expireSome(m_clock->nowUs(), slotsPerShard * kShardCount),
                                     std::memory_order_relaxed);
    }
    int freed = 0;
    for (int s = 0; s < kShardCount; ++s) {
        std::lock_guard<SpinLock> lock(m_shards[s].lock);
        freed += m_shards[s].logs.expireSome(m_clock->nowUs(), slotsPerShard);
    }
    if (freed)
        m_keys.fetch_sub(freed, std::memory_order_relaxed);
    return freed;
}

void MemoryWindowStore::poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done)
{
    PoolState state;
    {
        std::lock_guard<std::mutex> lock(m_poolMutex);
        state = pool::step(m_pools[pool], reading, m_clock->nowUs() / 1000, params);
    }
    done(state, QString());
}

} // namespace sluice
