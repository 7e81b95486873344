// SPDX-License-Identifier: Apache-2.0
#include "apiclient.h"

#include "apipaths.h"

#include <QJsonDocument>
#include <QNetworkReply>
#include <QPointer>

namespace sluice {

ApiClient::ApiClient(QObject *parent) : QObject(parent)
{
    m_nam.setTransferTimeout(10000);
}

void ApiClient::setServer(const QUrl &baseUrl, const QByteArray &adminToken)
{
    m_base = baseUrl;
    m_token = adminToken;
}

void ApiClient::check(const CheckRequest &request, QObject *context,
                      std::function<void(int, const Decision &, const ApiError &)> done)
{
    QNetworkRequest r(m_base.resolved(QUrl(QString::fromLatin1(api::kCheckPath))));
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    QNetworkReply *reply = m_nam.post(r, request.toJson());
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray body = reply->readAll();
        ApiError error(status, QStringLiteral("network"), reply->errorString());
        if (status == 200 || status == 429) {
            if (auto d = Decision::fromJson(body))
                return done(status, *d, error);
        }
        ApiError::fromJson(body, status, &error);
        done(status, Decision(), error);
    });
}

void ApiClient::health(QObject *context, std::function<void(bool, const QJsonObject &)> done)
{
    QNetworkReply *reply = m_nam.get(QNetworkRequest(m_base.resolved(QUrl(QString::fromLatin1(api::kHealthPath)))));
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        const QJsonObject o = QJsonDocument::fromJson(reply->readAll()).object();
        done(reply->error() == QNetworkReply::NoError && !o.isEmpty(), o);
    });
}

} // namespace sluice
