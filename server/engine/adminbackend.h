// SPDX-License-Identifier: Apache-2.0
// What the admin API edits: policies and API keys. Two implementations: the in-memory registry
// of the embedded mode, and Postgres (through RegistryRepository on its own DB thread).
// Every call is asynchronous and answers exactly once on the calling thread; errors are
// ApiError values (400 naming the field, 404 unknown id, 409 duplicate, 503 store down).
#pragma once

#include "engine/layer.h"

#include "apierror.h"
#include "engine/registrydata.h"

#include <QObject>
#include <functional>
#include <optional>
#include <variant>

namespace sluice {

struct CreatedApiKey
{
    ApiKeyRow row;
    QString plaintext; // shown once, never stored
};

template <typename T>
using Result = std::variant<T, ApiError>;

class AdminBackend
{
public:
    virtual ~AdminBackend() = default;

    // `context` lives on the calling thread; callbacks run there, and not at all once it is gone.
    virtual void listPolicies(QObject *context, std::function<void(Result<QList<PolicyDto>>)> done) = 0;
    virtual void getPolicy(QObject *context, qint64 id, std::function<void(Result<PolicyDto>)> done) = 0;
    virtual void createPolicy(QObject *context, const PolicyDto &policy, std::function<void(Result<PolicyDto>)> done) = 0;
    virtual void updatePolicy(QObject *context, qint64 id, const PolicyDto &policy,
                              std::function<void(Result<PolicyDto>)> done) = 0;
    virtual void deletePolicy(QObject *context, qint64 id, std::function<void(Result<bool>)> done) = 0;
    virtual void createApiKey(QObject *context, const QString &tenantId, const QString &userId,
                              std::function<void(Result<CreatedApiKey>)> done) = 0;
    virtual void listApiKeys(QObject *context, std::function<void(Result<QList<ApiKeyRow>>)> done) = 0;
    virtual void revokeApiKey(QObject *context, qint64 id, std::function<void(Result<bool>)> done) = 0;
    // Sets (or with nullopt clears) the priority class of a tenant, a tier or an API key (design
    // §14); 404 for an unknown one.
    enum class PriorityHolder { Tenant, Tier, ApiKey };
    virtual void setPriority(QObject *context, PriorityHolder holder, const QString &id, std::optional<Priority> priority,
                             std::function<void(Result<bool>)> done) = 0;
};

// "tenant", "tier", "API key": how an answer names the holder.
QString priorityHolderName(AdminBackend::PriorityHolder holder);

// Checks a policy's selectors against the registry's entities (400 naming the field) and its
// scope+selectors against the other policies (409). Shared by both backends' callers.
std::optional<ApiError> validatePolicyEntities(const RegistryData &data, const PolicyDto &policy);
std::optional<ApiError> findDuplicatePolicy(const RegistryData &data, const PolicyDto &policy);

// A new API key: 32 random bytes, base64url without padding, behind a recognizable prefix.
CreatedApiKey generateApiKey(const QString &tenantId, const QString &userId);

} // namespace sluice
