// SPDX-License-Identifier: Apache-2.0
// The pools' live state (design §14), shared by every thread: the controller (pools/poolcontroller.h)
// publishes each pool's state once per second; the check path reads it through a Reader (one
// relaxed atomic read when nothing changed) and counts what it sheds with atomic adds. Pushed load
// readings (PUT /admin/pools/{name}/load, on any HTTP thread) wait here for the next tick. Never
// blocks the check path: the mutex guards only pushes, errors and the counter table.
#pragma once

#include "engine/layer.h"

#include "engine/fasthash.h"
#include "engine/poolrules.h"
#include "priority.h"

#include <QJsonObject>
#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace sluice {

// Requests refused because their pool was saturated, by priority (only sheddable ones are).
struct ShedCounters
{
    std::array<std::atomic<qint64>, kPriorityCount> shed{};
};

struct PoolLive
{
    PoolState state;
    ShedCounters *counters = nullptr; // stable for the process's life
};

using PoolView = std::unordered_map<QString, PoolLive, FastHash>;

// A pool's entry in a view: its state and counters, or a stale state and no counters before its
// first step.
inline PoolLive poolLive(const PoolView &view, const QString &pool)
{
    const auto it = view.find(pool);
    return it == view.end() ? PoolLive() : it->second;
}

// What this instance sees of a pool's requests (the own-view signal, poolrules.h): admitted with a
// reservation and not completed yet, and the median check → complete time of a recent window.
struct OwnView
{
    int inFlight = 0;
    int completions = 0;          // in the window asked for
    double medianLatencyMs = -1;  // -1: no completion in it
    double medianInFlightAgeMs = -1; // of the requests still in flight (computed only when few completed)
};

class PoolBoard
{
public:
    PoolBoard() : m_view(std::make_shared<const PoolView>()) {}

    // The controller, once per tick: every pool of the registry and its state.
    void publish(const std::unordered_map<QString, PoolState, FastHash> &states);
    std::shared_ptr<const PoolView> current() const { return std::atomic_load(&m_view); }
    quint64 version() const { return m_version.load(std::memory_order_acquire); }

    class Reader
    {
    public:
        explicit Reader(const PoolBoard &board) : m_board(board) {}
        const PoolView &get()
        {
            const quint64 v = m_board.version();
            if (!m_view || v != m_seen) {
                m_seen = v;
                m_view = m_board.current();
            }
            return *m_view;
        }

    private:
        const PoolBoard &m_board;
        quint64 m_seen = 0;
        std::shared_ptr<const PoolView> m_view;
    };

    // A pushed reading (steady clock, ms), and the newest one for a pool (invalid when none).
    void push(const QString &pool, double queue, double kvCache, qint64 nowMs);
    PoolReading pushed(const QString &pool, qint64 nowMs) const;

    // Why a pool's configured source could not be read last time (empty: it could), per source.
    void setSourceError(const QString &pool, const QString &source, const QString &error);
    QJsonObject sourceErrors(const QString &pool) const;

    ShedCounters *counters(const QString &pool);
    // Shed totals of every pool ever published: pool → per priority.
    std::unordered_map<QString, std::array<qint64, kPriorityCount>, FastHash> shedTotals() const;

    // The own view: a request of `pool` admitted with a reservation (any HTTP thread; only checks
    // with a reservation and a pool come here), its completion (any thread; unknown ids are
    // ignored), and the view of the last `windowMs`. forget() drops requests older than a lease
    // (never completed: their leases expired) and is called once per tick.
    void admitted(const QString &pool, const QString &reservationId, qint64 nowMs);
    void completed(const QString &reservationId, qint64 nowMs);
    OwnView ownView(const QString &pool, qint64 nowMs, qint64 windowMs) const;
    void forget(qint64 nowMs, qint64 olderThanMs);
    // The inference door: the upstream answered 429 or 503 for a model of `pool` (the model server
    // itself says it is full) — a load reading of its own (PoolController::newest), and when.
    void upstreamRefused(const QString &pool, qint64 nowMs);
    qint64 lastUpstreamRefusalMs(const QString &pool) const; // -1: never
    // The controller's summary of a pool's own view for GET /admin/pools (empty: none).
    void setOwnSummary(const QString &pool, const QJsonObject &summary);
    QJsonObject ownSummary(const QString &pool) const;

private:
    std::shared_ptr<const PoolView> m_view;
    std::atomic<quint64> m_version{0};
    mutable std::mutex m_mutex;
    struct Push
    {
        double queue = -1, kvCache = -1;
        qint64 atMs = 0;
    };
    std::unordered_map<QString, Push, FastHash> m_pushes;
    std::unordered_map<QString, QJsonObject, FastHash> m_errors;
    std::unordered_map<QString, std::unique_ptr<ShedCounters>, FastHash> m_counters;
    std::unordered_map<QString, QJsonObject, FastHash> m_ownSummaries;
    std::unordered_map<QString, qint64, FastHash> m_upstreamRefusals;

    // The own view's requests, under their own mutex (the check path takes it only for a request
    // with a reservation in a pool). Bounded: past kMaxOpen open requests new ones are not tracked.
    static constexpr size_t kMaxOpen = 50000;
    static constexpr size_t kMaxLatencies = 4096; // per pool
    struct Open
    {
        QString pool;
        qint64 atMs = 0;
    };
    mutable std::mutex m_ownMutex;
    std::unordered_map<QString, Open, FastHash> m_open;
    std::unordered_map<QString, int, FastHash> m_inFlight;
    std::unordered_map<QString, std::deque<std::pair<qint64, double>>, FastHash> m_latencies; // (completed at, ms)
};

} // namespace sluice
