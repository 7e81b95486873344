// SPDX-License-Identifier: Apache-2.0
#include "engine/policysnapshot.h"

#include "engine/windowkey.h"

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

PolicySnapshot::PolicySnapshot(RegistryData data, QDateTime loadedAt)
    : m_data(std::move(data)), m_loadedAt(std::move(loadedAt))
{
    for (const TenantRow &t : m_data.tenants) {
        m_tenantIndex[t.id].key = windowKey(Scope::Tenant, t.id);
    }
    for (const TierRow &t : m_data.tiers) {
        m_tierIndex[t.id].key = windowKey(Scope::ModelTier, t.id);
    }
    m_globalKey = windowKey(Scope::Global);
    for (int i = 0; i < m_data.users.size(); ++i)
        m_users.emplace(m_data.users.at(i).id, i);
    for (const ModelRow &m : m_data.models) {
        Known &k = m_modelIndex[m.id];
        k.key = windowKey(Scope::Model, m.id);
        k.tier = m.tierId;
    }
    for (int i = 0; i < m_data.apiKeys.size(); ++i) {
        const ApiKeyRow &k = m_data.apiKeys.at(i);
        if (!k.revoked)
            m_keysByHash.emplace(k.sha256, i);
    }

    // A USER_MODEL default row of the registry (enabled or not) replaces the base rule.
    bool hasUserModelDefault = false;
    m_policies.reserve(m_data.policies.size() + 1);
    for (const PolicyDto &p : m_data.policies) {
        if (p.scope == Scope::UserModel && p.userId.isNull() && p.modelId.isNull())
            hasUserModelDefault = true;
        if (p.enabled)
            m_policies.push_back(p);
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
        switch (p.scope) {
        case Scope::Global: m_global = &p; break;
        case Scope::Tenant:
            if (p.tenantId.isNull()) m_tenantDefault = &p; else named(m_tenantIndex, Scope::Tenant, p.tenantId).override = &p;
            break;
        case Scope::ApiKey:
            if (!p.apiKeyId) m_apiKeyDefault = &p; else m_apiKey.insert(*p.apiKeyId, &p);
            break;
        case Scope::Model:
            if (p.modelId.isNull()) m_modelDefault = &p; else named(m_modelIndex, Scope::Model, p.modelId).override = &p;
            break;
        case Scope::ModelTier:
            if (p.modelTier.isNull()) m_tierDefault = &p; else named(m_tierIndex, Scope::ModelTier, p.modelTier).override = &p;
            break;
        case Scope::UserModel:
            if (p.userId.isNull() && p.modelId.isNull()) m_userModelDefault = &p;
            else if (p.modelId.isNull()) m_userAnyModel.emplace(p.userId, &p);
            else if (p.userId.isNull()) m_anyUserModel.emplace(p.modelId, &p);
            else m_userModel.emplace(std::make_pair(p.userId, p.modelId), &p);
            break;
        }
    }
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

PolicySnapshot::Entity PolicySnapshot::tenant(const QString &tenantId) const
{
    const auto it = m_tenantIndex.find(tenantId);
    if (it == m_tenantIndex.end())
        return {m_tenantDefault, m_tenantDefault ? windowKey(Scope::Tenant, tenantId) : QByteArray(), QString()};
    return {it->second.override ? it->second.override : m_tenantDefault, it->second.key, QString()};
}

PolicySnapshot::Entity PolicySnapshot::model(const QString &modelId) const
{
    const auto it = m_modelIndex.find(modelId);
    if (it == m_modelIndex.end())
        return {m_modelDefault, m_modelDefault ? windowKey(Scope::Model, modelId) : QByteArray(), QString()};
    return {it->second.override ? it->second.override : m_modelDefault, it->second.key, it->second.tier};
}

PolicySnapshot::Entity PolicySnapshot::tier(const QString &tierId) const
{
    const auto it = m_tierIndex.find(tierId);
    if (it == m_tierIndex.end())
        return {m_tierDefault, m_tierDefault ? windowKey(Scope::ModelTier, tierId) : QByteArray(), QString()};
    return {it->second.override ? it->second.override : m_tierDefault, it->second.key, QString()};
}

const PolicyDto *PolicySnapshot::tenantPolicy(const QString &tenantId) const { return tenant(tenantId).policy; }
const PolicyDto *PolicySnapshot::modelPolicy(const QString &modelId) const { return model(modelId).policy; }
const PolicyDto *PolicySnapshot::tierPolicy(const QString &tierId) const { return tier(tierId).policy; }

const PolicyDto *PolicySnapshot::apiKeyPolicy(qint64 keyId) const
{
    return m_apiKey.value(keyId, m_apiKeyDefault);
}

const PolicyDto *PolicySnapshot::userModelPolicy(const QString &userId, const QString &modelId) const
{
    if (!m_userModel.empty()) {
        const auto it = m_userModel.find(std::make_pair(userId, modelId));
        if (it != m_userModel.end())
            return it->second;
    }
    if (const PolicyDto *p = find<const PolicyDto *>(m_userAnyModel, userId, nullptr))
        return p;
    if (const PolicyDto *p = find<const PolicyDto *>(m_anyUserModel, modelId, nullptr))
        return p;
    return m_userModelDefault;
}

} // namespace sluice
