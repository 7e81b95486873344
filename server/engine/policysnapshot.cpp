// SPDX-License-Identifier: Apache-2.0
#include "engine/policysnapshot.h"

#include <QStringBuilder>
#include <atomic>

#include "windowkey.h"

#include <algorithm>

namespace sluice {

PolicyDto PolicySnapshot::baseRule()
{
    PolicyDto p;
    p.id = 0;
    p.scope = Scope::UserModel;
    p.windowSeconds = 3600;
    p.limit = 100;
    p.description = QStringLiteral("Base rule: 100 requests per hour per (user, model)");
    return p;
}

namespace {

quint64 nextSerial()
{
    static std::atomic<quint64> serial{0};
    return ++serial;
}

} // namespace

PolicySnapshot::PolicySnapshot(RegistryData data, QDateTime loadedAt)
    : m_data(std::move(data)), m_loadedAt(std::move(loadedAt)), m_serial(nextSerial())
{
    for (const TenantRow &t : m_data.tenants) {
        Known &k = m_tenantIndex[t.id];
        k.key = windowKey(Scope::Tenant, t.id);
        k.priority = t.priority;
    }
    for (const TierRow &t : m_data.tiers) {
        Known &k = m_tierIndex[t.id];
        k.key = windowKey(Scope::ModelTier, t.id);
        k.priority = t.priority;
    }
    m_globalKey = windowKey(Scope::Global);
    for (int i = 0; i < m_data.users.size(); ++i)
        m_users.emplace(m_data.users.at(i).id, i);
    for (const ModelRow &m : m_data.models) {
        Known &k = m_modelIndex[m.id];
        k.key = windowKey(Scope::Model, m.id);
        k.tier = m.tierId;
    }
    for (int i = 0; i < m_data.pools.size(); ++i) {
        for (const QString &model : m_data.pools.at(i).models) {
            const auto it = m_modelIndex.find(model);
            if (it != m_modelIndex.end())
                it->second.pool = i;
        }
    }
    for (int i = 0; i < m_data.apiKeys.size(); ++i) {
        const ApiKeyRow &k = m_data.apiKeys.at(i);
        if (!k.revoked)
            m_keysByHash.emplace(k.sha256, i);
    }

    // A USER_MODEL default requests row of the registry (enabled or not) replaces the base rule.
    bool hasUserModelDefault = false;
    m_policies.reserve(m_data.policies.size() + 1);
    for (const PolicyDto &p : m_data.policies) {
        if (p.scope == Scope::UserModel && p.userId.isNull() && p.modelId.isNull() && p.unit == Unit::Requests)
            hasUserModelDefault = true;
        if (p.enabled)
            m_policies.push_back(p);
        if (p.enabled && p.adaptive) {
            m_minFactor = m_adaptive ? std::min(m_minFactor, p.minFactor) : p.minFactor;
            m_maxFactor = m_adaptive ? std::max(m_maxFactor, p.maxFactor) : p.maxFactor;
            m_adaptive = true;
        }
    }
    if (!hasUserModelDefault)
        m_policies.push_back(baseRule());

    // An override may name an entity the registry does not list: it gets an entry (and key) too.
    auto named = [](Map<Known> &map, Scope scope, const QString &id) -> Known & {
        Known &k = map[id];
        if (k.key.isEmpty())
            k.key = windowKey(scope, id);
        return k;
    };
    for (const PolicyDto &p : m_policies) {
        const int u = unitIndex(p.unit);
        switch (p.scope) {
        case Scope::Global: m_global[u] = &p; break;
        case Scope::Tenant:
            if (p.tenantId.isNull()) m_tenantDefault[u] = &p; else named(m_tenantIndex, Scope::Tenant, p.tenantId).overrides[u] = &p;
            break;
        case Scope::ApiKey:
            if (!p.apiKeyId) m_apiKeyDefault[u] = &p; else m_apiKey[*p.apiKeyId][u] = &p;
            break;
        case Scope::Model:
            if (p.modelId.isNull()) m_modelDefault[u] = &p; else named(m_modelIndex, Scope::Model, p.modelId).overrides[u] = &p;
            break;
        case Scope::ModelTier:
            if (p.modelTier.isNull()) m_tierDefault[u] = &p; else named(m_tierIndex, Scope::ModelTier, p.modelTier).overrides[u] = &p;
            break;
        case Scope::UserModel:
            if (p.userId.isNull() && p.modelId.isNull()) m_userModelDefault[u] = &p;
            else if (p.modelId.isNull()) m_userAnyModel[p.userId][u] = &p;
            else if (p.userId.isNull()) m_anyUserModel[p.modelId][u] = &p;
            else m_userModel[std::make_pair(p.userId, p.modelId)][u] = &p;
            break;
        }
    }
    // What applies to a known entity is fixed for the snapshot's life: merge it once.
    for (auto [index, defaults] : {std::make_pair(&m_tenantIndex, &m_tenantDefault), std::make_pair(&m_modelIndex, &m_modelDefault),
                                   std::make_pair(&m_tierIndex, &m_tierDefault)}) {
        for (auto &[id, known] : *index)
            known.policies = merge(known.overrides, *defaults);
    }
    for (auto [index, scope] : {std::make_pair(&m_tenantIndex, Scope::Tenant), std::make_pair(&m_modelIndex, Scope::Model),
                                std::make_pair(&m_tierIndex, Scope::ModelTier)}) {
        for (auto &[id, known] : *index) {
            known.label = entityLabel(scope, id, false);
            known.defaultLabel = entityLabel(scope, id, true);
        }
    }
}

QString entityLabel(Scope scope, const QString &id, bool isDefault)
{
    const QLatin1String suffix(isDefault ? " (default)" : "");
    switch (scope) {
    case Scope::Tenant: return u"tenant " % id % suffix;
    case Scope::Model: return u"model " % id % suffix;
    case Scope::ModelTier: return u"tier " % id % suffix;
    default: return QString();
    }
}

PolicySnapshot::PolicySet PolicySnapshot::merge(const PolicySet &overrides, const PolicySet &defaults)
{
    PolicySet out;
    for (int u = 0; u < kUnitCount; ++u)
        out[u] = overrides[u] ? overrides[u] : defaults[u];
    return out;
}

bool PolicySnapshot::any(const PolicySet &set)
{
    for (const PolicyDto *p : set) {
        if (p)
            return true;
    }
    return false;
}

const UserRow *PolicySnapshot::user(const QString &id) const
{
    const int i = find(m_users, id, -1);
    return i < 0 ? nullptr : &m_data.users.at(i);
}

const ApiKeyRow *PolicySnapshot::apiKeyByHash(const QByteArray &sha256) const
{
    const auto it = m_keysByHash.find(sha256);
    return it == m_keysByHash.end() ? nullptr : &m_data.apiKeys.at(it->second);
}

PolicySnapshot::Entity PolicySnapshot::entity(const Map<Known> &index, const PolicySet &defaults, Scope scope,
                                              const QString &id) const
{
    // The last known entity this thread found in each index, by the id's very string: a body's
    // ids are shared from the reader's table of recent ids (checkrequest.cpp), so a tenant's,
    // model's or tier's next check finds it without hashing and comparing the id again. (The memo
    // holds the id: its bytes cannot be freed and reused for another while they are compared.)
    struct Memo
    {
        quint64 serial = 0;
        QString id;
        const Known *known = nullptr;
    };
    thread_local Memo memos[3];
    Memo &memo = memos[&index == &m_tenantIndex ? 0 : &index == &m_modelIndex ? 1 : 2];
    const Known *known = nullptr;
    if (memo.serial == m_serial && memo.id.constData() == id.constData() && memo.id.size() == id.size()) {
        known = memo.known;
    } else {
        const auto it = index.find(id);
        if (it == index.end())
            return {defaults, any(defaults) ? windowKey(scope, id) : QByteArray(), QString(), std::nullopt, -1, QString(), QString()};
        known = &it->second;
        memo = {m_serial, id, known};
    }
    return {known->policies, known->key, known->tier, known->priority, known->pool, known->label, known->defaultLabel};
}

PolicySnapshot::Entity PolicySnapshot::tenant(const QString &tenantId) const
{
    return entity(m_tenantIndex, m_tenantDefault, Scope::Tenant, tenantId);
}

PolicySnapshot::Entity PolicySnapshot::model(const QString &modelId) const
{
    return entity(m_modelIndex, m_modelDefault, Scope::Model, modelId);
}

PolicySnapshot::Entity PolicySnapshot::tier(const QString &tierId) const
{
    Entity e = entity(m_tierIndex, m_tierDefault, Scope::ModelTier, tierId);
    e.tier = QString();
    return e;
}

const PolicyDto *PolicySnapshot::tenantPolicy(const QString &tenantId, Unit u) const { return tenant(tenantId).policies[unitIndex(u)]; }
const PolicyDto *PolicySnapshot::modelPolicy(const QString &modelId, Unit u) const { return model(modelId).policies[unitIndex(u)]; }
const PolicyDto *PolicySnapshot::tierPolicy(const QString &tierId, Unit u) const { return tier(tierId).policies[unitIndex(u)]; }

PolicySnapshot::PolicySet PolicySnapshot::apiKeyPolicies(qint64 keyId) const
{
    const auto it = m_apiKey.constFind(keyId);
    return it == m_apiKey.constEnd() ? m_apiKeyDefault : merge(*it, m_apiKeyDefault);
}

const PolicyDto *PolicySnapshot::apiKeyPolicy(qint64 keyId, Unit u) const { return apiKeyPolicies(keyId)[unitIndex(u)]; }

PolicySnapshot::PolicySet PolicySnapshot::userModelPolicies(const QString &userId, const QString &modelId) const
{
    // Per unit, the most specific of (user, model) > (user, *) > (*, model) > (*, *).
    PolicySet out = m_userModelDefault;
    auto over = [&out](const PolicySet &set) {
        for (int u = 0; u < kUnitCount; ++u) {
            if (set[u])
                out[u] = set[u];
        }
    };
    if (!m_anyUserModel.empty()) {
        const auto it = m_anyUserModel.find(modelId);
        if (it != m_anyUserModel.end())
            over(it->second);
    }
    if (!m_userAnyModel.empty()) {
        const auto it = m_userAnyModel.find(userId);
        if (it != m_userAnyModel.end())
            over(it->second);
    }
    if (!m_userModel.empty()) {
        const auto it = m_userModel.find(std::make_pair(userId, modelId));
        if (it != m_userModel.end())
            over(it->second);
    }
    return out;
}

const PolicyDto *PolicySnapshot::userModelPolicy(const QString &userId, const QString &modelId, Unit u) const
{
    return userModelPolicies(userId, modelId)[unitIndex(u)];
}

} // namespace sluice
