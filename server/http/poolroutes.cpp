// SPDX-License-Identifier: Apache-2.0
// Design §14 over HTTP: GET /admin/pools (each pool's saturation, factor, signal and shed counts),
// PUT /admin/pools/{name}/load (a router or autoscaler pushes the load), and the priority classes
// of tenants, tiers and API keys (PUT /admin/tenants/{id}, /admin/tiers/{name}, /admin/api-keys/{id}).
#include "apipaths.h"
#include "engine/registryjson.h"
#include "http/adminroutes.h"
#include "http/adminsupport.h"
#include "http/servercontext.h"

#include "engine/clock.h"

#include <cmath>

namespace sluice {

namespace {

QJsonValue ratio(double v) { return v < 0 || !std::isfinite(v) ? QJsonValue() : QJsonValue(std::round(v * 10000) / 10000); }

QJsonObject poolJson(const ServerContext &context, const PoolRow &row, const PoolView &view,
                     const std::array<qint64, kPriorityCount> &shed)
{
    QJsonObject o = poolToJson(row);
    const PoolState state = poolLive(view, row.name).state;
    o.insert(QStringLiteral("saturation"), ratio(state.saturation));
    o.insert(QStringLiteral("saturated"), state.saturated());
    o.insert(QStringLiteral("factor"), ratio(state.factor));
    // The own view's queue is its saturation in the store's terms, not a queue: not shown as one.
    o.insert(QStringLiteral("queue"), state.source == QLatin1String("own") ? QJsonValue() : ratio(state.queue));
    o.insert(QStringLiteral("kvCache"), ratio(state.kvCache));
    o.insert(QStringLiteral("stale"), state.stale);
    QJsonObject signal{{QStringLiteral("source"), state.source.isEmpty() ? QJsonValue() : QJsonValue(state.source)},
                       {QStringLiteral("ageSeconds"), state.signalAgeMs < 0 ? QJsonValue() : QJsonValue(state.signalAgeMs / 1000.0)},
                       {QStringLiteral("staleAfterSeconds"), context.poolSettings.staleMs / 1000.0}};
    const QJsonObject errors = context.pools->sourceErrors(row.name);
    if (!errors.isEmpty())
        signal.insert(QStringLiteral("errors"), errors);
    QJsonArray sources;
    if (!row.metricsUrls.isEmpty())
        sources.append(QStringLiteral("metrics"));
    if (!context.prometheusUrl.isEmpty())
        sources.append(QStringLiteral("prometheus"));
    sources.append(QStringLiteral("push"));
    if (row.metricsUrls.isEmpty() && context.prometheusUrl.isEmpty())
        sources.append(QStringLiteral("own"));
    signal.insert(QStringLiteral("configured"), sources);
    const QJsonObject own = context.pools->ownSummary(row.name);
    if (!own.isEmpty())
        signal.insert(QStringLiteral("own"), own);
    o.insert(QStringLiteral("signal"), signal);
    QJsonObject shedJson;
    for (Priority p : kPriorities)
        shedJson.insert(priorityName(p), shed[static_cast<size_t>(priorityIndex(p))]);
    o.insert(QStringLiteral("shed"), shedJson);
    return o;
}

// {"priority": "critical" | "standard" | "sheddable" | null}
std::optional<Priority> priorityFrom(const HttpRequest &r)
{
    const QJsonObject o = bodyObject(r);
    const QJsonValue v = o.value(QStringLiteral("priority"));
    if (v.isUndefined())
        throw ApiError::badRequest(QStringLiteral("priority is required: critical, standard, sheddable or null (inherit)"));
    if (v.isNull())
        return std::nullopt;
    const auto p = priorityFromName(v.toString());
    if (!v.isString() || !p)
        throw ApiError::badRequest(QStringLiteral("priority must be critical, standard, sheddable or null (inherit)"));
    return p;
}

} // namespace

void installPoolRoutes(HttpApi &api, const ServerContext &context)
{
    const QString pools = QLatin1String(api::kAdminPools);
    api.route("GET", pools, adminOnly(context, [&context](const HttpRequest &, HttpResponder responder) {
        const auto snapshot = context.snapshots->current();
        const auto view = context.pools->current();
        const auto shed = context.pools->shedTotals();
        QJsonArray a;
        for (const PoolRow &row : snapshot->data().pools) {
            const auto it = shed.find(row.name);
            a.append(poolJson(context, row, *view, it == shed.end() ? std::array<qint64, kPriorityCount>{} : it->second));
        }
        responder.send(200, compactJson(a));
    }));
    api.routeTail("PUT", pools, QStringLiteral("/load"), adminOnly(context, [&context](const HttpRequest &r, HttpResponder responder) {
        if (!context.snapshots->current()->poolNamed(r.pathTail))
            throw ApiError::notFound(QStringLiteral("there is no pool %1").arg(r.pathTail));
        const QJsonObject o = bodyObject(r);
        double parts[2] = {-1, -1};
        const char *fields[2] = {"queue", "kvCache"};
        for (int i = 0; i < 2; ++i) {
            const QJsonValue v = o.value(QLatin1String(fields[i]));
            if (v.isUndefined() || v.isNull())
                continue;
            if (!v.isDouble() || !std::isfinite(v.toDouble()) || v.toDouble() < 0 || (i == 1 && v.toDouble() > 1))
                throw ApiError::badRequest(i == 0 ? QStringLiteral("queue must be a number >= 0 (requests waiting per model server)")
                                                  : QStringLiteral("kvCache must be a number from 0 to 1 (the share of KV cache in use)"));
            parts[i] = v.toDouble();
        }
        if (parts[0] < 0 && parts[1] < 0)
            throw ApiError::badRequest(QStringLiteral("give queue, kvCache or both"));
        context.pools->push(r.pathTail, parts[0], parts[1], steadyClock()->nowUs() / 1000);
        responder.send(202, compactJson(QJsonObject{{QStringLiteral("pool"), r.pathTail},
                                                    {QStringLiteral("queue"), ratio(parts[0])},
                                                    {QStringLiteral("kvCache"), ratio(parts[1])},
                                                    {QStringLiteral("note"), QStringLiteral("applied at the next step (within a second)")}}));
    }));

    AdminBackend *backend = context.admin.get();
    QObject *ctx = &api;
    const std::pair<const char *, AdminBackend::PriorityHolder> holders[] = {
        {api::kAdminTenants, AdminBackend::PriorityHolder::Tenant},
        {api::kAdminTiers, AdminBackend::PriorityHolder::Tier},
        {api::kAdminApiKeys, AdminBackend::PriorityHolder::ApiKey}};
    for (const auto &[path, holder] : holders) {
        api.routeTail("PUT", QLatin1String(path), adminOnly(context, [backend, ctx, holder = holder](const HttpRequest &r, HttpResponder responder) {
            const std::optional<Priority> priority = priorityFrom(r);
            qCInfo(lcAdmin, "set the priority of %s %s to %s", qPrintable(priorityHolderName(holder)), qPrintable(r.pathTail),
                   priority ? qPrintable(priorityName(*priority)) : "inherit");
            const QString id = r.pathTail;
            backend->setPriority(ctx, holder, id, priority, answer<bool>(responder, [id, priority](HttpResponder &res, bool) {
                res.send(200, compactJson(QJsonObject{{QStringLiteral("id"), id},
                                                      {QStringLiteral("priority"), priority ? QJsonValue(priorityName(*priority)) : QJsonValue()}}));
            }));
        }));
    }
}

} // namespace sluice
