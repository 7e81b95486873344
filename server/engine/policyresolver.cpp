// SPDX-License-Identifier: Apache-2.0
#include "engine/policyresolver.h"

#include "engine/windowrules.h"

#include "apierror.h"
#include "windowkey.h"

#include <QCryptographicHash>
#include <QStringBuilder>

namespace sluice {

QString ResolvedCheck::label(const AppliedPolicy &a) const
{
    if (!a.label.isNull())
        return a.label;
    const PolicyDto &p = *a.policy;
    switch (p.scope) {
    case Scope::UserModel:
        return u"user " % userId % u" on model " % modelId % QLatin1String(p.isScopeDefault() ? " (default)" : "");
    case Scope::ApiKey:
        return u"api key " % QString::number(apiKey ? apiKey->id : 0) % u" (" % (apiKey ? apiKey->prefix : QString()) % u"…)"
               % QLatin1String(p.isScopeDefault() ? " (default)" : "");
    case Scope::Tenant: return entityLabel(p.scope, tenantId, p.isScopeDefault());
    case Scope::Model: return entityLabel(p.scope, modelId, p.isScopeDefault());
    case Scope::ModelTier: return entityLabel(p.scope, modelTier, p.isScopeDefault());
    case Scope::Global: return QStringLiteral("global");
    }
    return QString();
}

ResolvedCheck PolicyResolver::resolve(std::shared_ptr<const PolicySnapshot> snapshot, const CheckRequest &request,
                                      const QString &headerApiKey)
{
    const PolicySnapshot &s = *snapshot;
    ResolvedCheck r;
    r.userId = request.userId;
    r.modelId = request.modelId;
    r.tenantId = request.tenantId;
    r.cost = request.cost;
    r.costGiven = request.costGiven;

    // Identity: the API key (header or body), then the registry's user.
    QString plaintext = headerApiKey.isEmpty() ? request.apiKey : headerApiKey;
    if (!headerApiKey.isEmpty() && !request.apiKey.isNull() && request.apiKey != headerApiKey)
        throw ApiError::badRequest(QStringLiteral("apiKey and the X-API-Key header name different keys"));
    if (!plaintext.isEmpty()) {
        const QByteArray hash = QCryptographicHash::hash(plaintext.toUtf8(), QCryptographicHash::Sha256);
        r.apiKey = s.apiKeyByHash(hash);
        if (!r.apiKey)
            throw ApiError::unauthorized(QStringLiteral("unknown API key"));
        if (r.tenantId.isNull())
            r.tenantId = r.apiKey->tenantId;
        else if (r.tenantId != r.apiKey->tenantId)
            throw ApiError::forbidden(QStringLiteral("the API key does not belong to tenant %1").arg(r.tenantId));
        if (!r.apiKey->userId.isNull() && r.apiKey->userId != r.userId)
            throw ApiError::forbidden(QStringLiteral("the API key does not belong to user %1").arg(r.userId));
    }
    if (const UserRow *user = s.user(r.userId)) {
        if (r.tenantId.isNull())
            r.tenantId = user->tenantId;
        else if (r.tenantId != user->tenantId)
            throw ApiError::forbidden(
                QStringLiteral("user %1 does not belong to tenant %2").arg(r.userId, r.tenantId));
    }

    // The tier comes from the registry, never from the caller.
    const PolicySnapshot::Entity model = s.model(r.modelId);
    r.modelTier = model.tier;
    r.pool = model.pool;
    if (!request.modelTier.isNull() && !r.modelTier.isNull() && request.modelTier != r.modelTier)
        throw ApiError::badRequest(QStringLiteral("modelTier %1 contradicts the registry: model %2 is %3")
                                       .arg(request.modelTier, r.modelId, r.modelTier));

    r.applied.reserve(6);
    r.windows.keys.reserve(6);
    // Per scope, most specific first, one policy per unit: requests weigh 1, tokens the request's
    // cost (reweighed at completion), concurrent a lease of 1.
    // The snapshot's label of a known tenant, model or tier (null otherwise: label() makes it).
    auto labelOf = [](const PolicySnapshot::Entity *e, const PolicyDto *p) {
        return !e ? QString() : p->isScopeDefault() ? e->defaultLabel : e->label;
    };
    auto apply = [&r, &labelOf](const PolicySnapshot::PolicySet &set, const QByteArray &key,
                                const PolicySnapshot::Entity *entity = nullptr) {
        if (!set[unitIndex(Unit::Tokens)] && !set[unitIndex(Unit::Concurrent)]) { // the usual case: requests only
            const PolicyDto *p = set[unitIndex(Unit::Requests)];
            if (p && p->algorithm == Algorithm::SlidingLog && !p->shadow) {
                r.applied.push_back({p, labelOf(entity, p)});
                r.windows.keys.push_back({key, p->windowSeconds * 1000000, p->limit}); // (= window::specFor, cheaper)
                return;
            }
        }
        for (Unit unit : kUnits) {
            if (const PolicyDto *p = set[unitIndex(unit)]) {
                r.applied.push_back({p, labelOf(entity, p)});
                r.windows.keys.push_back(window::specFor(*p, key, r.cost));
            }
        }
    };
    const PolicySnapshot::PolicySet userModel = s.userModelPolicies(r.userId, r.modelId);
    if (userModel[0] || userModel[1] || userModel[2])
        apply(userModel, windowKey(Scope::UserModel, r.userId, r.modelId));
    if (r.apiKey) {
        const PolicySnapshot::PolicySet keyPolicies = s.apiKeyPolicies(r.apiKey->id);
        if (keyPolicies[0] || keyPolicies[1] || keyPolicies[2])
            apply(keyPolicies, windowKey(Scope::ApiKey, QString::number(r.apiKey->id)));
    }
    // API key > tenant > tier (a plain flag: GCC's -Wmaybe-uninitialized misreads an optional here).
    bool decided = r.apiKey && r.apiKey->priority.has_value();
    r.priority = decided ? *r.apiKey->priority : Priority::Standard;
    auto inherit = [&r, &decided](const std::optional<Priority> &p) {
        if (!decided && p) {
            r.priority = *p;
            decided = true;
        }
    };
    if (!r.tenantId.isNull()) {
        const PolicySnapshot::Entity tenant = s.tenant(r.tenantId);
        apply(tenant.policies, tenant.key, &tenant);
        inherit(tenant.priority);
    }
    apply(model.policies, model.key, &model);
    if (!r.modelTier.isNull()) {
        const PolicySnapshot::Entity tier = s.tier(r.modelTier);
        apply(tier.policies, tier.key, &tier);
        inherit(tier.priority);
    }
    apply(s.globalPolicies(), s.globalKey());
    r.snapshot = std::move(snapshot);
    return r;
}

} // namespace sluice
