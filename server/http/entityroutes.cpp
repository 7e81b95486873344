// SPDX-License-Identifier: Apache-2.0
// /admin/tenants, /admin/users, /admin/models, /admin/tiers: the registry's entities as the
// current snapshot has them (what is being enforced now).
#include "apipaths.h"
#include "http/adminroutes.h"
#include "http/adminsupport.h"
#include "http/servercontext.h"

namespace sluice {

void installEntityRoutes(HttpApi &api, const ServerContext &context)
{
    auto entities = [&context](auto toArray) {
        return adminOnly(context, [&context, toArray](const HttpRequest &, HttpResponder responder) {
            responder.send(200, compactJson(toArray(context.snapshots->current()->data())));
        });
    };
    api.route("GET", QLatin1String(api::kAdminTenants), entities([](const RegistryData &d) {
        QJsonArray a;
        for (const TenantRow &t : d.tenants)
            a.append(QJsonObject{{QStringLiteral("id"), t.id}, {QStringLiteral("name"), t.name},
                                 {QStringLiteral("priority"), t.priority ? QJsonValue(priorityName(*t.priority)) : QJsonValue()}});
        return a;
    }));
    api.route("GET", QLatin1String(api::kAdminUsers), entities([](const RegistryData &d) {
        QJsonArray a;
        for (const UserRow &u : d.users)
            a.append(QJsonObject{{QStringLiteral("id"), u.id}, {QStringLiteral("tenantId"), u.tenantId}});
        return a;
    }));
    api.route("GET", QLatin1String(api::kAdminModels), entities([](const RegistryData &d) {
        QJsonArray a;
        for (const ModelRow &m : d.models)
            a.append(QJsonObject{{QStringLiteral("id"), m.id}, {QStringLiteral("tier"), m.tierId},
                                 {QStringLiteral("upstream"), m.upstream.isEmpty() ? QJsonValue() : QJsonValue(m.upstream)}});
        return a;
    }));
    api.route("GET", QLatin1String(api::kAdminTiers), entities([](const RegistryData &d) {
        QJsonArray a;
        for (const TierRow &t : d.tiers)
            a.append(QJsonObject{{QStringLiteral("id"), t.id},
                                 {QStringLiteral("priority"), t.priority ? QJsonValue(priorityName(*t.priority)) : QJsonValue()}});
        return a;
    }));
}

} // namespace sluice
