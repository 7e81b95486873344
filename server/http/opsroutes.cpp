// SPDX-License-Identifier: Apache-2.0
#include "http/opsroutes.h"

#include "apipaths.h"
#include "http/servercontext.h"

#include <QDir>
#include <QJsonArray>
#include <QFile>
#include <cmath>
#include <sys/resource.h>
#include <unistd.h>
#include <QJsonDocument>

namespace sluice {

namespace {
const char *breakerName(int rank) { return rank == 2 ? "open" : rank == 1 ? "half-open" : "closed"; }
// The process metrics every Prometheus client library exports (same names), from /proc.
QByteArray processMetrics()
{
    QByteArray out;
    auto metric = [&out](const char *name, const char *help, const char *type, double value) {
        out += QByteArray("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n' + name + ' '
            + QByteArray::number(value, 'g', 15) + '\n';
    };
    const long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (statm.open(QIODevice::ReadOnly)) {
        const QList<QByteArray> f = statm.readAll().split(' ');
        if (f.size() > 1) {
            metric("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", f[0].toDouble() * page);
            metric("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", f[1].toDouble() * page);
        }
    }
    QFile stat(QStringLiteral("/proc/self/stat"));
    if (stat.open(QIODevice::ReadOnly)) {
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15, starttime 22.
        const QByteArray all = stat.readAll();
        const QList<QByteArray> f = all.mid(all.lastIndexOf(')') + 2).split(' ');
        if (f.size() > 19 && ticks > 0) {
            metric("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter",
                   (f[11].toDouble() + f[12].toDouble()) / ticks);
            QFile uptime(QStringLiteral("/proc/uptime"));
            if (uptime.open(QIODevice::ReadOnly)) {
                const double up = uptime.readAll().split(' ').value(0).toDouble();
                const double boot = QDateTime::currentMSecsSinceEpoch() / 1000.0 - up;
                metric("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge",
                       std::floor(boot + f[19].toDouble() / ticks));
            }
        }
    }
    metric("process_open_fds", "Number of open file descriptors.", "gauge",
           QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::Files | QDir::System | QDir::NoDotAndDotDot).size());
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
        metric("process_max_fds", "Maximum number of open file descriptors.", "gauge", static_cast<double>(limit.rlim_cur));
    return out;
}

} // namespace

ProcessStoreStatus processStoreStatus(const std::vector<StoreStatus> &threads)
{
    ProcessStoreStatus p;
    for (const StoreStatus &t : threads) {
        if (p.source.isEmpty())
            p.source = t.source;
        if (p.failureMode.isEmpty())
            p.failureMode = t.failureMode;
        if (p.lastError.isEmpty())
            p.lastError = t.lastError;
        p.ok = p.ok && t.ok;
        if (t.hasBreaker) {
            p.hasBreaker = true;
            p.worstBreaker = std::max(p.worstBreaker, t.breakerState);
            p.openThreads += t.breakerState == 2 ? 1 : 0;
            p.breakerOpens += t.breakerOpens;
        }
        p.fallbacks += t.fallbacks;
        p.inFlight += t.inFlight;
        p.connectedThreads += t.connected ? 1 : 0;
        if (t.shared) {
            p.shared = true;
            p.calls += t.calls;
            p.batchedChecks += t.batchedChecks;
            p.failedCalls += t.failedCalls;
            p.timedOutCalls += t.timedOutCalls;
        }
        if (t.followsSentinel) {
            p.followsSentinel = true;
            p.primaryChanges += t.primaryChanges;
        }
    }
    return p;
}

QJsonObject processStoreHealth(const std::vector<StoreStatus> &threads, const QJsonObject &memory)
{
    const ProcessStoreStatus p = processStoreStatus(threads);
    QJsonObject o;
    QJsonArray each;
    for (const StoreStatus &t : threads)
        each.append(t.health);
    if (!p.source.isEmpty())
        o.insert(QStringLiteral("source"), p.source);
    if (!p.failureMode.isEmpty())
        o.insert(QStringLiteral("failureMode"), p.failureMode);
    o.insert(QStringLiteral("status"), p.ok ? QStringLiteral("ok") : QStringLiteral("degraded"));
    if (p.hasBreaker) {
        o.insert(QStringLiteral("breaker"), QJsonObject{{QStringLiteral("state"), QLatin1String(breakerName(p.worstBreaker))},
                                                       {QStringLiteral("openThreads"), p.openThreads},
                                                       {QStringLiteral("opens"), p.breakerOpens}});
        o.insert(QStringLiteral("fallbacks"), p.fallbacks);
        o.insert(QStringLiteral("connectedThreads"), p.connectedThreads);
        o.insert(QStringLiteral("inFlight"), p.inFlight);
    }
    if (!p.lastError.isEmpty())
        o.insert(QStringLiteral("lastError"), p.lastError);
    if (!memory.isEmpty())
        o.insert(QStringLiteral("memory"), memory);
    o.insert(QStringLiteral("threads"), each);
    return o;
}

namespace {

// Design §14: per pool its saturation, factor, signal age and shed requests by priority.
void appendPoolMetrics(QByteArray &out, const ServerContext &context, const PolicySnapshot &snapshot)
{
    const auto &rows = snapshot.data().pools;
    if (rows.isEmpty())
        return;
    const auto view = context.pools->current();
    const auto shed = context.pools->shedTotals();
    struct Family
    {
        const char *name, *help, *type;
    };
    const Family families[] = {
        {"sluice_pool_saturation", "A GPU pool's saturation: max(queue / queueThreshold, KV cache / kvCacheThreshold); 1 or more is saturated (0 while stale).", "gauge"},
        {"sluice_pool_factor", "The factor of a GPU pool's adaptive limits (1: static).", "gauge"},
        {"sluice_pool_signal_age_seconds", "Age of a GPU pool's newest load signal (+Inf: none yet).", "gauge"},
        {"sluice_pool_stale", "1 when a GPU pool's load signal is stale (its limits are static, nothing is shed).", "gauge"},
        {"sluice_pool_shed_total", "Requests refused because their GPU pool was saturated, by priority.", "counter"},
    };
    auto number = [](double v) { return QByteArray::number(v, 'g', 6); };
    for (size_t f = 0; f < std::size(families); ++f) {
        out += QByteArray("# HELP ") + families[f].name + ' ' + families[f].help + "\n# TYPE " + families[f].name + ' ' + families[f].type + '\n';
        for (const PoolRow &row : rows) {
            const PoolState state = poolLive(*view, row.name).state;
            const QByteArray pool = "pool=\"" + row.name.toUtf8() + '"';
            switch (f) {
            case 0: out += QByteArray(families[f].name) + '{' + pool + "} " + number(state.saturation) + '\n'; break;
            case 1: out += QByteArray(families[f].name) + '{' + pool + "} " + number(state.factor) + '\n'; break;
            case 2:
                out += QByteArray(families[f].name) + '{' + pool + "} "
                    + (state.signalAgeMs < 0 ? QByteArray("+Inf") : number(state.signalAgeMs / 1000.0)) + '\n';
                break;
            case 3: out += QByteArray(families[f].name) + '{' + pool + "} " + (state.stale ? "1" : "0") + '\n'; break;
            default: {
                const auto counts = shed.find(row.name);
                for (Priority p : kPriorities)
                    out += QByteArray(families[f].name) + '{' + pool + ",priority=\"" + priorityName(p).toUtf8() + "\"} "
                        + QByteArray::number(counts == shed.end() ? 0 : counts->second[static_cast<size_t>(priorityIndex(p))]) + '\n';
            }
            }
        }
    }
}

} // namespace

void installOpsRoutes(HttpApi &api, const ServerContext &context)
{
    api.route("GET", QLatin1String(api::kHealthPath), [&context](const HttpRequest &, HttpResponder responder) {
        context.workers.gather([&context, responder](std::vector<StoreStatus> threads) mutable {
            const auto snapshot = context.snapshots->current();
            const QJsonObject store = processStoreHealth(threads, context.memoryHealth ? context.memoryHealth() : QJsonObject());
            const bool degraded = context.registry.degraded() || store.value(QStringLiteral("status")).toString() != QStringLiteral("ok");
            QJsonObject o;
            o.insert(QStringLiteral("status"), degraded ? QStringLiteral("degraded") : QStringLiteral("ok"));
            o.insert(QStringLiteral("version"), QStringLiteral(SLUICE_VERSION_STRING));
            o.insert(QStringLiteral("uptimeSeconds"), context.startedAt.secsTo(QDateTime::currentDateTimeUtc()));
            o.insert(QStringLiteral("store"), store);
            o.insert(QStringLiteral("registry"), context.registry.toJson(*snapshot));
            o.insert(QStringLiteral("failureMode"), context.failureMode);
            o.insert(QStringLiteral("threads"), context.threads);
            o.insert(QStringLiteral("admin"), context.adminToken.isEmpty() ? QStringLiteral("off") : QStringLiteral("on"));
            const UsageHistory::Stats usage = context.usage->stats();
            QJsonObject history{{QStringLiteral("source"), context.usage->source()},
                                {QStringLiteral("pendingRows"), usage.pendingRows},
                                {QStringLiteral("droppedRows"), usage.droppedRows},
                                {QStringLiteral("failedWrites"), usage.failedWrites}};
            if (!usage.lastError.isEmpty())
                history.insert(QStringLiteral("lastError"), usage.lastError);
            o.insert(QStringLiteral("usageHistory"), history);
            if (!context.warnings.isEmpty())
                o.insert(QStringLiteral("warnings"), QJsonArray::fromStringList(context.warnings));
            // GPU pools (design §14): a stale signal is not a failure of this server (its limits are
            // the static ones), so it does not make the status degraded; it is said here.
            const auto pools = context.pools->current();
            QJsonObject poolHealth;
            for (const PoolRow &row : snapshot->data().pools) {
                const PoolState state = poolLive(*pools, row.name).state;
                poolHealth.insert(row.name, QJsonObject{{QStringLiteral("stale"), state.stale},
                                                        {QStringLiteral("saturated"), state.saturated()},
                                                        {QStringLiteral("factor"), std::round(state.factor * 10000) / 10000},
                                                        {QStringLiteral("signalAgeSeconds"),
                                                         state.signalAgeMs < 0 ? QJsonValue() : QJsonValue(state.signalAgeMs / 1000.0)}});
            }
            if (!poolHealth.isEmpty())
                o.insert(QStringLiteral("pools"), poolHealth);
            responder.send(200, QJsonDocument(o).toJson(QJsonDocument::Compact));
        });
    });

    api.route("GET", QLatin1String(api::kMetricsPath), [&context](const HttpRequest &, HttpResponder responder) {
        context.workers.gather([&context, responder](std::vector<StoreStatus> threads) mutable {
            const ProcessStoreStatus store = processStoreStatus(threads);
            QByteArray out = context.metrics->renderPrometheus();
            auto gauge = [&out](const char *name, const char *help, const char *type, const QByteArray &value) {
                out += QByteArray("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n' + name + ' ' + value + '\n';
            };
            const auto snapshot = context.snapshots->current();
            gauge("sluice_policy_snapshot_age_seconds", "Seconds since the policy snapshot was loaded.", "gauge",
                  QByteArray::number(snapshot->loadedAt().msecsTo(QDateTime::currentDateTimeUtc()) / 1000.0));
            gauge("sluice_registry_version", "Policy snapshots that replaced the first (reloads and admin edits).", "gauge",
                  QByteArray::number(context.snapshots->version()));
            gauge("sluice_registry_up", "1 when the registry source is reachable.", "gauge",
                  context.registry.degraded() ? "0" : "1");
            gauge("sluice_breaker_state", "Worst circuit breaker state over the HTTP threads (0 closed, 1 half-open, 2 open).",
                  "gauge", QByteArray::number(store.worstBreaker));
            gauge("sluice_breaker_open_threads", "HTTP threads whose circuit breaker is open.", "gauge",
                  QByteArray::number(store.openThreads));
            gauge("sluice_store_fallbacks_total", "Checks answered by the failure mode, over every thread.", "counter",
                  QByteArray::number(store.fallbacks));
            gauge("sluice_store_up", "1 when every thread's store is healthy.", "gauge", store.ok ? "1" : "0");
            gauge("sluice_http_threads", "HTTP server threads.", "gauge", QByteArray::number(context.workers.size()));
            // Redis batching and Sentinel, summed over the threads' stores (absent in the embedded mode).
            if (store.shared) {
                // by store, as the field names them (envoyproxy/ratelimit: redis errors/timeouts)
                const QByteArray label = "{store=\"" + store.source.toUtf8() + "\"}";
                out += "# HELP sluice_store_calls_total Check calls to the shared store (a batch of checks each).\n"
                       "# TYPE sluice_store_calls_total counter\nsluice_store_calls_total" + label + ' ' + QByteArray::number(store.calls) + '\n';
                out += "# HELP sluice_store_call_errors_total Check calls to the shared store that failed (timeouts included).\n"
                       "# TYPE sluice_store_call_errors_total counter\nsluice_store_call_errors_total" + label + ' '
                    + QByteArray::number(store.failedCalls) + '\n';
                out += "# HELP sluice_store_call_timeouts_total Check calls to the shared store that timed out (--redis-timeout-ms).\n"
                       "# TYPE sluice_store_call_timeouts_total counter\nsluice_store_call_timeouts_total" + label + ' '
                    + QByteArray::number(store.timedOutCalls) + '\n';
                gauge("sluice_redis_script_calls_total", "Check script calls sent to Redis (each decides a batch of checks).", "counter",
                      QByteArray::number(store.calls));
                gauge("sluice_redis_batched_checks_total",
                      "Checks those calls decided (on a Cluster: slot groups); divided by the calls, the mean batch size.", "counter",
                      QByteArray::number(store.batchedChecks));
            }
            if (store.followsSentinel)
                gauge("sluice_redis_primary_changes_total", "Times a thread followed Sentinel to another primary (failovers).", "counter",
                      QByteArray::number(store.primaryChanges));
            if (context.memoryCounters) {
                const ServerContext::MemoryCounters memory = context.memoryCounters();
                gauge("sluice_memory_keys", "Window keys held in process memory.", "gauge", QByteArray::number(memory.keys));
                gauge("sluice_memory_max_keys", "The bound on window keys in process memory (--max-keys).", "gauge",
                      QByteArray::number(memory.maxKeys));
                gauge("sluice_memory_reservations", "Reservations (token estimates, leases) the memory store holds until they expire.",
                      "gauge", QByteArray::number(memory.reservations));
                gauge("sluice_memory_full_refusals_total", "Checks refused because the memory store was at --max-keys.",
                      "counter", QByteArray::number(memory.refusedFull));
            }
            const UsageHistory::Stats usage = context.usage->stats();
            gauge("sluice_usage_pending_rows", "Usage history rows (tenant, model, scope, unit, minute) waiting to be written.", "gauge",
                  QByteArray::number(usage.pendingRows));
            gauge("sluice_usage_rows_written_total", "Usage history rows written (Postgres) or kept (memory).", "counter",
                  QByteArray::number(usage.writtenRows));
            gauge("sluice_usage_rows_dropped_total", "Usage history rows dropped: the waiting rows were at their bound.", "counter",
                  QByteArray::number(usage.droppedRows));
            gauge("sluice_usage_write_failures_total", "Usage history writes that failed (their rows wait for the next).", "counter",
                  QByteArray::number(usage.failedWrites));
            appendPoolMetrics(out, context, *snapshot);
            if (context.doorMetrics)
                context.doorMetrics(out);
            out += processMetrics();
            responder.send(200, out, "text/plain; version=0.0.4");
        });
    });

    api.route("GET", QLatin1String(api::kOpenApiPath), [](const HttpRequest &, HttpResponder responder) {
        QFile f(QStringLiteral(":/openapi.json"));
        if (!f.open(QIODevice::ReadOnly))
            throw ApiError::notFound(QStringLiteral("the OpenAPI document is not built in"));
        responder.send(200, f.readAll());
    });
    api.route("GET", QLatin1String(api::kDocsPath), [](const HttpRequest &, HttpResponder responder) {
        QFile f(QStringLiteral(":/docs.html"));
        if (!f.open(QIODevice::ReadOnly))
            throw ApiError::notFound(QStringLiteral("the API docs are not built in"));
        responder.send(200, f.readAll(), "text/html; charset=utf-8");
    });
}

} // namespace sluice
