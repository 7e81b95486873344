// SPDX-License-Identifier: Apache-2.0
// /admin/policies: list, get, create, update, delete (design §6), through the AdminBackend.
#include "apipaths.h"
#include "http/adminroutes.h"
#include "http/adminsupport.h"
#include "http/servercontext.h"

namespace sluice {

namespace {
PolicyDto policyFrom(const HttpRequest &r)
{
    QString error;
    auto p = PolicyDto::fromJson(bodyObject(r), &error);
    if (!p)
        throw ApiError::badRequest(error);
    if (const QString bound = p->boundError(); !bound.isEmpty())
        throw ApiError::badRequest(bound);
    return *p;
}
} // namespace

void installPolicyRoutes(HttpApi &api, const ServerContext &context)
{
    AdminBackend *backend = context.admin.get();
    QObject *ctx = &api;
    const QString policies = QLatin1String(api::kAdminPolicies);
    const QString policyId = QStringLiteral("a policy");

    api.route("GET", policies, adminOnly(context, [backend, ctx](const HttpRequest &, HttpResponder responder) {
        backend->listPolicies(ctx, answer<QList<PolicyDto>>(responder, [](HttpResponder &res, const QList<PolicyDto> &list) {
            QJsonArray a;
            for (const PolicyDto &p : list)
                a.append(p.toJson());
            res.send(200, compactJson(a));
        }));
    }));
    api.routeTail("GET", policies, adminOnly(context, [backend, ctx, policyId](const HttpRequest &r, HttpResponder responder) {
        backend->getPolicy(ctx, idFrom(r, policyId), answer<PolicyDto>(responder, [](HttpResponder &res, const PolicyDto &p) {
            res.send(200, compactJson(p.toJson()));
        }));
    }));
    api.route("POST", policies, adminOnly(context, [backend, ctx](const HttpRequest &r, HttpResponder responder) {
        const PolicyDto p = policyFrom(r);
        qCInfo(lcAdmin, "create %s policy", qPrintable(scopeName(p.scope)));
        backend->createPolicy(ctx, p, answer<PolicyDto>(responder, [](HttpResponder &res, const PolicyDto &created) {
            res.send(201, compactJson(created.toJson()), "application/json",
                     {{"Location", "/admin/policies/" + QByteArray::number(created.id)}});
        }));
    }));
    api.routeTail("PUT", policies, adminOnly(context, [backend, ctx, policyId](const HttpRequest &r, HttpResponder responder) {
        const qint64 id = idFrom(r, policyId);
        backend->updatePolicy(ctx, id, policyFrom(r), answer<PolicyDto>(responder, [](HttpResponder &res, const PolicyDto &p) {
            res.send(200, compactJson(p.toJson()));
        }));
    }));
    api.routeTail("DELETE", policies, adminOnly(context, [backend, ctx, policyId](const HttpRequest &r, HttpResponder responder) {
        backend->deletePolicy(ctx, idFrom(r, policyId),
                              answer<bool>(responder, [](HttpResponder &res, bool) { res.send(204, QByteArray()); }));
    }));
}

} // namespace sluice
