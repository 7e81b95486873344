// SPDX-License-Identifier: Apache-2.0
// POST /rate-limit/check (design §3): content type and body validation, the check, and the
// answer with its IETF RateLimit / X-RateLimit / Retry-After headers.
#pragma once

#include "http/layer.h"

#include "decision.h"
#include "http/httpapi.h"

namespace sluice {

class CheckService;
class Metrics;
struct ServerContext;

void installCheckRoutes(HttpApi &api, CheckService &service, Metrics &metrics);
// POST /admin/explain: a check's body answered as the check would be now — every policy that
// applies with its count and limit, the verdict — without charging, writing or counting anything.
void installExplainRoute(HttpApi &api, const ServerContext &context, CheckService &service);

} // namespace sluice
