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
#include <array>
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

    // One scope and selector may carry one policy per unit (design §10): a set holds them,
    // indexed by unitIndex(); null where the unit has none.
    using PolicySet = std::array<const PolicyDto *, kUnitCount>;

    // Policy lookup per scope and unit: the override naming the entity, else the scope default,
    // else null. Overrides replace defaults unit by unit.
    const PolicyDto *globalPolicy(Unit u = Unit::Requests) const { return m_global[unitIndex(u)]; }
    const PolicyDto *tenantPolicy(const QString &tenantId, Unit u = Unit::Requests) const;
    const PolicyDto *apiKeyPolicy(qint64 keyId, Unit u = Unit::Requests) const;
    const PolicyDto *modelPolicy(const QString &modelId, Unit u = Unit::Requests) const;
    const PolicyDto *tierPolicy(const QString &tier, Unit u = Unit::Requests) const;
    // (user, model) > (user, *) > (*, model) > (*, *), per unit
    const PolicyDto *userModelPolicy(const QString &userId, const QString &modelId, Unit u = Unit::Requests) const;
    PolicySet userModelPolicies(const QString &userId, const QString &modelId) const;
    PolicySet apiKeyPolicies(qint64 keyId) const;
    const PolicySet &globalPolicies() const { return m_global; }

    // One lookup per entity on the hot path: the policies that apply to it (per unit: override,
    // else the scope default, else null) and its window key (built once per snapshot for known
    // entities; the tokens and leases keys add unitKeySuffix()).
    struct Entity
    {
        PolicySet policies{};
        QByteArray key; // empty when no policy applies
        QString tier;   // models only: the registry tier, null when unknown
        std::optional<Priority> priority; // tenants and tiers: their class, when set
        int pool = -1;  // models only: index in data().pools, -1 when in none
        // "tenant enterprise_co" and "tenant enterprise_co (default)" (a default policy applied),
        // made once per snapshot; null for an entity the snapshot does not know.
        QString label;
        QString defaultLabel;
    };
    Entity tenant(const QString &tenantId) const;
    Entity model(const QString &modelId) const;
    Entity tier(const QString &tier) const;
    const QByteArray &globalKey() const { return m_globalKey; }

    // Pools and adaptive policies (design §14).
    const PoolRow *pool(int index) const { return index >= 0 && index < m_data.pools.size() ? &m_data.pools.at(index) : nullptr; }
    // The pool of that name, or null (a handful of pools: a scan).
    const PoolRow *poolNamed(const QString &name) const
    {
        for (const PoolRow &p : m_data.pools) {
            if (p.name == name)
                return &p;
        }
        return nullptr;
    }
    bool hasAdaptivePolicies() const { return m_adaptive; }
    // The range the pools' factor moves in: from the smallest minFactor to the largest maxFactor
    // of the enabled adaptive policies ([1, 1] when there is none).
    double minFactor() const { return m_minFactor; }
    double maxFactor() const { return m_maxFactor; }

    // The policies in force (enabled ones, plus the base rule when it applies), at stable
    // addresses: every PolicyDto pointer this snapshot hands out points into this vector.
    const std::vector<PolicyDto> &policies() const { return m_policies; }
    size_t policyIndex(const PolicyDto *p) const { return static_cast<size_t>(p - m_policies.data()); }

    // The base rule of design §2, used when the registry has no USER_MODEL default of its own.
    static PolicyDto baseRule();

private:
    RegistryData m_data;
    QDateTime m_loadedAt;
    // Unique to this snapshot in the process (a memo of lookups must not mistake a later snapshot
    // at the same address for this one).
    quint64 m_serial;
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
        PolicySet overrides{};
        PolicySet policies{}; // overrides merged with the scope's defaults, once per snapshot
        QByteArray key;
        QString tier;
        std::optional<Priority> priority;
        int pool = -1;
        QString label;
        QString defaultLabel;
    };
    static PolicySet merge(const PolicySet &overrides, const PolicySet &defaults);
    static bool any(const PolicySet &set);
    Entity entity(const Map<Known> &index, const PolicySet &defaults, Scope scope, const QString &id) const;
    Map<Known> m_tenantIndex;
    Map<Known> m_modelIndex;
    Map<Known> m_tierIndex;
    std::unordered_map<QByteArray, int, FastHash> m_keysByHash; // → index in m_data.apiKeys (not revoked)
    QByteArray m_globalKey;
    std::vector<PolicyDto> m_policies;    // enabled ones (+ the base rule), stable addresses
    PolicySet m_global{};
    PolicySet m_tenantDefault{};
    PolicySet m_apiKeyDefault{};
    PolicySet m_modelDefault{};
    PolicySet m_tierDefault{};
    PolicySet m_userModelDefault{};
    bool m_adaptive = false;
    double m_minFactor = 1;
    double m_maxFactor = 1;
    QHash<qint64, PolicySet> m_apiKey;
    Map<PolicySet> m_userAnyModel;
    Map<PolicySet> m_anyUserModel;
    std::unordered_map<std::pair<QString, QString>, PolicySet, FastHash> m_userModel;
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

    // How many snapshots replaced the first (a registry reload or an admin edit each).
    quint64 version() const { return m_version.load(std::memory_order_acquire); }

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

// The label of a tenant, model or tier policy in a decision: "tenant enterprise_co", with
// " (default)" when the scope's default policy applied (null for another scope).
QString entityLabel(Scope scope, const QString &id, bool isDefault);

} // namespace sluice
