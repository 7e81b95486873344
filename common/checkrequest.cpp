// SPDX-License-Identifier: Apache-2.0
#include "checkrequest.h"

#include "apipaths.h"
#include "jsonwriter.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>
#include <cmath>

namespace sluice {

int codePointCount(const QString &s)
{
    int n = 0;
    for (QChar c : s) {
        if (!c.isLowSurrogate())
            ++n;
    }
    return n;
}

namespace {

// The rules every id shares, wherever it came from (JSON field or header).
QString checkedId(const QString &field, const QString &s, int maxLength)
{
    if (s.isEmpty())
        throw ApiError::badRequest(QStringLiteral("%1 must not be empty").arg(field));
    if (codePointCount(s) > maxLength)
        throw ApiError::badRequest(QStringLiteral("%1 is longer than %2 characters").arg(field).arg(maxLength));
    if (s.contains(QChar(0)))
        throw ApiError::badRequest(QStringLiteral("%1 must not contain NUL").arg(field));
    // An unpaired surrogate ("\ud800" in JSON) is not a character: written as UTF-8 it would
    // become '?' and share a key (and a usage row) with another id.
    for (qsizetype i = 0; i < s.size(); ++i) {
        const QChar c = s.at(i);
        if (c.isHighSurrogate() && i + 1 < s.size() && s.at(i + 1).isLowSurrogate()) {
            ++i;
            continue;
        }
        if (c.isSurrogate())
            throw ApiError::badRequest(QStringLiteral("%1 holds an unpaired UTF-16 surrogate (not valid Unicode)").arg(field));
    }
    return s;
}

QString readId(const QJsonObject &o, const char *field, bool required, int maxLength)
{
    const QJsonValue v = o.value(QLatin1String(field));
    if (v.isUndefined() || v.isNull()) {
        if (required)
            throw ApiError::badRequest(QStringLiteral("%1 is required").arg(QLatin1String(field)));
        return QString();
    }
    if (!v.isString())
        throw ApiError::badRequest(QStringLiteral("%1 must be a string").arg(QLatin1String(field)));
    return checkedId(QLatin1String(field), v.toString(), maxLength);
}

QString fieldId(const CheckRequest::Field &f, bool required, int maxLength)
{
    if (f.value.isNull()) {
        if (required)
            throw ApiError::badRequest(QStringLiteral("%1 is required").arg(f.name));
        return QString();
    }
    return checkedId(f.name, f.value, maxLength);
}

QString costError(const QString &field) { return QStringLiteral("%1 must be an integer from 1 to 1000000000").arg(field); }

QJsonObject objectBody(const QByteArray &body)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError)
        throw ApiError::badRequest(QStringLiteral("body is not valid JSON: %1 at offset %2")
                                       .arg(error.errorString())
                                       .arg(error.offset));
    if (!doc.isObject())
        throw ApiError::badRequest(QStringLiteral("body must be a JSON object"));
    return doc.object();
}

} // namespace

CheckRequest CheckRequest::fromJson(const QByteArray &body)
{
    const QJsonObject o = objectBody(body);
    CheckRequest r;
    r.userId = readId(o, "userId", true, api::kMaxIdLength);
    r.modelId = readId(o, "modelId", true, api::kMaxIdLength);
    r.tenantId = readId(o, "tenantId", false, api::kMaxIdLength);
    r.modelTier = readId(o, "modelTier", false, api::kMaxIdLength);
    r.apiKey = readId(o, "apiKey", false, 256);
    const QJsonValue cost = o.value(QStringLiteral("cost"));
    if (!cost.isUndefined() && !cost.isNull()) {
        const double d = cost.toDouble(-1);
        if (!cost.isDouble() || d != std::floor(d) || d < 1 || d > static_cast<double>(api::kMaxCost))
            throw ApiError::badRequest(costError(QStringLiteral("cost")));
        r.cost = static_cast<qint64>(d);
    }
    return r;
}

CheckRequest::Field CheckRequest::Field::fromUtf8(const QString &name, const QByteArray &raw)
{
    if (raw.isNull())
        return {name, QString()};
    if (!raw.isValidUtf8())
        throw ApiError::badRequest(QStringLiteral("%1 is not valid UTF-8").arg(name));
    return {name, QString::fromUtf8(raw)};
}

CheckRequest CheckRequest::fromFields(const Field &user, const Field &model, const Field &tenant, const Field &tier,
                                      const Field &apiKey, const Field &cost)
{
    CheckRequest r;
    r.userId = fieldId(user, true, api::kMaxIdLength);
    r.modelId = fieldId(model, true, api::kMaxIdLength);
    r.tenantId = fieldId(tenant, false, api::kMaxIdLength);
    r.modelTier = fieldId(tier, false, api::kMaxIdLength);
    r.apiKey = fieldId(apiKey, false, 256);
    if (!cost.value.isNull()) {
        const QString v = cost.value.trimmed();
        bool ok = !v.isEmpty() && std::all_of(v.cbegin(), v.cend(), [](QChar c) { return c >= QLatin1Char('0') && c <= QLatin1Char('9'); });
        const qint64 n = ok ? v.toLongLong(&ok) : 0;
        if (!ok || n < 1 || n > api::kMaxCost)
            throw ApiError::badRequest(costError(cost.name));
        r.cost = n;
    }
    return r;
}

ReservationRequest ReservationRequest::fromJson(const QByteArray &body, bool withTokens)
{
    const QJsonObject o = objectBody(body);
    ReservationRequest r;
    // Ids are what a store made: letters, digits, '.', '-' and '_', at most 64 of them.
    r.reservationId = readId(o, "reservationId", true, 64);
    for (QChar c : r.reservationId) {
        if (!(c.isLetterOrNumber() && c.unicode() < 128) && c != QLatin1Char('.') && c != QLatin1Char('-') && c != QLatin1Char('_'))
            throw ApiError::badRequest(QStringLiteral("reservationId is not one this server hands out"));
    }
    const QJsonValue tokens = o.value(QStringLiteral("tokens"));
    if (!tokens.isUndefined() && !tokens.isNull()) {
        if (!withTokens)
            throw ApiError::badRequest(QStringLiteral("tokens belongs to /rate-limit/complete, not here"));
        const double d = tokens.toDouble(-1);
        if (!tokens.isDouble() || d != std::floor(d) || d < 0 || d > static_cast<double>(api::kMaxCost))
            throw ApiError::badRequest(QStringLiteral("tokens must be an integer from 0 to 1000000000"));
        r.tokens = static_cast<qint64>(d);
    }
    return r;
}

QByteArray ReservationRequest::toJson() const
{
    JsonWriter w(96);
    w.beginObject().key("reservationId").value(reservationId);
    if (tokens)
        w.key("tokens").value(*tokens);
    w.endObject();
    return w.take();
}

QByteArray CheckRequest::toJson() const
{
    JsonWriter w(256);
    w.beginObject().key("userId").value(userId).key("modelId").value(modelId);
    if (!tenantId.isNull())
        w.key("tenantId").value(tenantId);
    if (!modelTier.isNull())
        w.key("modelTier").value(modelTier);
    if (!apiKey.isNull())
        w.key("apiKey").value(apiKey);
    if (cost != 1)
        w.key("cost").value(cost);
    w.endObject();
    return w.take();
}

} // namespace sluice
