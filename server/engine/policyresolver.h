// SPDX-License-Identifier: Apache-2.0
// Turns a check request into the policies that apply to it (design §2): the caller's identity
// (API key → tenant, registry user → tenant), the model's tier from the registry, then per scope
// the named override or the scope default, most specific first. Pure: no I/O, no clocks.
#pragma once

#include "engine/layer.h"

#include "checkrequest.h"
#include "engine/policysnapshot.h"
#include "engine/windowstore.h"

#include <memory>
#include <vector>

namespace sluice {

struct AppliedPolicy
{
    const PolicyDto *policy = nullptr;
    QString label; // made by the snapshot (a known tenant, model or tier), else null: label() makes it
};

struct ResolvedCheck
{
    std::shared_ptr<const PolicySnapshot> snapshot; // keeps `policy` pointers alive
    QString userId;
    QString modelId;
    QString tenantId;   // null when neither given nor known
    QString modelTier;  // null for a model the registry does not know
    const ApiKeyRow *apiKey = nullptr;
    qint64 cost = 1;
    bool costGiven = false; // CheckRequest::costGiven
    // Design §14: the caller's class (API key > tenant > tier, standard when none is set) and the
    // pool of the model (index in the snapshot's pools, -1 when in none).
    Priority priority = Priority::Standard;
    int pool = -1;
    std::vector<AppliedPolicy> applied; // most specific first (within a scope: requests, tokens, concurrent)
    WindowBatch windows;                // the store's view of `applied`: key, window, limit, weight (same order)

    const WindowBatch &batch() const { return windows; }
    const QByteArray &key(size_t i) const { return windows.keys[i].key; }
    // "tenant enterprise_co", "user ent-user-2 on model gpt-4o", "… (default)" for a default.
    QString label(const AppliedPolicy &applied) const;
};

class PolicyResolver
{
public:
    // Throws ApiError: 401 unknown API key, 403 key/user of another tenant, 400 contradicting tier.
    static ResolvedCheck resolve(std::shared_ptr<const PolicySnapshot> snapshot, const CheckRequest &request,
                                 const QString &headerApiKey = QString());
};

} // namespace sluice
