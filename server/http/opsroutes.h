// SPDX-License-Identifier: Apache-2.0
// Open endpoints: GET /health and GET /metrics describe the whole process (every HTTP thread's
// store and breaker, gathered through the WorkerBoard), GET /openapi.json and GET /docs.
#pragma once

#include "http/layer.h"

#include "http/httpapi.h"

#include <QJsonObject>
#include <vector>

namespace sluice {

struct ServerContext;

void installOpsRoutes(HttpApi &api, const ServerContext &context);

// The process's store state from every thread's health (worst status and breaker state, sums of
// the counters, each thread's own report under "threads") and the memory store's.
QJsonObject processStoreHealth(const std::vector<QJsonObject> &threads, const QJsonObject &memory);

} // namespace sluice
