// SPDX-License-Identifier: Apache-2.0
#include "policysnapshot.h"

#include "windowkey.h"

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
        m_tenants.insert(t.id);
        m_tenantKeys.emplace(t.id, windowKey(Scope::Tenant, t.id));
    }
    for (const TierRow &t : m_data.tiers) {
        m_tiers.insert(t.id);
        m_tierKeys.emplace(t.id, windowKey(Scope::ModelTier, t.id));
    }
    m_globalKey = windowKey(Scope::Global);
    for (int i = 0; i < m_data.users.size(); ++i)
        m_users.emplace(m_data.users.at(i).id, i);
    for (const ModelRow &m : m_data.models) {
        m_modelTier.emplace(m.id, m.tierId);
        m_modelKeys.emplace(m.id, windowKey(Scope::Model, m.id));
    }
    for (int i = 0; i < m_data.apiKeys.size(); ++i) {
        const ApiKeyRow &k = m_data.apiKeys.at(i);
        m_keysById.insert(k.id, i);
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

    for (const PolicyDto &p : m_policies) {
        switch (p.scope) {
        case Scope::Global: m_global = &p; break;
        case Scope::Tenant:
            if (p.tenantId.isNull()) m_tenantDefault = &p; else m_tenant.emplace(p.tenantId, &p);
            break;
        case Scope::ApiKey:
            if (!p.apiKeyId) m_apiKeyDefault = &p; else m_apiKey.insert(*p.apiKeyId, &p);
            break;
        case Scope::Model:
            if (p.modelId.isNull()) m_modelDefault = &p; else m_model.emplace(p.modelId, &p);
            break;
        case Scope::ModelTier:
            if (p.modelTier.isNull()) m_tierDefault = &p; else m_tier.emplace(p.modelTier, &p);
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

const ApiKeyRow *PolicySnapshot::apiKeyById(qint64 id) const
{
    const auto it = m_keysById.constFind(id);
    return it == m_keysById.cend() ? nullptr : &m_data.apiKeys.at(*it);
}

QByteArray PolicySnapshot::tenantKey(const QString &tenantId) const
{
    const auto it = m_tenantKeys.find(tenantId);
    return it != m_tenantKeys.end() ? it->second : windowKey(Scope::Tenant, tenantId);
}

QByteArray PolicySnapshot::modelKey(const QString &modelId) const
{
    const auto it = m_modelKeys.find(modelId);
    return it != m_modelKeys.end() ? it->second : windowKey(Scope::Model, modelId);
}

QByteArray PolicySnapshot::tierKey(const QString &tier) const
{
    const auto it = m_tierKeys.find(tier);
    return it != m_tierKeys.end() ? it->second : windowKey(Scope::ModelTier, tier);
}

const PolicyDto *PolicySnapshot::tenantPolicy(const QString &tenantId) const
{
    return find(m_tenant, tenantId, m_tenantDefault);
}

const PolicyDto *PolicySnapshot::apiKeyPolicy(qint64 keyId) const
{
    return m_apiKey.value(keyId, m_apiKeyDefault);
}

const PolicyDto *PolicySnapshot::modelPolicy(const QString &modelId) const
{
    return find(m_model, modelId, m_modelDefault);
}

const PolicyDto *PolicySnapshot::tierPolicy(const QString &tier) const
{
    return find(m_tier, tier, m_tierDefault);
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
