// SPDX-License-Identifier: Apache-2.0
#include "unit.h"

namespace sluice {

QString unitName(Unit u)
{
    switch (u) {
    case Unit::Requests: return QStringLiteral("requests");
    case Unit::Tokens: return QStringLiteral("tokens");
    case Unit::Concurrent: return QStringLiteral("concurrent");
    }
    return {};
}

std::optional<Unit> unitFromName(const QString &name)
{
    for (Unit u : kUnits) {
        if (unitName(u) == name)
            return u;
    }
    return std::nullopt;
}

QByteArray unitKeySuffix(Unit u)
{
    switch (u) {
    case Unit::Requests: return QByteArray();
    case Unit::Tokens: return QByteArrayLiteral(":tokens");
    case Unit::Concurrent: return QByteArrayLiteral(":leases");
    }
    return {};
}

} // namespace sluice
