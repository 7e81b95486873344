// SPDX-License-Identifier: Apache-2.0
// GET|POST /rate-limit/forward-auth (design §12): the check for gateways that call an HTTP
// endpoint per request (nginx auth_request, Traefik forwardAuth, Caddy forward_auth, Envoy
// ext_authz). The identity comes from request headers, the body is never read; the decision, its
// headers and its errors are the check's. Every answer says what it is in X-Sluice-Decision
// (allowed, over_limit, invalid_request, unauthorized, forbidden, unavailable) so a gateway can
// tell an over-limit 403 from a forbidden one. Refused: 429 with Retry-After, or with
// denyStatus 403 (nginx's auth_request accepts only 2xx/401/403) a 403 that its error_page maps.
#pragma once

#include "http/layer.h"

#include "http/httpapi.h"

namespace sluice {

class CheckService;
class Metrics;

struct ForwardAuthSettings
{
    // Header names that carry the identity (matched without regard to case; errors use them as here).
    QByteArray tenant = "X-Tenant-Id";
    QByteArray user = "X-User-Id";
    QByteArray model = "X-Model-Id";
    QByteArray tier = "X-Model-Tier";
    QByteArray apiKey = "X-API-Key";
    QByteArray cost = "X-Cost";
    int denyStatus = 429; // or 403

    // "user=X-Caller,model=X-Model" overrides some names; false and *error for a bad spec.
    bool setHeaders(const QString &spec, QString *error);
};

void installForwardAuthRoutes(HttpApi &api, CheckService &service, Metrics &metrics, const ForwardAuthSettings &settings);

} // namespace sluice
