// SPDX-License-Identifier: Apache-2.0
// The six policy scopes of design §2 and their fixed specificity order.
// Shared by server and console; never depends on anything but Qt Core.
#pragma once

#include <QString>
#include <array>
#include <optional>

namespace sluice {

// Values are the specificity (6 = most specific). Order matters: sorting by value sorts by specificity.
enum class Scope : int {
    Global = 1,
    ModelTier = 2,
    Model = 3,
    Tenant = 4,
    ApiKey = 5,
    UserModel = 6,
};

inline constexpr std::array<Scope, 6> kScopesBySpecificity = {
    Scope::UserModel, Scope::ApiKey, Scope::Tenant, Scope::Model, Scope::ModelTier, Scope::Global};

inline int specificity(Scope s) { return static_cast<int>(s); }

// "USER_MODEL", "API_KEY", ... (the wire and database name)
QString scopeName(Scope s);
// "user_model", "api_key", ... (the IETF RateLimit policy name and the window key prefix)
QByteArray scopeToken(Scope s);
std::optional<Scope> scopeFromName(const QString &name);

} // namespace sluice
