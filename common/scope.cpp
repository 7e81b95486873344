// SPDX-License-Identifier: Apache-2.0
#include "scope.h"

namespace sluice {

QString scopeName(Scope s)
{
    switch (s) {
    case Scope::Global: return QStringLiteral("GLOBAL");
    case Scope::ModelTier: return QStringLiteral("MODEL_TIER");
    case Scope::Model: return QStringLiteral("MODEL");
    case Scope::Tenant: return QStringLiteral("TENANT");
    case Scope::ApiKey: return QStringLiteral("API_KEY");
    case Scope::UserModel: return QStringLiteral("USER_MODEL");
    }
    return {};
}

QByteArray scopeToken(Scope s)
{
    switch (s) {
    case Scope::Global: return QByteArrayLiteral("global");
    case Scope::ModelTier: return QByteArrayLiteral("model_tier");
    case Scope::Model: return QByteArrayLiteral("model");
    case Scope::Tenant: return QByteArrayLiteral("tenant");
    case Scope::ApiKey: return QByteArrayLiteral("api_key");
    case Scope::UserModel: return QByteArrayLiteral("user_model");
    }
    return {};
}

std::optional<Scope> scopeFromName(const QString &name)
{
    for (Scope s : kScopesBySpecificity) {
        if (scopeName(s) == name)
            return s;
    }
    return std::nullopt;
}

} // namespace sluice
