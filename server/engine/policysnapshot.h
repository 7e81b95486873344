// SPDX-License-Identifier: Apache-2.0
// An immutable, indexed view of the registry: entities and enabled policies, built once per
// registry change and shared (std::shared_ptr<const>) by every thread until the next swap.
// Resolving a request costs a handful of hash lookups: per scope, the named override (if any) or
// the scope's default. It never changes after construction, so readers need no lock.
#pragma once

#include "registrydata.h"

#include <QDateTime>
#include <QHash>
#include <QSet>
#include <memory>

namespace sluice {

class PolicySnapshot
{
public:
    explicit PolicySnapshot(RegistryData data, QDateTime loadedAt = QDateTime::currentDateTimeUtc());

    const RegistryData &data() const { return m_data; }
    QDateTime loadedAt() const { return m_loadedAt; }

    // Entities
    bool hasTenant(const QString &id) const { return m_tenants.contains(id); }
    bool hasTier(const QString &id) const { return m_tiers.contains(id); }
    const UserRow *user(const QString &id) const;
    // The registry tier of a model; null QString when the model is unknown.
    QString modelTier(const QString &modelId) const { return m_modelTier.value(modelId); }
    bool hasModel(const QString &modelId) const { return m_modelTier.contains(modelId); }
    const ApiKeyRow *apiKeyByHash(const QByteArray &sha256) const;
    const ApiKeyRow *apiKeyById(qint64 id) const;

    // Policy lookup per scope: the override naming the entity, else the scope default, else null.
    const PolicyDto *globalPolicy() const { return m_global; }
    const PolicyDto *tenantPolicy(const QString &tenantId) const;
    const PolicyDto *apiKeyPolicy(qint64 keyId) const;
    const PolicyDto *modelPolicy(const QString &modelId) const;
    const PolicyDto *tierPolicy(const QString &tier) const;
    // (user, model) > (user, *) > (*, model) > (*, *)
    const PolicyDto *userModelPolicy(const QString &userId, const QString &modelId) const;

    // The base rule of design §2, used when the registry has no USER_MODEL default of its own.
    static PolicyDto baseRule();

private:
    RegistryData m_data;
    QDateTime m_loadedAt;
    QSet<QString> m_tenants;
    QSet<QString> m_tiers;
    QHash<QString, int> m_users;          // → index in m_data.users
    QHash<QString, QString> m_modelTier;
    QHash<QByteArray, int> m_keysByHash;  // → index in m_data.apiKeys (not revoked)
    QHash<qint64, int> m_keysById;
    std::vector<PolicyDto> m_policies;    // enabled ones (+ the base rule), stable addresses
    const PolicyDto *m_global = nullptr;
    const PolicyDto *m_tenantDefault = nullptr;
    const PolicyDto *m_apiKeyDefault = nullptr;
    const PolicyDto *m_modelDefault = nullptr;
    const PolicyDto *m_tierDefault = nullptr;
    const PolicyDto *m_userModelDefault = nullptr;
    QHash<QString, const PolicyDto *> m_tenant;
    QHash<qint64, const PolicyDto *> m_apiKey;
    QHash<QString, const PolicyDto *> m_model;
    QHash<QString, const PolicyDto *> m_tier;
    QHash<QString, const PolicyDto *> m_userAnyModel;
    QHash<QString, const PolicyDto *> m_anyUserModel;
    QHash<QPair<QString, QString>, const PolicyDto *> m_userModel;
};

// The current snapshot, swapped atomically by whoever loads the registry; read by every thread.
class SnapshotHolder
{
public:
    explicit SnapshotHolder(std::shared_ptr<const PolicySnapshot> initial) : m_current(std::move(initial)) {}
    std::shared_ptr<const PolicySnapshot> current() const { return std::atomic_load(&m_current); }
    void swap(std::shared_ptr<const PolicySnapshot> next) { std::atomic_store(&m_current, std::move(next)); }

private:
    std::shared_ptr<const PolicySnapshot> m_current;
};

} // namespace sluice
