// SPDX-License-Identifier: Apache-2.0
// One HTTP call from a test to a real server, waited for (bounded): status, body, headers.
#pragma once

#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QUrl>

namespace sluice::test {

struct HttpAnswer
{
    int status = 0;
    QByteArray body;
    QHash<QByteArray, QByteArray> headers; // names lower-case
    QJsonObject object() const;
    QJsonArray array() const;
    QString errorMessage() const; // error.message of a JSON error body
};

// An empty contentType sends none; `headers` are added as given.
HttpAnswer httpCall(QNetworkAccessManager &nam, const QUrl &url, const QByteArray &method, const QByteArray &body = QByteArray(),
                    const QByteArray &contentType = "application/json",
                    const QList<QPair<QByteArray, QByteArray>> &headers = {}, int timeoutMs = 10000);

// A GPU pool's load pushed (PUT /admin/pools/{pool}/load, admin `token`): the status. And whether
// GET /admin/pools calls the first pool saturated now (the demo has one pool, gpu-main).
int pushPoolLoad(QNetworkAccessManager &nam, const QUrl &server, const QByteArray &token, const QString &pool, const QByteArray &load);
bool firstPoolSaturated(QNetworkAccessManager &nam, const QUrl &server, const QByteArray &token);

} // namespace sluice::test
