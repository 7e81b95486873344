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

void installCheckRoutes(HttpApi &api, CheckService &service, Metrics &metrics);

} // namespace sluice
