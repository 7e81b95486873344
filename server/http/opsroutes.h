// SPDX-License-Identifier: Apache-2.0
// Open endpoints: GET /health and GET /metrics describe the whole process (every HTTP thread's
// store and breaker, gathered through the WorkerBoard), GET /openapi.json and GET /docs.
#pragma once

#include "http/layer.h"

#include "engine/windowstore.h"
#include "http/httpapi.h"

#include <QJsonObject>
#include <vector>

namespace sluice {

struct ServerContext;

void installOpsRoutes(HttpApi &api, const ServerContext &context);

// The process's store state from every thread's status (worst status and breaker state, sums of
// the counters), read from typed fields, never from JSON names.
struct ProcessStoreStatus
{
    QString source, failureMode, lastError;
    bool ok = true;
    bool hasBreaker = false;
    int worstBreaker = 0, openThreads = 0, connectedThreads = 0;
    qint64 breakerOpens = 0, fallbacks = 0, inFlight = 0;
    bool shared = false;
    qint64 calls = 0, batchedChecks = 0, failedCalls = 0, timedOutCalls = 0;
    bool followsSentinel = false;
    qint64 primaryChanges = 0;
};
ProcessStoreStatus processStoreStatus(const std::vector<StoreStatus> &threads);
// /health's "store": the totals above, the memory store's health and each thread's own report.
QJsonObject processStoreHealth(const std::vector<StoreStatus> &threads, const QJsonObject &memory);

} // namespace sluice
