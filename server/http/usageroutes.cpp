// SPDX-License-Identifier: Apache-2.0
// /admin/usage (count and limit per key now), DELETE /admin/usage/{key} (reset a counter),
// /admin/top-blocked (merged over every thread), /admin/analytics (the usage history).
#include "apipaths.h"
#include "http/adminroutes.h"
#include "http/adminsupport.h"
#include "http/servercontext.h"

#include <QDateTime>
#include <QHash>
#include <QUrlQuery>

namespace sluice {

namespace {

// ?from= / ?to=: ISO 8601 (2026-11-23T01:00:00Z) or epoch seconds; absent: `fallback`.
qint64 timeParameter(const HttpRequest &r, const QString &name, qint64 fallback)
{
    const QString v = r.query.queryItemValue(name, QUrl::FullyDecoded);
    if (v.isEmpty())
        return fallback;
    bool ok = false;
    const qint64 n = v.toLongLong(&ok);
    if (ok && n >= 0)
        return n;
    const QDateTime t = QDateTime::fromString(v, Qt::ISODate);
    if (!t.isValid())
        throw ApiError::badRequest(QStringLiteral("%1 must be an ISO 8601 time (2026-11-23T01:00:00Z) or epoch seconds, got '%2'").arg(name, v));
    return t.toSecsSinceEpoch();
}

AnalyticsQuery analyticsQuery(const HttpRequest &r)
{
    AnalyticsQuery q;
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    q.to = timeParameter(r, QStringLiteral("to"), now + 60);
    q.from = timeParameter(r, QStringLiteral("from"), q.to - 3600);
    if (q.from >= q.to)
        throw ApiError::badRequest(QStringLiteral("from must be before to"));
    const QString group = r.query.queryItemValue(QStringLiteral("groupBy"));
    if (group.isEmpty() || group == QStringLiteral("tenant"))
        q.groupBy = AnalyticsQuery::GroupBy::Tenant;
    else if (group == QStringLiteral("model"))
        q.groupBy = AnalyticsQuery::GroupBy::Model;
    else if (group == QStringLiteral("scope"))
        q.groupBy = AnalyticsQuery::GroupBy::Scope;
    else
        throw ApiError::badRequest(QStringLiteral("groupBy must be tenant, model or scope, got '%1'").arg(group));
    const QString step = r.query.queryItemValue(QStringLiteral("step"));
    const qint64 span = q.to - q.from;
    q.step = span <= 6 * 3600 ? 60 : span <= 7 * 86400 ? 3600 : 86400; // a readable number of points by default
    if (!step.isEmpty()) {
        bool ok = false;
        q.step = step.toLongLong(&ok);
        if (!ok || q.step < 60 || q.step > 86400 * 31 || q.step % 60 != 0)
            throw ApiError::badRequest(QStringLiteral("step must be seconds, a multiple of 60 from 60 to 2678400, got '%1'").arg(step));
    }
    if (span / q.step > 10000)
        throw ApiError::badRequest(QStringLiteral("at most 10000 steps: widen step or narrow from/to"));
    return q;
}

QString isoTime(qint64 epochSeconds) { return QDateTime::fromSecsSinceEpoch(epochSeconds, Qt::UTC).toString(Qt::ISODate); }

QJsonObject countsJson(const UsageCounts &c)
{
    return {{QStringLiteral("allowed"), c.allowed}, {QStringLiteral("blocked"), c.blocked}, {QStringLiteral("tokens"), c.tokens}};
}

} // namespace

void installUsageRoutes(HttpApi &api, const ServerContext &context, WindowStore &store)
{
    api.route("GET", QLatin1String(api::kAdminUsage), adminOnly(context, [&context, &store](const HttpRequest &r, HttpResponder responder) {
        auto keys = keysFrom(r);
        if (keys.empty())
            throw ApiError::badRequest(QStringLiteral("name the keys: ?keys=<key>,<key> or ?key=<key>&key=<key>"));
        // The callback holds the snapshot its policies point into.
        auto governed = std::make_shared<const GovernedKeys>(governedKeys(context.snapshots->current(), std::move(keys)));
        store.usage(governed->specs(), [responder, governed](bool ok, std::vector<KeyUsage> usage) mutable {
            if (!ok)
                return responder.sendError(ApiError::unavailable(QStringLiteral("the window store is unavailable")));
            responder.send(200, compactJson(governed->usageJson(usage)));
        });
    }));
    api.routeTail("DELETE", QLatin1String(api::kAdminUsage), adminOnly(context, [&store](const HttpRequest &r, HttpResponder responder) {
        const QByteArray key = r.pathTail.toUtf8();
        if (!parseWindowKey(key))
            throw ApiError::badRequest(QStringLiteral("'%1' is not a window key").arg(r.pathTail));
        qCInfo(lcAdmin, "reset usage of %s", key.constData());
        store.reset(key, [responder](bool ok) mutable {
            if (ok)
                responder.send(204, QByteArray());
            else
                responder.sendError(ApiError::unavailable(QStringLiteral("the window store is unavailable")));
        });
    }));
    QObject *home = &api; // answers come back on this thread
    api.route("GET", QLatin1String(api::kAdminAnalytics), adminOnly(context, [&context, home](const HttpRequest &r, HttpResponder responder) {
        const AnalyticsQuery q = analyticsQuery(r);
        const QString source = context.usage->source();
        context.usage->query(home, q, [responder, q, source](UsageResult<std::vector<AnalyticsPoint>> result) mutable {
            if (auto *e = std::get_if<ApiError>(&result))
                return responder.sendError(*e);
            // One series per key, its points in time order; totals over everything. (Each point
            // is appended where it goes: the arrays are built once, then put into the answer.)
            std::vector<std::pair<QString, QJsonArray>> built;
            QHash<QString, size_t> seriesOf;
            UsageCounts total;
            for (const AnalyticsPoint &p : std::get<std::vector<AnalyticsPoint>>(result)) {
                auto it = seriesOf.constFind(p.key);
                if (it == seriesOf.constEnd()) {
                    it = seriesOf.insert(p.key, built.size());
                    built.emplace_back(p.key, QJsonArray());
                }
                QJsonObject point = countsJson(p.counts);
                point.insert(QStringLiteral("time"), isoTime(p.time));
                built[*it].second.append(point);
                total.add(p.counts);
            }
            QJsonArray series;
            for (auto &[key, points] : built)
                series.append(QJsonObject{{QStringLiteral("key"), key}, {QStringLiteral("points"), std::move(points)}});
            static const char *const groups[] = {"tenant", "model", "scope"};
            responder.send(200, compactJson(QJsonObject{{QStringLiteral("from"), isoTime(q.from)},
                                                        {QStringLiteral("to"), isoTime(q.to)},
                                                        {QStringLiteral("step"), q.step},
                                                        {QStringLiteral("groupBy"), QLatin1String(groups[static_cast<int>(q.groupBy)])},
                                                        {QStringLiteral("source"), source},
                                                        {QStringLiteral("series"), series},
                                                        {QStringLiteral("totals"), countsJson(total)}}));
        });
    }));
    api.route("GET", QLatin1String(api::kAdminTopBlocked), adminOnly(context, [&context](const HttpRequest &r, HttpResponder responder) {
        bool ok = false;
        int n = r.query.queryItemValue(QStringLiteral("n")).toInt(&ok);
        if (!ok)
            n = 10;
        n = std::clamp(n, 1, 1000);
        QJsonArray a;
        for (const BlockedEntry &e : context.topBlocked->top(n))
            a.append(QJsonObject{{QStringLiteral("key"), QString::fromUtf8(e.key)},
                                 {QStringLiteral("scope"), scopeName(e.scope)},
                                 {QStringLiteral("label"), e.label},
                                 {QStringLiteral("tenantId"), e.tenant.isNull() ? QJsonValue() : QJsonValue(e.tenant)},
                                 {QStringLiteral("modelId"), e.model},
                                 {QStringLiteral("blocked"), e.blocked},
                                 {QStringLiteral("lastBlockedAt"), e.lastBlockedAt.toString(Qt::ISODateWithMs)}});
        responder.send(200, compactJson(a));
    }));
}

} // namespace sluice
