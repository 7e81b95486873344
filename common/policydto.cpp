// SPDX-License-Identifier: Apache-2.0
#include "policydto.h"

#include "checkrequest.h"

#include <QJsonArray>
#include <QJsonValue>
#include <cmath>

namespace sluice {

namespace {

QJsonValue nullable(const QString &s) { return s.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(s); }

// Reads an optional string selector. Absent or null → null QString. Empty string → error.
bool readSelector(const QJsonObject &o, const char *field, QString *out, QString *error)
{
    const QJsonValue v = o.value(QLatin1String(field));
    if (v.isUndefined() || v.isNull()) {
        *out = QString();
        return true;
    }
    if (!v.isString() || v.toString().isEmpty() || codePointCount(v.toString()) > 128) {
        *error = QStringLiteral("%1 must be null or a string of 1 to 128 characters").arg(QLatin1String(field));
        return false;
    }
    *out = v.toString();
    return true;
}

bool readInteger(const QJsonObject &o, const char *field, qint64 *out, QString *error, bool required)
{
    const QJsonValue v = o.value(QLatin1String(field));
    if (v.isUndefined() || v.isNull()) {
        if (required) {
            *error = QStringLiteral("%1 is required").arg(QLatin1String(field));
            return false;
        }
        return true;
    }
    const double d = v.toDouble(std::nan(""));
    if (!v.isDouble() || std::isnan(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) {
        *error = QStringLiteral("%1 must be an integer").arg(QLatin1String(field));
        return false;
    }
    *out = static_cast<qint64>(d);
    return true;
}

} // namespace

bool PolicyDto::scopeAllows(Scope scope, const char *field)
{
    const QLatin1String f(field);
    switch (scope) {
    case Scope::UserModel: return f == QLatin1String("userId") || f == QLatin1String("modelId");
    case Scope::ApiKey: return f == QLatin1String("apiKeyId");
    case Scope::Tenant: return f == QLatin1String("tenantId");
    case Scope::Model: return f == QLatin1String("modelId");
    case Scope::ModelTier: return f == QLatin1String("modelTier");
    case Scope::Global: return false;
    }
    return false;
}

bool PolicyDto::isScopeDefault() const
{
    switch (scope) {
    case Scope::UserModel: return userId.isNull() || modelId.isNull();
    case Scope::ApiKey: return !apiKeyId;
    case Scope::Tenant: return tenantId.isNull();
    case Scope::Model: return modelId.isNull();
    case Scope::ModelTier: return modelTier.isNull();
    case Scope::Global: return false;
    }
    return false;
}

QJsonObject PolicyDto::toJson() const
{
    QJsonObject o;
    o.insert(QStringLiteral("id"), id);
    o.insert(QStringLiteral("scope"), scopeName(scope));
    o.insert(QStringLiteral("tenantId"), nullable(tenantId));
    o.insert(QStringLiteral("userId"), nullable(userId));
    o.insert(QStringLiteral("apiKeyId"), apiKeyId ? QJsonValue(*apiKeyId) : QJsonValue(QJsonValue::Null));
    o.insert(QStringLiteral("modelId"), nullable(modelId));
    o.insert(QStringLiteral("modelTier"), nullable(modelTier));
    o.insert(QStringLiteral("windowSeconds"), unit == Unit::Concurrent ? QJsonValue(QJsonValue::Null) : QJsonValue(windowSeconds));
    o.insert(QStringLiteral("limit"), limit);
    o.insert(QStringLiteral("unit"), unitName(unit));
    o.insert(QStringLiteral("algorithm"), algorithmName(algorithm));
    o.insert(QStringLiteral("burst"), burst ? QJsonValue(*burst) : QJsonValue(QJsonValue::Null));
    o.insert(QStringLiteral("shadow"), shadow);
    o.insert(QStringLiteral("adaptive"), adaptive);
    o.insert(QStringLiteral("minFactor"), minFactor);
    o.insert(QStringLiteral("maxFactor"), maxFactor);
    o.insert(QStringLiteral("enabled"), enabled);
    o.insert(QStringLiteral("description"), description);
    return o;
}

std::optional<PolicyDto> PolicyDto::fromJson(const QJsonObject &o, QString *error)
{
    PolicyDto p;
    QString scratch;
    if (!error)
        error = &scratch;
    const QJsonValue scopeValue = o.value(QStringLiteral("scope"));
    const auto scope = scopeFromName(scopeValue.toString());
    if (!scopeValue.isString() || !scope) {
        *error = QStringLiteral("scope must be one of USER_MODEL, API_KEY, TENANT, MODEL, MODEL_TIER, GLOBAL");
        return std::nullopt;
    }
    p.scope = *scope;
    if (!readInteger(o, "id", &p.id, error, false))
        return std::nullopt;
    if (!readSelector(o, "tenantId", &p.tenantId, error) || !readSelector(o, "userId", &p.userId, error)
        || !readSelector(o, "modelId", &p.modelId, error) || !readSelector(o, "modelTier", &p.modelTier, error))
        return std::nullopt;
    const QJsonValue key = o.value(QStringLiteral("apiKeyId"));
    if (!key.isUndefined() && !key.isNull()) {
        qint64 id = 0;
        if (!readInteger(o, "apiKeyId", &id, error, true))
            return std::nullopt;
        p.apiKeyId = id;
    }
    const QJsonValue unitValue = o.value(QStringLiteral("unit"));
    if (!unitValue.isUndefined() && !unitValue.isNull()) {
        const auto unit = unitFromName(unitValue.toString());
        if (!unitValue.isString() || !unit) {
            *error = QStringLiteral("unit must be one of requests, tokens, concurrent");
            return std::nullopt;
        }
        p.unit = *unit;
    }
    if (p.unit == Unit::Concurrent) {
        const QJsonValue window = o.value(QStringLiteral("windowSeconds"));
        if (!window.isUndefined() && !window.isNull()) {
            *error = QStringLiteral("windowSeconds must be null for a concurrent policy: it limits leases held at once, over no window");
            return std::nullopt;
        }
        p.windowSeconds = 0;
    } else if (!readInteger(o, "windowSeconds", &p.windowSeconds, error, true)) {
        return std::nullopt;
    } else if (p.windowSeconds <= 0 || p.windowSeconds > kMaxWindowSeconds) {
        *error = QStringLiteral("windowSeconds must be an integer from 1 to %1 (31 days)").arg(kMaxWindowSeconds);
        return std::nullopt;
    }
    const QJsonValue algorithm = o.value(QStringLiteral("algorithm"));
    if (!algorithm.isUndefined() && !algorithm.isNull()) {
        const auto a = algorithmFromName(algorithm.toString());
        if (!algorithm.isString() || !a) {
            *error = QStringLiteral("algorithm must be sliding_log or token_bucket");
            return std::nullopt;
        }
        p.algorithm = *a;
    }
    if (p.algorithm == Algorithm::TokenBucket && p.unit == Unit::Concurrent) {
        *error = QStringLiteral("algorithm token_bucket does not apply to a concurrent policy (it counts leases held)");
        return std::nullopt;
    }
    const QJsonValue burst = o.value(QStringLiteral("burst"));
    if (!burst.isUndefined() && !burst.isNull()) {
        qint64 b = 0;
        if (!readInteger(o, "burst", &b, error, true))
            return std::nullopt;
        if (p.algorithm != Algorithm::TokenBucket) {
            *error = QStringLiteral("burst is only for algorithm token_bucket");
            return std::nullopt;
        }
        if (b < 1) {
            *error = QStringLiteral("burst must be an integer >= 1");
            return std::nullopt;
        }
        p.burst = b;
    }
    const QJsonValue shadow = o.value(QStringLiteral("shadow"));
    if (!shadow.isUndefined() && !shadow.isNull()) {
        if (!shadow.isBool()) {
            *error = QStringLiteral("shadow must be true or false");
            return std::nullopt;
        }
        p.shadow = shadow.toBool();
    }
    const QJsonValue adaptive = o.value(QStringLiteral("adaptive"));
    if (!adaptive.isUndefined() && !adaptive.isNull()) {
        if (!adaptive.isBool()) {
            *error = QStringLiteral("adaptive must be true or false");
            return std::nullopt;
        }
        p.adaptive = adaptive.toBool();
    }
    for (const auto &[field, out] : {std::pair<const char *, double *>{"minFactor", &p.minFactor}, {"maxFactor", &p.maxFactor}}) {
        const QJsonValue v = o.value(QLatin1String(field));
        if (v.isUndefined() || v.isNull())
            continue;
        if (!v.isDouble() || !std::isfinite(v.toDouble())) {
            *error = QStringLiteral("%1 must be a number").arg(QLatin1String(field));
            return std::nullopt;
        }
        *out = v.toDouble();
    }
    if (!(p.minFactor > 0 && p.minFactor <= 1)) {
        *error = QStringLiteral("minFactor must be above 0 and at most 1 (the share of the limit kept while the pool is saturated)");
        return std::nullopt;
    }
    if (!(p.maxFactor >= 1 && p.maxFactor <= 10)) {
        *error = QStringLiteral("maxFactor must be from 1 to 10 (above 1 lends idle capacity)");
        return std::nullopt;
    }
    if (!readInteger(o, "limit", &p.limit, error, true))
        return std::nullopt;
    if (p.limit < 0) {
        *error = QStringLiteral("limit must be an integer >= 0");
        return std::nullopt;
    }
    const QJsonValue enabled = o.value(QStringLiteral("enabled"));
    if (!enabled.isUndefined() && !enabled.isNull()) {
        if (!enabled.isBool()) {
            *error = QStringLiteral("enabled must be true or false");
            return std::nullopt;
        }
        p.enabled = enabled.toBool();
    }
    const QJsonValue description = o.value(QStringLiteral("description"));
    if (!description.isUndefined() && !description.isNull()) {
        if (!description.isString() || description.toString().size() > 1000) {
            *error = QStringLiteral("description must be a string of at most 1000 characters");
            return std::nullopt;
        }
        p.description = description.toString();
    }
    const struct { const char *field; bool set; } selectors[] = {
        {"tenantId", !p.tenantId.isNull()}, {"userId", !p.userId.isNull()}, {"apiKeyId", p.apiKeyId.has_value()},
        {"modelId", !p.modelId.isNull()}, {"modelTier", !p.modelTier.isNull()}};
    for (const auto &s : selectors) {
        if (s.set && !scopeAllows(p.scope, s.field)) {
            *error = QStringLiteral("%1 cannot be set on a %2 policy").arg(QLatin1String(s.field), scopeName(p.scope));
            return std::nullopt;
        }
    }
    return p;
}

QString PolicyDto::selectorKey() const
{
    auto part = [](const QString &s) { return s.isNull() ? QStringLiteral("*") : QStringLiteral("=") + s; };
    return scopeName(scope) + QLatin1Char('|') + part(tenantId) + QLatin1Char('|') + part(userId) + QLatin1Char('|')
        + (apiKeyId ? QString::number(*apiKeyId) : QStringLiteral("*")) + QLatin1Char('|') + part(modelId)
        + QLatin1Char('|') + part(modelTier) + QLatin1Char('|') + unitName(unit);
}

QString PolicyDto::boundError() const
{
    if (limit <= kMaxLogEntries || algorithm != Algorithm::SlidingLog || unit == Unit::Tokens)
        return QString();
    return unit == Unit::Concurrent
               ? QStringLiteral("limit must be at most %1 for a concurrent policy (one entry per lease held)").arg(kMaxLogEntries)
               : QStringLiteral("limit must be at most %1 for a sliding_log policy (it keeps one entry per request); "
                                "use algorithm token_bucket for a higher rate")
                     .arg(kMaxLogEntries);
}

bool PolicyDto::operator==(const PolicyDto &o) const
{
    return id == o.id && scope == o.scope && tenantId == o.tenantId && userId == o.userId && apiKeyId == o.apiKeyId
        && modelId == o.modelId && modelTier == o.modelTier && unit == o.unit && algorithm == o.algorithm && burst == o.burst
        && shadow == o.shadow && adaptive == o.adaptive && minFactor == o.minFactor && maxFactor == o.maxFactor
        && windowSeconds == o.windowSeconds && limit == o.limit
        && enabled == o.enabled && description == o.description;
}

QList<PolicyDto> policiesFromJson(const QJsonArray &a, QString *error)
{
    QList<PolicyDto> out;
    for (const QJsonValue &v : a) {
        auto p = PolicyDto::fromJson(v.toObject(), error);
        if (!p)
            return {};
        out.append(*p);
    }
    return out;
}

} // namespace sluice
