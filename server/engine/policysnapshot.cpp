// SPDX-License-Identifier: Apache-2.0
#include "policysnapshot.h"

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
    for (const TenantRow &t : m_data.tenants)
        m_tenants.insert(t.id);
    for (const TierRow &t : m_data.tiers)
        m_tiers.insert(t.id);
    for (int i = 0; i < m_data.users.size(); ++i)
        m_users.insert(m_data.users.at(i).id, i);
    for (const ModelRow &m : m_data.models)
        m_modelTier.insert(m.id, m.tierId);
    for (int i = 0; i < m_data.apiKeys.size(); ++i) {
        const ApiKeyRow &k = m_data.apiKeys.at(i);
        m_keysById.insert(k.id, i);
        if (!k.revoked)
            m_keysByHash.insert(k.sha256, i);
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
            if (p.tenantId.isNull()) m_tenantDefault = &p; else m_tenant.insert(p.tenantId, &p);
            break;
        case Scope::ApiKey:
            if (!p.apiKeyId) m_apiKeyDefault = &p; else m_apiKey.insert(*p.apiKeyId, &p);
            break;
        case Scope::Model:
            if (p.modelId.isNull()) m_modelDefault = &p; else m_model.insert(p.modelId, &p);
            break;
        case Scope::ModelTier:
            if (p.modelTier.isNull()) m_tierDefault = &p; else m_tier.insert(p.modelTier, &p);
            break;
        case Scope::UserModel:
            if (p.userId.isNull() && p.modelId.isNull()) m_userModelDefault = &p;
            else if (p.modelId.isNull()) m_userAnyModel.insert(p.userId, &p);
            else if (p.userId.isNull()) m_anyUserModel.insert(p.modelId, &p);
            else m_userModel.insert(qMakePair(p.userId, p.modelId), &p);
            break;
        }
    }
}

const UserRow *PolicySnapshot::user(const QString &id) const
{
    const auto it = m_users.constFind(id);
    return it == m_users.cend() ? nullptr : &m_data.users.at(*it);
}

const ApiKeyRow *PolicySnapshot::apiKeyByHash(const QByteArray &sha256) const
{
    const auto it = m_keysByHash.constFind(sha256);
    return it == m_keysByHash.cend() ? nullptr : &m_data.apiKeys.at(*it);
}

const ApiKeyRow *PolicySnapshot::apiKeyById(qint64 id) const
{
    const auto it = m_keysById.constFind(id);
    return it == m_keysById.cend() ? nullptr : &m_data.apiKeys.at(*it);
}

const PolicyDto *PolicySnapshot::tenantPolicy(const QString &tenantId) const
{
    return m_tenant.value(tenantId, m_tenantDefault);
}

const PolicyDto *PolicySnapshot::apiKeyPolicy(qint64 keyId) const
{
    return m_apiKey.value(keyId, m_apiKeyDefault);
}

const PolicyDto *PolicySnapshot::modelPolicy(const QString &modelId) const
{
    return m_model.value(modelId, m_modelDefault);
}

const PolicyDto *PolicySnapshot::tierPolicy(const QString &tier) const
{
    return m_tier.value(tier, m_tierDefault);
}

const PolicyDto *PolicySnapshot::userModelPolicy(const QString &userId, const QString &modelId) const
{
    if (!m_userModel.isEmpty()) {
        if (const PolicyDto *p = m_userModel.value(qMakePair(userId, modelId)))
            return p;
    }
    if (const PolicyDto *p = m_userAnyModel.value(userId))
        return p;
    if (const PolicyDto *p = m_anyUserModel.value(modelId))
        return p;
    return m_userModelDefault;
}

} // namespace sluice
