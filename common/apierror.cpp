// SPDX-License-Identifier: Apache-2.0
#include "apierror.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace sluice {

QByteArray ApiError::toJson() const
{
    QJsonObject inner{{QStringLiteral("code"), m_code}, {QStringLiteral("message"), m_message}};
    return QJsonDocument(QJsonObject{{QStringLiteral("error"), inner}}).toJson(QJsonDocument::Compact);
}

bool ApiError::fromJson(const QByteArray &body, int status, ApiError *out)
{
    const QJsonObject error = QJsonDocument::fromJson(body).object().value(QStringLiteral("error")).toObject();
    if (error.isEmpty())
        return false;
    *out = ApiError(status, error.value(QStringLiteral("code")).toString(),
                    error.value(QStringLiteral("message")).toString());
    return true;
}

} // namespace sluice
