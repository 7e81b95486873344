// SPDX-License-Identifier: Apache-2.0
// The admin API of design §6, the console's only door: policies, entities, API keys, usage,
// top blocked and live events (Server-Sent Events). Behind `Authorization: Bearer <token>`
// compared in constant time; no token configured → 403 on every admin route. Every admin action
// is logged (who, what) without secrets. Never blocks: backends answer asynchronously.
#pragma once

#include "httpapi.h"

namespace sluice {

struct ServerContext;
class WindowStore;

void installAdminRoutes(HttpApi &api, ServerContext &context, WindowStore &store);

// Constant-time comparison (length leaks, content does not).
bool tokensEqual(const QByteArray &a, const QByteArray &b);

} // namespace sluice
