// SPDX-License-Identifier: Apache-2.0
// The admin backend of the embedded mode: the registry lives in process memory; every edit
// validates like Postgres would (unknown entity 400, duplicate 409, unknown id 404) and swaps a
// new snapshot in at once. Thread-safe (one mutex; edits are rare). Answers synchronously.
#pragma once

#include "engine/layer.h"

#include "engine/adminbackend.h"
#include "engine/policysnapshot.h"

#include <memory>
#include <mutex>

namespace sluice {

class MemoryRegistry final : public AdminBackend
{
public:
    MemoryRegistry(RegistryData initial, std::shared_ptr<SnapshotHolder> snapshots);

    void listPolicies(QObject *context, std::function<void(Result<QList<PolicyDto>>)> done) override;
    void getPolicy(QObject *context, qint64 id, std::function<void(Result<PolicyDto>)> done) override;
    void createPolicy(QObject *context, const PolicyDto &policy, std::function<void(Result<PolicyDto>)> done) override;
    void updatePolicy(QObject *context, qint64 id, const PolicyDto &policy,
                      std::function<void(Result<PolicyDto>)> done) override;
    void deletePolicy(QObject *context, qint64 id, std::function<void(Result<bool>)> done) override;
    void createApiKey(QObject *context, const QString &tenantId, const QString &userId,
                      std::function<void(Result<CreatedApiKey>)> done) override;
    void listApiKeys(QObject *context, std::function<void(Result<QList<ApiKeyRow>>)> done) override;
    void revokeApiKey(QObject *context, qint64 id, std::function<void(Result<bool>)> done) override;
    void setPriority(QObject *context, PriorityHolder holder, const QString &id, std::optional<Priority> priority,
                     std::function<void(Result<bool>)> done) override;

private:
    void publishLocked();

    std::mutex m_mutex;
    RegistryData m_data;
    std::shared_ptr<SnapshotHolder> m_snapshots;
};

} // namespace sluice
