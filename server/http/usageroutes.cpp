// SPDX-License-Identifier: Apache-2.0
// /admin/usage (count and limit per key now), DELETE /admin/usage/{key} (reset a counter),
// /admin/top-blocked (merged over every thread).
#include "apipaths.h"
#include "http/adminroutes.h"
#include "http/adminsupport.h"
#include "http/servercontext.h"

namespace sluice {

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
