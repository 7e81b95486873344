// SPDX-License-Identifier: Apache-2.0
// /admin/api-keys: create (the plaintext is in this one answer and nowhere else), list, revoke.
#include "apipaths.h"
#include "http/adminroutes.h"
#include "http/adminsupport.h"
#include "http/servercontext.h"

namespace sluice {

namespace {
QJsonObject keyJson(const ApiKeyRow &k)
{
    return {{QStringLiteral("id"), k.id},
            {QStringLiteral("tenantId"), k.tenantId},
            {QStringLiteral("userId"), k.userId.isNull() ? QJsonValue() : QJsonValue(k.userId)},
            {QStringLiteral("prefix"), k.prefix},
            {QStringLiteral("createdAt"), k.createdAt.isValid() ? QJsonValue(k.createdAt.toString(Qt::ISODate)) : QJsonValue()},
            {QStringLiteral("revoked"), k.revoked},
            {QStringLiteral("priority"), k.priority ? QJsonValue(priorityName(*k.priority)) : QJsonValue()}};
}
} // namespace

void installApiKeyRoutes(HttpApi &api, const ServerContext &context)
{
    AdminBackend *backend = context.admin.get();
    QObject *ctx = &api;
    const QString keys = QLatin1String(api::kAdminApiKeys);
    api.route("POST", keys, adminOnly(context, [backend, ctx](const HttpRequest &r, HttpResponder responder) {
        const QJsonObject o = bodyObject(r);
        const QJsonValue tenant = o.value(QStringLiteral("tenantId"));
        const QJsonValue user = o.value(QStringLiteral("userId"));
        if (!tenant.isString() || tenant.toString().isEmpty())
            throw ApiError::badRequest(QStringLiteral("tenantId is required"));
        if (!user.isUndefined() && !user.isNull() && !user.isString())
            throw ApiError::badRequest(QStringLiteral("userId must be null or a string"));
        qCInfo(lcAdmin, "create API key for tenant %s", qPrintable(tenant.toString()));
        backend->createApiKey(ctx, tenant.toString(), user.isString() ? user.toString() : QString(),
                              answer<CreatedApiKey>(responder, [](HttpResponder &res, const CreatedApiKey &k) {
                                  QJsonObject o = keyJson(k.row);
                                  o.insert(QStringLiteral("apiKey"), k.plaintext);
                                  o.insert(QStringLiteral("note"), QStringLiteral("store this key now: it is not shown again"));
                                  res.send(201, compactJson(o));
                              }));
    }));
    api.route("GET", keys, adminOnly(context, [backend, ctx](const HttpRequest &, HttpResponder responder) {
        backend->listApiKeys(ctx, answer<QList<ApiKeyRow>>(responder, [](HttpResponder &res, const QList<ApiKeyRow> &list) {
            QJsonArray a;
            for (const ApiKeyRow &k : list)
                a.append(keyJson(k));
            res.send(200, compactJson(a));
        }));
    }));
    api.routeTail("DELETE", keys, adminOnly(context, [backend, ctx](const HttpRequest &r, HttpResponder responder) {
        bool ok = false;
        const qint64 id = r.pathTail.toLongLong(&ok);
        if (!ok)
            throw ApiError::notFound(QStringLiteral("'%1' is not an API key id").arg(r.pathTail));
        backend->revokeApiKey(ctx, id, answer<bool>(responder, [](HttpResponder &res, bool) { res.send(204, QByteArray()); }));
    }));
}

} // namespace sluice
