// SPDX-License-Identifier: Apache-2.0
#include "http/adminroutes.h"

#include "apipaths.h"
#include "http/adminsupport.h"
#include "http/eventhub.h"
#include "http/servercontext.h"

namespace sluice {

void installAdminRoutes(HttpApi &api, const ServerContext &context, WindowStore &store)
{
    installPolicyRoutes(api, context);
    installEntityRoutes(api, context);
    installApiKeyRoutes(api, context);
    installUsageRoutes(api, context, store);
    installPoolRoutes(api, context);
    auto *hub = new EventHub(context, store, &api);
    api.route("GET", QLatin1String(api::kAdminEvents), adminOnly(context, [hub](const HttpRequest &r, HttpResponder responder) {
        hub->subscribe(responder, keysFrom(r));
    }));
}

} // namespace sluice
