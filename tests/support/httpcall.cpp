// SPDX-License-Identifier: Apache-2.0
#include "httpcall.h"

#include <QJsonDocument>
#include <QNetworkReply>
#include <QSignalSpy>

namespace sluice::test {

QJsonObject HttpAnswer::object() const { return QJsonDocument::fromJson(body).object(); }
QJsonArray HttpAnswer::array() const { return QJsonDocument::fromJson(body).array(); }

QString HttpAnswer::errorMessage() const
{
    return object().value(QStringLiteral("error")).toObject().value(QStringLiteral("message")).toString();
}

HttpAnswer httpCall(QNetworkAccessManager &nam, const QUrl &url, const QByteArray &method, const QByteArray &body,
                    const QByteArray &contentType, const QList<QPair<QByteArray, QByteArray>> &headers, int timeoutMs)
{
    QNetworkRequest r(url);
    if (!contentType.isEmpty())
        r.setRawHeader("Content-Type", contentType);
    for (const auto &h : headers)
        r.setRawHeader(h.first, h.second);
    QNetworkReply *reply = nam.sendCustomRequest(r, method, body);
    QSignalSpy done(reply, &QNetworkReply::finished);
    if (!reply->isFinished() && !done.wait(timeoutMs))
        qWarning("no answer from %s in %d ms", qPrintable(url.toString()), timeoutMs);
    HttpAnswer a;
    a.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    a.body = reply->readAll();
    for (const auto &h : reply->rawHeaderPairs())
        a.headers.insert(h.first.toLower(), h.second);
    reply->deleteLater();
    return a;
}

int pushPoolLoad(QNetworkAccessManager &nam, const QUrl &server, const QByteArray &token, const QString &pool, const QByteArray &load)
{
    return httpCall(nam, server.resolved(QUrl(QStringLiteral("/admin/pools/%1/load").arg(pool))), "PUT", load, "application/json",
                    {{"Authorization", "Bearer " + token}})
        .status;
}

bool firstPoolSaturated(QNetworkAccessManager &nam, const QUrl &server, const QByteArray &token)
{
    return httpCall(nam, server.resolved(QUrl(QStringLiteral("/admin/pools"))), "GET", {}, {}, {{"Authorization", "Bearer " + token}})
        .array()
        .first()
        .toObject()
        .value(QStringLiteral("saturated"))
        .toBool();
}

} // namespace sluice::test
