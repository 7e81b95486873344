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
int breakerRank(const QString &state)
{
    return state == QStringLiteral("open") ? 2 : state == QStringLiteral("half-open") ? 1 : 0;
}
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

QJsonObject processStoreHealth(const std::vector<QJsonObject> &threads, const QJsonObject &memory)
{
    QJsonObject o;
    QJsonArray each;
    bool degraded = false;
    bool hasBreaker = false;
    int worstBreaker = 0, openThreads = 0;
    qint64 opens = 0, fallbacks = 0, inFlight = 0;
    int connected = 0;
    QString lastError;
    for (const QJsonObject &t : threads) {
        each.append(t);
        if (!o.contains(QStringLiteral("source")) && t.contains(QStringLiteral("source")))
            o.insert(QStringLiteral("source"), t.value(QStringLiteral("source")));
        degraded = degraded || t.value(QStringLiteral("status")).toString() != QStringLiteral("ok");
        if (t.contains(QStringLiteral("breaker"))) {
            hasBreaker = true;
            const QJsonObject b = t.value(QStringLiteral("breaker")).toObject();
            const int rank = breakerRank(b.value(QStringLiteral("state")).toString());
            worstBreaker = std::max(worstBreaker, rank);
            openThreads += rank == 2 ? 1 : 0;
            opens += b.value(QStringLiteral("opens")).toInteger();
        }
        fallbacks += t.value(QStringLiteral("fallbacks")).toInteger();
        inFlight += t.value(QStringLiteral("inFlight")).toInteger();
        connected += t.value(QStringLiteral("connected")).toBool() ? 1 : 0;
        if (lastError.isEmpty())
            lastError = t.value(QStringLiteral("lastError")).toString();
        if (t.contains(QStringLiteral("failureMode")))
            o.insert(QStringLiteral("failureMode"), t.value(QStringLiteral("failureMode")));
    }
    o.insert(QStringLiteral("status"), degraded ? QStringLiteral("degraded") : QStringLiteral("ok"));
    if (hasBreaker) {
        o.insert(QStringLiteral("breaker"), QJsonObject{{QStringLiteral("state"), QLatin1String(breakerName(worstBreaker))},
                                                       {QStringLiteral("openThreads"), openThreads},
                                                       {QStringLiteral("opens"), opens}});
        o.insert(QStringLiteral("fallbacks"), fallbacks);
        o.insert(QStringLiteral("connectedThreads"), connected);
        o.insert(QStringLiteral("inFlight"), inFlight);
    }
    if (!lastError.isEmpty())
        o.insert(QStringLiteral("lastError"), lastError);
    if (!memory.isEmpty())
        o.insert(QStringLiteral("memory"), memory);
    o.insert(QStringLiteral("threads"), each);
    return o;
}

void installOpsRoutes(HttpApi &api, const ServerContext &context)
{
    api.route("GET", QLatin1String(api::kHealthPath), [&context](const HttpRequest &, HttpResponder responder) {
        context.workers.gather([&context, responder](std::vector<QJsonObject> threads) mutable {
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
            responder.send(200, QJsonDocument(o).toJson(QJsonDocument::Compact));
        });
    });

    api.route("GET", QLatin1String(api::kMetricsPath), [&context](const HttpRequest &, HttpResponder responder) {
        context.workers.gather([&context, responder](std::vector<QJsonObject> threads) mutable {
            const QJsonObject memory = context.memoryHealth ? context.memoryHealth() : QJsonObject();
            const QJsonObject store = processStoreHealth(threads, memory);
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
            const QJsonObject breaker = store.value(QStringLiteral("breaker")).toObject();
            gauge("sluice_breaker_state", "Worst circuit breaker state over the HTTP threads (0 closed, 1 half-open, 2 open).",
                  "gauge", QByteArray::number(breakerRank(breaker.value(QStringLiteral("state")).toString())));
            gauge("sluice_breaker_open_threads", "HTTP threads whose circuit breaker is open.", "gauge",
                  QByteArray::number(breaker.value(QStringLiteral("openThreads")).toInt()));
            gauge("sluice_store_fallbacks_total", "Checks answered by the failure mode, over every thread.", "counter",
                  QByteArray::number(store.value(QStringLiteral("fallbacks")).toInteger()));
            gauge("sluice_store_up", "1 when every thread's store is healthy.", "gauge",
                  store.value(QStringLiteral("status")).toString() == QStringLiteral("ok") ? "1" : "0");
            gauge("sluice_http_threads", "HTTP server threads.", "gauge", QByteArray::number(context.workers.size()));
            // Redis batching and Sentinel, summed over the threads' stores (absent in the embedded mode).
            qint64 calls = 0, batched = 0, primaryChanges = 0, failedCalls = 0, timedOutCalls = 0;
            bool redis = false, sentinel = false;
            for (const QJsonValue &t : store.value(QStringLiteral("threads")).toArray()) {
                const QJsonObject o = t.toObject();
                if (o.contains(QStringLiteral("batches"))) {
                    redis = true;
                    calls += o.value(QStringLiteral("batches")).toInteger();
                    batched += o.value(QStringLiteral("batchedChecks")).toInteger();
                    failedCalls += o.value(QStringLiteral("failedCalls")).toInteger();
                    timedOutCalls += o.value(QStringLiteral("timedOutCalls")).toInteger();
                }
                if (o.contains(QStringLiteral("sentinel"))) {
                    sentinel = true;
                    primaryChanges += o.value(QStringLiteral("sentinel")).toObject().value(QStringLiteral("primaryChanges")).toInteger();
                }
            }
            if (redis) {
                // by store, as the field names them (envoyproxy/ratelimit: redis errors/timeouts)
                const QByteArray label = "{store=\"" + store.value(QStringLiteral("source")).toString().toUtf8() + "\"}";
                out += "# HELP sluice_store_calls_total Check calls to the shared store (a batch of checks each).\n"
                       "# TYPE sluice_store_calls_total counter\nsluice_store_calls_total" + label + ' ' + QByteArray::number(calls) + '\n';
                out += "# HELP sluice_store_call_errors_total Check calls to the shared store that failed (timeouts included).\n"
                       "# TYPE sluice_store_call_errors_total counter\nsluice_store_call_errors_total" + label + ' '
                    + QByteArray::number(failedCalls) + '\n';
                out += "# HELP sluice_store_call_timeouts_total Check calls to the shared store that timed out (--redis-timeout-ms).\n"
                       "# TYPE sluice_store_call_timeouts_total counter\nsluice_store_call_timeouts_total" + label + ' '
                    + QByteArray::number(timedOutCalls) + '\n';
                gauge("sluice_redis_script_calls_total", "Check script calls sent to Redis (each decides a batch of checks).", "counter",
                      QByteArray::number(calls));
                gauge("sluice_redis_batched_checks_total",
                      "Checks those calls decided (on a Cluster: slot groups); divided by the calls, the mean batch size.", "counter",
                      QByteArray::number(batched));
            }
            if (sentinel)
                gauge("sluice_redis_primary_changes_total", "Times a thread followed Sentinel to another primary (failovers).", "counter",
                      QByteArray::number(primaryChanges));
            if (!memory.isEmpty()) {
                gauge("sluice_memory_keys", "Window keys held in process memory.", "gauge",
                      QByteArray::number(memory.value(QStringLiteral("keys")).toInteger()));
                gauge("sluice_memory_max_keys", "The bound on window keys in process memory (--max-keys).", "gauge",
                      QByteArray::number(memory.value(QStringLiteral("maxKeys")).toInteger()));
                gauge("sluice_memory_reservations", "Reservations (token estimates, leases) the memory store holds until they expire.",
                      "gauge", QByteArray::number(memory.value(QStringLiteral("reservations")).toInteger()));
                gauge("sluice_memory_full_refusals_total", "Checks refused because the memory store was at --max-keys.",
                      "counter", QByteArray::number(memory.value(QStringLiteral("refusedFull")).toInteger()));
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
