// SPDX-License-Identifier: Apache-2.0
#include "opsroutes.h"

#include "apipaths.h"
#include "servercontext.h"
#include "windowstore.h"

#include <QFile>
#include <QJsonDocument>

namespace sluice {

QJsonObject RegistryStatus::toJson(const PolicySnapshot &snapshot) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    QJsonObject o;
    o.insert(QStringLiteral("source"), m_source);
    o.insert(QStringLiteral("status"), m_connected ? QStringLiteral("ok") : QStringLiteral("degraded"));
    o.insert(QStringLiteral("snapshotLoadedAt"), snapshot.loadedAt().toString(Qt::ISODateWithMs));
    o.insert(QStringLiteral("snapshotAgeSeconds"), snapshot.loadedAt().secsTo(QDateTime::currentDateTimeUtc()));
    o.insert(QStringLiteral("policies"), static_cast<int>(snapshot.data().policies.size()));
    if (!m_lastError.isEmpty())
        o.insert(QStringLiteral("lastError"), m_lastError);
    return o;
}

void installOpsRoutes(HttpApi &api, const ServerContext &context, WindowStore &store)
{
    api.route("GET", QLatin1String(api::kHealthPath), [&context, &store](const HttpRequest &, HttpResponder responder) {
        const auto snapshot = context.snapshots->current();
        QJsonObject storeHealth = store.health();
        storeHealth.insert(QStringLiteral("source"), store.source());
        if (!storeHealth.contains(QStringLiteral("status")))
            storeHealth.insert(QStringLiteral("status"), QStringLiteral("ok"));
        const bool degraded = context.registry.degraded()
            || storeHealth.value(QStringLiteral("status")).toString() != QStringLiteral("ok");
        QJsonObject o;
        o.insert(QStringLiteral("status"), degraded ? QStringLiteral("degraded") : QStringLiteral("ok"));
        o.insert(QStringLiteral("version"), QStringLiteral(SLUICE_VERSION_STRING));
        o.insert(QStringLiteral("uptimeSeconds"), context.startedAt.secsTo(QDateTime::currentDateTimeUtc()));
        o.insert(QStringLiteral("store"), storeHealth);
        o.insert(QStringLiteral("registry"), context.registry.toJson(*snapshot));
        o.insert(QStringLiteral("failureMode"), context.config.failureMode);
        o.insert(QStringLiteral("threads"), context.config.effectiveThreads());
        o.insert(QStringLiteral("admin"), context.config.adminToken.isEmpty() ? QStringLiteral("off") : QStringLiteral("on"));
        responder.send(200, QJsonDocument(o).toJson(QJsonDocument::Compact));
    });

    api.route("GET", QLatin1String(api::kMetricsPath), [&context, &store](const HttpRequest &, HttpResponder responder) {
        QByteArray out = context.metrics->renderPrometheus();
        const auto snapshot = context.snapshots->current();
        out += "# HELP sluice_policy_snapshot_age_seconds Seconds since the policy snapshot was loaded.\n"
               "# TYPE sluice_policy_snapshot_age_seconds gauge\nsluice_policy_snapshot_age_seconds "
            + QByteArray::number(snapshot->loadedAt().msecsTo(QDateTime::currentDateTimeUtc()) / 1000.0) + '\n';
        out += "# HELP sluice_registry_up 1 when the registry source is reachable.\n"
               "# TYPE sluice_registry_up gauge\nsluice_registry_up "
            + QByteArray(context.registry.degraded() ? "0" : "1") + '\n';
        const QJsonObject health = store.health();
        const QString breaker = health.value(QStringLiteral("breaker")).toObject().value(QStringLiteral("state")).toString(
            health.value(QStringLiteral("breaker")).toString(QStringLiteral("closed")));
        out += "# HELP sluice_breaker_state Circuit breaker state of the shared store (0 closed, 1 half-open, 2 open).\n"
               "# TYPE sluice_breaker_state gauge\nsluice_breaker_state "
            + QByteArray(breaker == QStringLiteral("open") ? "2" : breaker == QStringLiteral("half-open") ? "1" : "0") + '\n';
        if (context.memory) {
            out += "# HELP sluice_memory_keys Window keys held in process memory.\n"
                   "# TYPE sluice_memory_keys gauge\nsluice_memory_keys "
                + QByteArray::number(context.memory->keyCount()) + '\n';
        }
        responder.send(200, out, "text/plain; version=0.0.4");
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
