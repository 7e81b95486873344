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
// A decision's answer: its JSON as the body, its rate-limit header lines, then `extraLines` (ready
// "Name: value\r\n" lines). Body and lines are written in buffers this thread reuses, as the answer
// is (HttpResponder::send): no allocation (the check and forward-auth doors, 10^5 times a second).
void sendDecision(HttpResponder &responder, int status, const Decision &decision, QByteArrayView extraLines = {});
// POST /admin/explain: a check's body answered as the check would be now — every policy that
// applies with its count and limit, the verdict — without charging, writing or counting anything.
void installExplainRoute(HttpApi &api, const ServerContext &context, CheckService &service);

} // namespace sluice
