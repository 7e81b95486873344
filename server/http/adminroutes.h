// SPDX-License-Identifier: Apache-2.0
// The admin API (design §6), behind the bearer-token gate, one area per file like qBittorrent's
// webui controllers: policies (policyroutes.cpp), entities (entityroutes.cpp), API keys
// (apikeyroutes.cpp), pools and priority classes (poolroutes.cpp), usage, reset and top blocked (usageroutes.cpp), live events (eventhub.h).
#pragma once

#include "http/layer.h"

#include "http/httpapi.h"

namespace sluice {

struct ServerContext;
class WindowStore;

void installAdminRoutes(HttpApi &api, const ServerContext &context, WindowStore &store);

// One area each (adminroutes.cpp calls them all).
void installPolicyRoutes(HttpApi &api, const ServerContext &context);
void installEntityRoutes(HttpApi &api, const ServerContext &context);
void installApiKeyRoutes(HttpApi &api, const ServerContext &context);
void installUsageRoutes(HttpApi &api, const ServerContext &context, WindowStore &store);
void installPoolRoutes(HttpApi &api, const ServerContext &context);

} // namespace sluice
