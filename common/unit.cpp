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

QString algorithmName(Algorithm a)
{
    return a == Algorithm::TokenBucket ? QStringLiteral("token_bucket") : QStringLiteral("sliding_log");
}

std::optional<Algorithm> algorithmFromName(const QString &name)
{
    if (name == QStringLiteral("sliding_log"))
        return Algorithm::SlidingLog;
    if (name == QStringLiteral("token_bucket"))
        return Algorithm::TokenBucket;
    return std::nullopt;
}

QString readableWindow(qint64 seconds)
{
    struct Step { qint64 seconds; const char *one; const char *many; };
    static const Step steps[] = {{86400, "day", "days"}, {3600, "h", "h"}, {60, "min", "min"}};
    for (const Step &s : steps) {
        if (seconds >= s.seconds && seconds % s.seconds == 0) {
            const qint64 n = seconds / s.seconds;
            return QStringLiteral("%1 %2").arg(n).arg(QLatin1String(n == 1 ? s.one : s.many));
        }
    }
    return QStringLiteral("%1 s").arg(seconds);
}

} // namespace sluice
