// SPDX-License-Identifier: Apache-2.0
// Open operational endpoints: GET /health (liveness and each dependency) and GET /metrics
// (Prometheus text). Both answer from memory at once; neither touches the network.
#pragma once

#include "httpapi.h"

namespace sluice {

struct ServerContext;
class WindowStore;

void installOpsRoutes(HttpApi &api, const ServerContext &context, WindowStore &store);

} // namespace sluice
