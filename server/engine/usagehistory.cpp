// SPDX-License-Identifier: Apache-2.0
#include "engine/usagehistory.h"

#include <QPointer>

namespace sluice {

namespace {
constexpr size_t kMaxMemoryRows = 1'000'000; // the embedded mode's history: at most this many rows
constexpr qint64 kPruneEverySeconds = 3600;
} // namespace

void UsageRecorder::record(qint64 epochSeconds, const QString &tenant, const QString &model, const QString &scope, Unit unit,
                           bool allowed, qint64 tokens)
{
    const qint64 minute = epochSeconds - epochSeconds % 60;
    // (The same string object, or equal text.)
    auto same = [](const QString &a, const QString &b) { return (a.constData() == b.constData() && a.size() == b.size()) || a == b; };
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_last || m_lastKey.minute != minute || m_lastUnit != unit || !same(m_lastKey.tenant, tenant)
        || !same(m_lastKey.model, model) || !same(m_lastKey.scope, scope)) {
        m_lastKey = UsageKey{minute, tenant, model, scope, unitName(unit)};
        m_lastUnit = unit;
        m_last = &m_rows[m_lastKey];
    }
    UsageCounts &c = *m_last;
    if (allowed) {
        ++c.allowed;
        c.tokens += tokens;
    } else {
        ++c.blocked;
    }
}

UsageRows UsageRecorder::take()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    UsageRows out;
    out.swap(m_rows);
    m_last = nullptr;
    return out;
}

std::shared_ptr<UsageRecorder> UsageHistory::add()
{
    auto r = std::make_shared<UsageRecorder>();
    std::lock_guard<std::mutex> lock(m_mutex);
    m_recorders.push_back(r);
    return r;
}

void UsageHistory::setSink(const std::shared_ptr<UsageSink> &sink)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_sink = sink;
    m_hasSink = sink != nullptr;
}

void UsageHistory::mergePending(UsageRows rows)
{
    for (auto &[key, counts] : rows) {
        auto it = m_pending.find(key);
        if (it != m_pending.end()) {
            it->second.add(counts);
        } else if (m_pending.size() < m_maxPending) {
            m_pending.emplace(key, counts);
        } else {
            ++m_dropped; // bounded: a Postgres away for long loses the newest rows, counted
        }
    }
}

void UsageHistory::flush(qint64 now)
{
    std::vector<std::shared_ptr<UsageRecorder>> recorders;
    std::shared_ptr<UsageSink> sink;
    UsageRows batch;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        recorders = m_recorders;
        sink = m_sink.lock();
        if (m_hasSink && !sink)
            return; // the sink is gone (shutting down): the rows stay where they are
    }
    UsageRows collected;
    for (const auto &r : recorders) {
        for (auto &[key, counts] : r->take())
            collected[key].add(counts);
    }
    const qint64 horizon = now - static_cast<qint64>(m_historyDays) * 86400;
    bool prune = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (!sink) {
            for (auto &[key, counts] : collected)
                m_memory[key].add(counts);
            m_memory.erase(m_memory.begin(), m_memory.lower_bound(UsageKey{horizon - horizon % 60, {}, {}, {}, {}}));
            while (m_memory.size() > kMaxMemoryRows) {
                m_memory.erase(m_memory.begin());
                ++m_dropped;
            }
            m_written += static_cast<qint64>(collected.size());
            return;
        }
        mergePending(std::move(collected));
        if (now - m_lastPruned >= kPruneEverySeconds) {
            m_lastPruned = now;
            prune = true;
        }
        if (!m_writing && !m_pending.empty()) {
            m_writing = true;
            batch.swap(m_pending);
        }
    }
    // (the sink is called without the lock: its answer takes it)
    if (prune)
        sink->pruneUsage(horizon);
    if (batch.empty())
        return;
    const qint64 rows = static_cast<qint64>(batch.size());
    // A failed write puts its rows back (with what came meanwhile: they add up the same).
    auto keep = std::make_shared<UsageRows>(batch);
    sink->writeUsage(std::move(batch), [weak = weak_from_this(), keep, rows](UsageSink::WriteResult result, const QString &error) {
        if (const std::shared_ptr<UsageHistory> self = weak.lock())
            self->written(result, error, rows, std::move(*keep));
    });
}

void UsageHistory::written(UsageSink::WriteResult result, const QString &error, qint64 rows, UsageRows batch)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_writing = false;
    if (result == UsageSink::WriteResult::Written) {
        m_written += rows;
        m_lastError.clear();
        return;
    }
    ++m_failedWrites;
    m_lastError = error;
    if (result == UsageSink::WriteResult::Refused) {
        // Sent again it would fail again, and every later row behind it: dropped, counted, said.
        m_dropped += rows;
        qWarning("usage history: %lld rows dropped, the store refused them: %s", static_cast<long long>(rows), qPrintable(error));
        return;
    }
    mergePending(std::move(batch));
}

bool UsageHistory::idle() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return !m_writing && m_pending.empty();
}

QString UsageHistory::source() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_hasSink ? QStringLiteral("postgres") : QStringLiteral("memory");
}

void UsageHistory::query(QObject *context, const AnalyticsQuery &query,
                         std::function<void(UsageResult<std::vector<AnalyticsPoint>>)> done)
{
    std::shared_ptr<UsageSink> sink;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        sink = m_sink.lock();
        if (m_hasSink && !sink)
            return done(ApiError::unavailable(QStringLiteral("the usage history is shutting down")));
        if (!sink) {
            std::vector<AnalyticsPoint> points = aggregate(m_memory, query);
            QMetaObject::invokeMethod(context, [done = std::move(done), points = std::move(points)]() mutable { done(std::move(points)); },
                                      Qt::QueuedConnection);
            return;
        }
    }
    sink->queryUsage(context, query, std::move(done));
}

std::vector<AnalyticsPoint> UsageHistory::aggregate(const UsageRows &rows, const AnalyticsQuery &q)
{
    std::map<std::pair<qint64, QString>, UsageCounts> buckets;
    for (auto it = rows.lower_bound(UsageKey{q.from - q.from % 60, {}, {}, {}, {}}); it != rows.end(); ++it) {
        const UsageKey &k = it->first;
        if (k.minute >= q.to)
            break;
        if (k.minute < q.from)
            continue;
        const QString &group = q.groupBy == AnalyticsQuery::GroupBy::Tenant ? k.tenant
                             : q.groupBy == AnalyticsQuery::GroupBy::Model  ? k.model
                                                                            : k.scope;
        const qint64 t = k.minute - k.minute % q.step;
        buckets[{t, group}].add(it->second);
    }
    std::vector<AnalyticsPoint> out;
    out.reserve(buckets.size());
    for (auto &[tk, counts] : buckets)
        out.push_back({tk.first, tk.second, counts});
    return out;
}

UsageHistory::Stats UsageHistory::stats() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return {static_cast<qint64>(m_pending.size()), m_dropped, m_written, m_failedWrites, m_lastError};
}

} // namespace sluice
