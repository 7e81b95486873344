// SPDX-License-Identifier: Apache-2.0
// An immutable, indexed view of the registry: entities and enabled policies, built once per
// registry change and shared (std::shared_ptr<const>) by every thread until the next swap.
// Resolving a request costs a handful of hash lookups: per scope, the named override (if any) or
// the scope's default. It never changes after construction, so readers need no lock.
#pragma once

#include "engine/layer.h"

#include "engine/fasthash.h"
#include "engine/registrydata.h"

#include <QDateTime>
#include <QHash>
#include <QSet>
#include <atomic>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace sluice {

class PolicySnapshot
{
public:
    PolicySnapshot(const PolicySnapshot &) = delete;
    PolicySnapshot &operator=(const PolicySnapshot &) = delete;
    explicit PolicySnapshot(RegistryData data, QDateTime loadedAt = QDateTime::currentDateTimeUtc());

    const RegistryData &data() const { return m_data; }
    QDateTime loadedAt() const { return m_loadedAt; }

    // Entities
    const UserRow *user(const QString &id) const;
    const ApiKeyRow *apiKeyByHash(const QByteArray &sha256) const;

    // Policy lookup per scope: the override naming the entity, else the scope default, else null.
    const PolicyDto *globalPolicy() const { return m_global; }
    const PolicyDto *tenantPolicy(const QString &tenantId) const;
    const PolicyDto *apiKeyPolicy(qint64 keyId) const;
    const PolicyDto *modelPolicy(const QString &modelId) const;
    const PolicyDto *tierPolicy(const QString &tier) const;
    // (user, model) > (user, *) > (*, model) > (*, *)
    const PolicyDto *userModelPolicy(const QString &userId, const QString &modelId) const;

    // One lookup per entity on the hot path: the policy that applies to it (override, else the
    // scope default, else null) and its window key (built once per snapshot for known entities).
    struct Entity
    {
        const PolicyDto *policy = nullptr;
        QByteArray key; // empty when no policy applies
        QString tier;   // models only: the registry tier, null when unknown
    };
    Entity tenant(const QString &tenantId) const;
    Entity model(const QString &modelId) const;
    Entity tier(const QString &tier) const;
    const QByteArray &globalKey() const { return m_globalKey; }

    // The policies in force (enabled ones, plus the base rule when it applies), at stable
    // addresses: every PolicyDto pointer this snapshot hands out points into this vector.
    const std::vector<PolicyDto> &policies() const { return m_policies; }
    size_t policyIndex(const PolicyDto *p) const { return static_cast<size_t>(p - m_policies.data()); }

    // The base rule of design §2, used when the registry has no USER_MODEL default of its own.
    static PolicyDto baseRule();

private:
    RegistryData m_data;
    QDateTime m_loadedAt;
    template <typename V>
    using Map = std::unordered_map<QString, V, FastHash>;
    template <typename V>
    static V find(const Map<V> &map, const QString &key, V fallback)
    {
        if (map.empty())
            return fallback;
        const auto it = map.find(key);
        return it == map.end() ? fallback : it->second;
    }

    Map<int> m_users;                      // → index in m_data.users
    struct Known
    {
        const PolicyDto *override = nullptr;
        QByteArray key;
        QString tier;
    };
    Map<Known> m_tenantIndex;
    Map<Known> m_modelIndex;
    Map<Known> m_tierIndex;
    std::unordered_map<QByteArray, int, FastHash> m_keysByHash; // → index in m_data.apiKeys (not revoked)
    QByteArray m_globalKey;
    std::vector<PolicyDto> m_policies;    // enabled ones (+ the base rule), stable addresses
    const PolicyDto *m_global = nullptr;
    const PolicyDto *m_tenantDefault = nullptr;
    const PolicyDto *m_apiKeyDefault = nullptr;
    const PolicyDto *m_modelDefault = nullptr;
    const PolicyDto *m_tierDefault = nullptr;
    const PolicyDto *m_userModelDefault = nullptr;
    QHash<qint64, const PolicyDto *> m_apiKey;
    Map<const PolicyDto *> m_userAnyModel;
    Map<const PolicyDto *> m_anyUserModel;
    std::unordered_map<std::pair<QString, QString>, const PolicyDto *, FastHash> m_userModel;
};

// The current snapshot, swapped atomically by whoever loads the registry; read by every thread.
// Readers keep a per-thread copy and only take the (pool-locked) atomic load when the version
// moved, so the hot path costs one relaxed atomic read.
class SnapshotHolder
{
public:
    explicit SnapshotHolder(std::shared_ptr<const PolicySnapshot> initial) : m_current(std::move(initial)) {}
    std::shared_ptr<const PolicySnapshot> current() const { return std::atomic_load(&m_current); }
    void swap(std::shared_ptr<const PolicySnapshot> next)
    {
        std::atomic_store(&m_current, std::move(next));
        m_version.fetch_add(1, std::memory_order_release);
    }

    // A reader's cached view: refresh() is cheap when nothing changed.
    class Reader
    {
    public:
        explicit Reader(const SnapshotHolder &holder) : m_holder(holder) {}
        const std::shared_ptr<const PolicySnapshot> &get()
        {
            const quint64 v = m_holder.m_version.load(std::memory_order_acquire);
            if (!m_snapshot || v != m_seen) {
                m_seen = v;
                m_snapshot = m_holder.current();
            }
            return m_snapshot;
        }

    private:
        const SnapshotHolder &m_holder;
        quint64 m_seen = 0;
        std::shared_ptr<const PolicySnapshot> m_snapshot;
    };

private:
    std::shared_ptr<const PolicySnapshot> m_current;
    std::atomic<quint64> m_version{0};
};

} // namespace sluice
