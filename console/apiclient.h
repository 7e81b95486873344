// SPDX-License-Identifier: Apache-2.0
// The console's one door to the server: every call goes over HTTP through one
// QNetworkAccessManager, asynchronously; answers come back as callbacks on the GUI thread,
// bound to a context object (dropped when it is gone). Never blocks, never parses in views.
#pragma once

#include "apierror.h"
#include "checkrequest.h"
#include "decision.h"

#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QObject>
#include <QUrl>
#include <functional>

namespace sluice {

class ApiClient : public QObject
{
    Q_OBJECT
public:
    explicit ApiClient(QObject *parent = nullptr);

    void setServer(const QUrl &baseUrl, const QByteArray &adminToken);
    QUrl server() const { return m_base; }

    // status: the HTTP status (200/429 with a decision; anything else with an error).
    void check(const CheckRequest &request, QObject *context,
               std::function<void(int status, const Decision &decision, const ApiError &error)> done);
    void health(QObject *context, std::function<void(bool ok, const QJsonObject &health)> done);

private:
    QNetworkAccessManager m_nam;
    QUrl m_base;
    QByteArray m_token;
};

} // namespace sluice
