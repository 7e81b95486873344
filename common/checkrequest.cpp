// SPDX-License-Identifier: Apache-2.0
#include "checkrequest.h"

#include "apipaths.h"
#include "jsonwriter.h"

#include <QJsonDocument>
#include <QJsonObject>
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
    QString s = v.toString();
    if (s.isEmpty())
        throw ApiError::badRequest(QStringLiteral("%1 must not be empty").arg(QLatin1String(field)));
    if (codePointCount(s) > maxLength)
        throw ApiError::badRequest(
            QStringLiteral("%1 is longer than %2 characters").arg(QLatin1String(field)).arg(maxLength));
    if (s.contains(QChar(0)))
        throw ApiError::badRequest(QStringLiteral("%1 must not contain NUL").arg(QLatin1String(field)));
    return s;
}

} // namespace

CheckRequest CheckRequest::fromJson(const QByteArray &body)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError)
        throw ApiError::badRequest(QStringLiteral("body is not valid JSON: %1 at offset %2")
                                       .arg(error.errorString())
                                       .arg(error.offset));
    if (!doc.isObject())
        throw ApiError::badRequest(QStringLiteral("body must be a JSON object"));
    const QJsonObject o = doc.object();
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
            throw ApiError::badRequest(QStringLiteral("cost must be an integer from 1 to 1000000000"));
        r.cost = static_cast<qint64>(d);
    }
    return r;
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
