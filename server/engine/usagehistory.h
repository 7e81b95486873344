// SPDX-License-Identifier: Apache-2.0
// Usage history (design §13, the seeds' analytics): every HTTP thread folds its decisions into
// per-minute aggregates (tenant, model, primary scope, unit → allowed, blocked, tokens) in its own
// UsageRecorder — a map under a lock no other thread takes on the check path. UsageHistory, driven
// by a timer off the check path, collects them into a bounded buffer and writes it to a UsageSink
// (Postgres: upserts that add, so several instances sum into the same rows) one batch at a time;
// a failed write keeps its rows and tries again later. Past the bound, rows are dropped and
// counted. Without a sink (the embedded mode) the rows stay in memory for the process's lifetime
// (within the retention). Tokens are the checks' costs as admitted (the estimate; a completion's
// actual count is not folded back in).
#pragma once

#include "engine/layer.h"

#include "apierror.h"
#include "scope.h"
#include "unit.h"

#include <QObject>
#include <QString>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <variant>
#include <vector>

namespace sluice {

struct UsageKey
{
    qint64 minute = 0; // epoch seconds, a multiple of 60
    QString tenant;    // "" when the check named none
    QString model;
    QString scope;     // the primary policy's scope ("NONE": no policy applied)
    QString unit;      // the primary policy's unit
    bool operator<(const UsageKey &o) const
    {
        return std::tie(minute, tenant, model, scope, unit) < std::tie(o.minute, o.tenant, o.model, o.scope, o.unit);
    }
};

struct UsageCounts
{
    qint64 allowed = 0;
    qint64 blocked = 0;
    qint64 tokens = 0;
    void add(const UsageCounts &o)
    {
        allowed += o.allowed;
        blocked += o.blocked;
        tokens += o.tokens;
    }
};

using UsageRows = std::map<UsageKey, UsageCounts>;

// One HTTP thread's aggregates since the last collection.
class UsageRecorder
{
public:
    void record(qint64 epochSeconds, const QString &tenant, const QString &model, const QString &scope, Unit unit, bool allowed,
                qint64 tokens);
    UsageRows take();

private:
    std::mutex m_mutex;
    UsageRows m_rows;
    // The row the last check went to: a caller's next check in the same minute goes there without
    // a look-up (four string comparisons per tree level). Reset when the rows are taken.
    UsageKey m_lastKey;
    Unit m_lastUnit = Unit::Requests;
    UsageCounts *m_last = nullptr;
};

struct AnalyticsQuery
{
    enum class GroupBy { Tenant, Model, Scope };
    qint64 from = 0; // epoch seconds, inclusive
    qint64 to = 0;   // exclusive
    qint64 step = 60;
    GroupBy groupBy = GroupBy::Tenant;
};

struct AnalyticsPoint
{
    qint64 time = 0; // the step's start, epoch seconds
    QString key;     // the tenant, model or scope
    UsageCounts counts;
};

template <typename T>
using UsageResult = std::variant<T, ApiError>;

// Where collected rows go, and where they are read back (Postgres).
class UsageSink
{
public:
    virtual ~UsageSink() = default;
    // What became of a write: stored; failed for a reason that may pass (the connection: the rows
    // are tried again); or refused for one that will not (the rows themselves: they are dropped).
    enum class WriteResult { Written, Retry, Refused };
    // Adds the rows to what is stored (one transaction). `done` may run on any thread.
    virtual void writeUsage(UsageRows rows, std::function<void(WriteResult result, const QString &error)> done) = 0;
    // `done` runs on `context`'s thread (not at all once it is gone).
    virtual void queryUsage(QObject *context, const AnalyticsQuery &query,
                            std::function<void(UsageResult<std::vector<AnalyticsPoint>>)> done) = 0;
    // Forgets the minutes before `epochSeconds` (retention).
    virtual void pruneUsage(qint64 epochSeconds) = 0;
};

class UsageHistory : public std::enable_shared_from_this<UsageHistory>
{
public:
    explicit UsageHistory(int historyDays = 30, size_t maxPendingRows = 200'000)
        : m_historyDays(historyDays), m_maxPending(maxPendingRows) {}

    std::shared_ptr<UsageRecorder> add();
    // The sink is held weakly: whoever made it keeps it alive (and stops it) while this is used.
    void setSink(const std::shared_ptr<UsageSink> &sink);
    // Collects every recorder and writes what waits (one write in flight), or keeps it in memory
    // without a sink; applies the retention. From a timer, never from the check path.
    void flush(qint64 nowEpochSeconds);
    // No write in flight and nothing waiting.
    bool idle() const;
    void query(QObject *context, const AnalyticsQuery &query, std::function<void(UsageResult<std::vector<AnalyticsPoint>>)> done);
    QString source() const;

    struct Stats
    {
        qint64 pendingRows = 0;  // waiting to be written
        qint64 droppedRows = 0;  // past the bound, or in a batch the store refused
        qint64 writtenRows = 0;  // written (Postgres) or kept (memory)
        qint64 failedWrites = 0;
        QString lastError;
    };
    Stats stats() const;

    // The points of `rows` for a query (the memory answer; public for tests).
    static std::vector<AnalyticsPoint> aggregate(const UsageRows &rows, const AnalyticsQuery &query);

private:
    void mergePending(UsageRows rows); // under m_mutex
    void written(UsageSink::WriteResult result, const QString &error, qint64 rows, UsageRows batch);

    const int m_historyDays;
    const size_t m_maxPending;
    mutable std::mutex m_mutex;
    std::vector<std::shared_ptr<UsageRecorder>> m_recorders;
    std::weak_ptr<UsageSink> m_sink; // owned by the wiring (the sink's thread must never be the one that frees it)
    bool m_hasSink = false;
    UsageRows m_pending;
    UsageRows m_memory; // no sink: everything kept (within the retention)
    bool m_writing = false;
    qint64 m_dropped = 0;
    qint64 m_written = 0;
    qint64 m_failedWrites = 0;
    qint64 m_lastPruned = 0;
    QString m_lastError;
};

} // namespace sluice
