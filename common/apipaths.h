// SPDX-License-Identifier: Apache-2.0
// Every path and JSON field name of the API, in one place for server, console and tests.
#pragma once

#include <QtGlobal>

namespace sluice::api {

inline constexpr char kCheckPath[] = "/rate-limit/check";
inline constexpr char kCompletePath[] = "/rate-limit/complete";
inline constexpr char kExtendPath[] = "/rate-limit/extend";
inline constexpr char kForwardAuthPath[] = "/rate-limit/forward-auth";
inline constexpr char kHealthPath[] = "/health";
inline constexpr char kMetricsPath[] = "/metrics";
inline constexpr char kOpenApiPath[] = "/openapi.json";
inline constexpr char kDocsPath[] = "/docs";
inline constexpr char kAdminPolicies[] = "/admin/policies";
inline constexpr char kAdminTenants[] = "/admin/tenants";
inline constexpr char kAdminUsers[] = "/admin/users";
inline constexpr char kAdminModels[] = "/admin/models";
inline constexpr char kAdminTiers[] = "/admin/tiers";
inline constexpr char kAdminApiKeys[] = "/admin/api-keys";
inline constexpr char kAdminUsage[] = "/admin/usage";
inline constexpr char kAdminTopBlocked[] = "/admin/top-blocked";
inline constexpr char kAdminAnalytics[] = "/admin/analytics";
inline constexpr char kAdminEvents[] = "/admin/events";
inline constexpr char kAdminPools[] = "/admin/pools";
inline constexpr char kAdminExplain[] = "/admin/explain";

inline constexpr char kApiKeyHeader[] = "x-api-key";

// Limits of the check contract (design §3).
inline constexpr int kMaxIdLength = 128;
inline constexpr qint64 kMaxCost = 1000000000;
inline constexpr int kMaxBodyBytes = 16 * 1024;

} // namespace sluice::api
