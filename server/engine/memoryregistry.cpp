// SPDX-License-Identifier: Apache-2.0
#include "engine/memoryregistry.h"

namespace sluice {

namespace {
ApiError noPolicy(qint64 id) { return ApiError::notFound(QStringLiteral("there is no policy %1").arg(id)); }
} // namespace

MemoryRegistry::MemoryRegistry(RegistryData initial, std::shared_ptr<SnapshotHolder> snapshots)
    : m_data(std::move(initial)), m_snapshots(std::move(snapshots))
{
}

void MemoryRegistry::publishLocked()
{
    m_snapshots->swap(std::make_shared<const PolicySnapshot>(m_data));
}

void MemoryRegistry::listPolicies(QObject *, std::function<void(Result<QList<PolicyDto>>)> done)
{
    QList<PolicyDto> out;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        out = m_data.policies;
    }
    done(out);
}

void MemoryRegistry::getPolicy(QObject *, qint64 id, std::function<void(Result<PolicyDto>)> done)
{
    std::optional<PolicyDto> found;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (const PolicyDto &p : m_data.policies) {
            if (p.id == id)
                found = p;
        }
    }
    if (found)
        done(*found);
    else
        done(noPolicy(id));
}

void MemoryRegistry::createPolicy(QObject *, const PolicyDto &policy, std::function<void(Result<PolicyDto>)> done)
{
    Result<PolicyDto> result = ApiError::internal(QString());
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        PolicyDto p = policy;
        p.id = 0;
        qint64 maxId = 0;
        for (const PolicyDto &other : m_data.policies)
            maxId = std::max(maxId, other.id);
        if (auto e = validatePolicyEntities(m_data, p)) {
            result = *e;
        } else if (auto d = findDuplicatePolicy(m_data, p)) {
            result = *d;
        } else {
            p.id = maxId + 1;
            m_data.policies.append(p);
            publishLocked();
            result = p;
        }
    }
    done(result);
}

void MemoryRegistry::updatePolicy(QObject *, qint64 id, const PolicyDto &policy, std::function<void(Result<PolicyDto>)> done)
{
    Result<PolicyDto> result = noPolicy(id);
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (PolicyDto &existing : m_data.policies) {
            if (existing.id != id)
                continue;
            PolicyDto p = policy;
            p.id = id;
            if (auto e = validatePolicyEntities(m_data, p)) {
                result = *e;
            } else if (auto d = findDuplicatePolicy(m_data, p)) {
                result = *d;
            } else {
                existing = p;
                publishLocked();
                result = p;
            }
            break;
        }
    }
    done(result);
}

void MemoryRegistry::deletePolicy(QObject *, qint64 id, std::function<void(Result<bool>)> done)
{
    bool removed = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        removed = m_data.policies.removeIf([id](const PolicyDto &p) { return p.id == id; }) > 0;
        if (removed)
            publishLocked();
    }
    if (removed)
        done(true);
    else
        done(noPolicy(id));
}

void MemoryRegistry::createApiKey(QObject *, const QString &tenantId, const QString &userId,
                                  std::function<void(Result<CreatedApiKey>)> done)
{
    Result<CreatedApiKey> result = ApiError::internal(QString());
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const bool tenantKnown = std::any_of(m_data.tenants.cbegin(), m_data.tenants.cend(),
                                             [&](const TenantRow &t) { return t.id == tenantId; });
        const auto user = std::find_if(m_data.users.cbegin(), m_data.users.cend(), [&](const UserRow &u) { return u.id == userId; });
        if (!tenantKnown) {
            result = ApiError::badRequest(QStringLiteral("tenantId '%1' does not exist").arg(tenantId));
        } else if (!userId.isNull() && user == m_data.users.cend()) {
            result = ApiError::badRequest(QStringLiteral("userId '%1' does not exist").arg(userId));
        } else if (!userId.isNull() && user->tenantId != tenantId) {
            result = ApiError::badRequest(QStringLiteral("userId '%1' does not belong to tenant %2").arg(userId, tenantId));
        } else {
            CreatedApiKey key = generateApiKey(tenantId, userId);
            qint64 maxId = 0;
            for (const ApiKeyRow &k : m_data.apiKeys)
                maxId = std::max(maxId, k.id);
            key.row.id = maxId + 1;
            m_data.apiKeys.append(key.row);
            publishLocked();
            result = key;
        }
    }
    done(result);
}

void MemoryRegistry::listApiKeys(QObject *, std::function<void(Result<QList<ApiKeyRow>>)> done)
{
    QList<ApiKeyRow> keys;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        keys = m_data.apiKeys;
    }
    done(keys);
}

void MemoryRegistry::revokeApiKey(QObject *, qint64 id, std::function<void(Result<bool>)> done)
{
    bool found = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (ApiKeyRow &k : m_data.apiKeys) {
            if (k.id == id) {
                k.revoked = true;
                found = true;
            }
        }
        if (found)
            publishLocked();
    }
    if (found)
        done(true);
    else
        done(ApiError::notFound(QStringLiteral("there is no API key %1").arg(id)));
}

void MemoryRegistry::setPriority(QObject *, PriorityHolder holder, const QString &id, std::optional<Priority> priority,
                                 std::function<void(Result<bool>)> done)
{
    bool found = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto set = [&](auto &rows, auto matches) {
            for (auto &row : rows) {
                if (matches(row)) {
                    row.priority = priority;
                    found = true;
                }
            }
        };
        switch (holder) {
        case PriorityHolder::Tenant: set(m_data.tenants, [&](const TenantRow &t) { return t.id == id; }); break;
        case PriorityHolder::Tier: set(m_data.tiers, [&](const TierRow &t) { return t.id == id; }); break;
        case PriorityHolder::ApiKey: set(m_data.apiKeys, [&](const ApiKeyRow &k) { return QString::number(k.id) == id; }); break;
        }
        if (found)
            publishLocked();
    }
    if (found)
        done(true);
    else
        done(ApiError::notFound(QStringLiteral("there is no %1 %2").arg(priorityHolderName(holder), id)));
}

} // namespace sluice
