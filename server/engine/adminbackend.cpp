// SPDX-License-Identifier: Apache-2.0
#include "engine/adminbackend.h"

#include <QCryptographicHash>
#include <QRandomGenerator>

namespace sluice {

QString priorityHolderName(AdminBackend::PriorityHolder holder)
{
    switch (holder) {
    case AdminBackend::PriorityHolder::Tenant: return QStringLiteral("tenant");
    case AdminBackend::PriorityHolder::Tier: return QStringLiteral("tier");
    case AdminBackend::PriorityHolder::ApiKey: return QStringLiteral("API key");
    }
    return QString();
}

std::optional<ApiError> validatePolicyEntities(const RegistryData &data, const PolicyDto &p)
{
    auto missing = [](const char *field, const QString &value) {
        return ApiError::badRequest(QStringLiteral("%1 '%2' does not exist").arg(QLatin1String(field), value));
    };
    if (!p.tenantId.isNull()
        && std::none_of(data.tenants.cbegin(), data.tenants.cend(), [&](const TenantRow &t) { return t.id == p.tenantId; }))
        return missing("tenantId", p.tenantId);
    if (!p.userId.isNull()
        && std::none_of(data.users.cbegin(), data.users.cend(), [&](const UserRow &u) { return u.id == p.userId; }))
        return missing("userId", p.userId);
    if (!p.modelId.isNull()
        && std::none_of(data.models.cbegin(), data.models.cend(), [&](const ModelRow &m) { return m.id == p.modelId; }))
        return missing("modelId", p.modelId);
    if (!p.modelTier.isNull()
        && std::none_of(data.tiers.cbegin(), data.tiers.cend(), [&](const TierRow &t) { return t.id == p.modelTier; }))
        return missing("modelTier", p.modelTier);
    if (p.apiKeyId
        && std::none_of(data.apiKeys.cbegin(), data.apiKeys.cend(), [&](const ApiKeyRow &k) { return k.id == *p.apiKeyId; }))
        return missing("apiKeyId", QString::number(*p.apiKeyId));
    return std::nullopt;
}

std::optional<ApiError> findDuplicatePolicy(const RegistryData &data, const PolicyDto &p)
{
    const QString key = p.selectorKey();
    for (const PolicyDto &other : data.policies) {
        if (other.id != p.id && other.selectorKey() == key)
            return ApiError::conflict(
                QStringLiteral("policy %1 already has this scope, these selectors and this unit").arg(other.id));
    }
    return std::nullopt;
}

CreatedApiKey generateApiKey(const QString &tenantId, const QString &userId)
{
    QByteArray random(32, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(random.data()), 8);
    CreatedApiKey k;
    k.plaintext = QStringLiteral("sk_") + QString::fromLatin1(random.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
    k.row.tenantId = tenantId;
    k.row.userId = userId;
    k.row.sha256 = QCryptographicHash::hash(k.plaintext.toUtf8(), QCryptographicHash::Sha256);
    k.row.prefix = k.plaintext.left(8);
    k.row.createdAt = QDateTime::currentDateTimeUtc();
    return k;
}

} // namespace sluice
