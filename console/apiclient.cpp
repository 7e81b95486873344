// SPDX-License-Identifier: Apache-2.0
#include "apiclient.h"

#include "apipaths.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkReply>
#include <QPointer>
#include <QUrlQuery>

namespace sluice {

namespace {
// An answer that is not what the route promises is an error the operator must see, never an
// empty list or "policy 0" (a proxy's HTML page, a truncated body, another server on the port).
bool unreadable(int status, const QString &what, const QString &why, ApiError *error)
{
    *error = ApiError(status, QStringLiteral("bad_response"),
                      QStringLiteral("the server's answer is not %1 (%2)").arg(what, why));
    return true;
}

// The answer's JSON document, which must be an array (or an object); false and *error otherwise.
bool parseJson(const QByteArray &body, int status, const QString &what, bool wantArray, QJsonDocument *out, ApiError *error)
{
    QJsonParseError parse;
    *out = QJsonDocument::fromJson(body, &parse);
    if (parse.error != QJsonParseError::NoError)
        return !unreadable(status, what, parse.errorString(), error);
    if (wantArray ? !out->isArray() : !out->isObject())
        return !unreadable(status, what, wantArray ? QStringLiteral("not a JSON array") : QStringLiteral("not a JSON object"), error);
    return true;
}

bool parseArray(const QByteArray &body, int status, const QString &what, QJsonArray *out, ApiError *error)
{
    QJsonDocument doc;
    if (!parseJson(body, status, what, true, &doc, error))
        return false;
    *out = doc.array();
    return true;
}

int statusOf(QNetworkReply *reply) { return reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(); }
} // namespace

ApiClient::ApiClient(QObject *parent) : QObject(parent)
{
    m_nam.setTransferTimeout(10000);
}

std::optional<QUrl> ApiClient::serverUrl(const QString &text, QString *error)
{
    QString t = text.trimmed();
    if (!t.isEmpty() && !t.contains(QStringLiteral("://")))
        t.prepend(QStringLiteral("http://"));
    const QUrl url(t, QUrl::StrictMode);
    if (!url.isValid() || (url.scheme() != QStringLiteral("http") && url.scheme() != QStringLiteral("https")) || url.host().isEmpty()) {
        *error = QStringLiteral("'%1' is not a server URL: expected http://host:port (or https://…)").arg(text);
        return std::nullopt;
    }
    return url;
}

void ApiClient::metrics(QObject *context, std::function<void(bool, const QByteArray &)> done)
{
    QNetworkReply *reply = m_nam.get(QNetworkRequest(m_base.resolved(QUrl(QString::fromLatin1(api::kMetricsPath)))));
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        const QByteArray text = reply->readAll();
        done(reply->error() == QNetworkReply::NoError && statusOf(reply) == 200, text);
    });
}

void ApiClient::setServer(const QUrl &baseUrl, const QByteArray &adminToken)
{
    m_base = baseUrl;
    m_token = adminToken;
    Q_EMIT serverChanged();
}

void ApiClient::completeReservation(const ReservationRequest &request, QObject *context,
                                    std::function<void(int, const QJsonObject &, const ApiError &)> done)
{
    postReservation(api::kCompletePath, request.toJson(), context, std::move(done));
}

void ApiClient::extendReservation(const QString &reservationId, QObject *context,
                                  std::function<void(int, const QJsonObject &, const ApiError &)> done)
{
    postReservation(api::kExtendPath, ReservationRequest{reservationId, std::nullopt}.toJson(), context, std::move(done));
}

void ApiClient::postReservation(const char *path, const QByteArray &body, QObject *context,
                                std::function<void(int, const QJsonObject &, const ApiError &)> done)
{
    QNetworkRequest r(m_base.resolved(QUrl(QString::fromLatin1(path))));
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    QNetworkReply *reply = m_nam.post(r, body);
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        const int status = statusOf(reply);
        const QByteArray answer = reply->readAll();
        ApiError error(status, QStringLiteral("network"), reply->errorString());
        QJsonDocument doc;
        if (status == 200 && parseJson(answer, status, QStringLiteral("a reservation answer"), false, &doc, &error))
            return done(status, doc.object(), error);
        if (status != 200)
            ApiError::fromJson(answer, status, &error);
        done(status == 200 ? 0 : status, QJsonObject(), error);
    });
}

void ApiClient::check(const CheckRequest &request, QObject *context,
                      std::function<void(int, const Decision &, const ApiError &)> done)
{
    QNetworkRequest r(m_base.resolved(QUrl(QString::fromLatin1(api::kCheckPath))));
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    answerDecision(m_nam.post(r, request.toJson()), context, std::move(done));
}

void ApiClient::explain(const CheckRequest &request, QObject *context,
                        std::function<void(int, const Decision &, const ApiError &)> done)
{
    QNetworkRequest r = adminRequest(QString::fromLatin1(api::kAdminExplain));
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    answerDecision(m_nam.post(r, request.toJson()), context, std::move(done));
}

void ApiClient::answerDecision(QNetworkReply *reply, QObject *context,
                               std::function<void(int, const Decision &, const ApiError &)> done)
{
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray body = reply->readAll();
        ApiError error(status, QStringLiteral("network"), reply->errorString());
        if (status == 200 || status == 429) {
            if (auto d = Decision::fromJson(body))
                return done(status, *d, error);
            unreadable(status, QStringLiteral("a rate-limit decision"), QStringLiteral("%1 bytes").arg(body.size()), &error);
            return done(status, Decision(), error);
        }
        ApiError::fromJson(body, status, &error);
        done(status, Decision(), error);
    });
}

void ApiClient::chat(const QString &apiKey, const QJsonObject &request, QObject *context, std::function<void(const ChatAnswer &)> done)
{
    QNetworkRequest r(m_base.resolved(QUrl(QStringLiteral("/v1/chat/completions"))));
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    r.setRawHeader("Authorization", "Bearer " + apiKey.toUtf8());
    r.setTransferTimeout(120000);
    QNetworkReply *reply = m_nam.post(r, QJsonDocument(request).toJson(QJsonDocument::Compact));
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        ChatAnswer a;
        a.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        a.body = QJsonDocument::fromJson(reply->readAll()).object();
        for (const auto &h : reply->rawHeaderPairs()) {
            const QByteArray name = h.first.toLower();
            if (name.startsWith("x-ratelimit-") || name == "retry-after")
                a.rateLimitHeaders.append({name, h.second});
        }
        if (a.status == 0)
            a.networkError = reply->errorString();
        done(a);
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

QNetworkRequest ApiClient::adminRequest(const QString &path) const
{
    QNetworkRequest r(m_base.resolved(QUrl(path)));
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    r.setRawHeader("Authorization", "Bearer " + m_token);
    return r;
}


bool ApiClient::failed(QNetworkReply *reply, const QByteArray &body, ApiError *error)
{
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 200 && status < 300)
        return false;
    *error = ApiError(status, QStringLiteral("network"), status ? QStringLiteral("HTTP %1").arg(status) : reply->errorString());
    ApiError::fromJson(body, status, error);
    // Plain language for the failures an operator can fix, with the server's own words kept.
    if (status == 0)
        *error = ApiError(0, error->code(), QStringLiteral("the server does not answer (%1)").arg(reply->errorString()));
    else if (status == 401 && error->code() == QLatin1String("unauthorized"))
        *error = ApiError(401, error->code(),
                          QStringLiteral("the server refused the admin token — set the right one in Server → Connect… (Ctrl+L) (%1)")
                              .arg(error->message()));
    else if (status == 403 && error->code() == QLatin1String("forbidden"))
        *error = ApiError(403, error->code(),
                          QStringLiteral("the server's admin API is off: it was started without --admin-token (%1)").arg(error->message()));
    return true;
}

void ApiClient::getArray(const QString &path, const QString &what, QObject *context,
                         std::function<void(const QJsonArray &, const ApiError *)> done)
{
    QNetworkReply *reply = m_nam.get(adminRequest(path));
    connect(reply, &QNetworkReply::finished, context, [reply, what, done = std::move(done)] {
        reply->deleteLater();
        const QByteArray body = reply->readAll();
        ApiError error(0, {}, {});
        QJsonArray array;
        if (failed(reply, body, &error) || !parseArray(body, statusOf(reply), what, &array, &error))
            return done({}, &error);
        done(array, nullptr);
    });
}

void ApiClient::listPolicies(QObject *context, std::function<void(const QList<PolicyDto> &, const ApiError *)> done)
{
    const QString what = QStringLiteral("a policy list");
    getArray(QString::fromLatin1(api::kAdminPolicies), what, context,
             [what, done = std::move(done)](const QJsonArray &array, const ApiError *error) {
                 if (error)
                     return done({}, error);
                 QString why;
                 const QList<PolicyDto> policies = policiesFromJson(array, &why);
                 if (!why.isEmpty()) {
                     ApiError unread(0, {}, {});
                     unreadable(200, what, why, &unread);
                     return done({}, &unread);
                 }
                 done(policies, nullptr);
             });
}

void ApiClient::savePolicy(const PolicyDto &policy, QObject *context, std::function<void(const PolicyDto &, const ApiError *)> done)
{
    const QByteArray body = QJsonDocument(policy.toJson()).toJson(QJsonDocument::Compact);
    const QString path = QString::fromLatin1(api::kAdminPolicies) + (policy.id > 0 ? QStringLiteral("/%1").arg(policy.id) : QString());
    QNetworkReply *reply = policy.id > 0 ? m_nam.put(adminRequest(path), body) : m_nam.post(adminRequest(path), body);
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        const QByteArray answer = reply->readAll();
        ApiError error(0, {}, {});
        if (failed(reply, answer, &error))
            return done(PolicyDto(), &error);
        QJsonDocument doc;
        if (!parseJson(answer, statusOf(reply), QStringLiteral("the saved policy"), false, &doc, &error))
            return done(PolicyDto(), &error);
        QString why;
        const auto saved = PolicyDto::fromJson(doc.object(), &why);
        if (!saved || saved->id <= 0) {
            unreadable(statusOf(reply), QStringLiteral("the saved policy"), saved ? QStringLiteral("no id") : why, &error);
            return done(PolicyDto(), &error);
        }
        done(*saved, nullptr);
    });
}

void ApiClient::deleteAdmin(const QString &path, QObject *context, std::function<void(const ApiError *)> done)
{
    QNetworkReply *reply = m_nam.deleteResource(adminRequest(path));
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        ApiError error(0, {}, {});
        done(failed(reply, reply->readAll(), &error) ? &error : nullptr);
    });
}

void ApiClient::deletePolicy(qint64 id, QObject *context, std::function<void(const ApiError *)> done)
{
    deleteAdmin(QString::fromLatin1(api::kAdminPolicies) + QStringLiteral("/%1").arg(id), context, std::move(done));
}

void ApiClient::listApiKeys(QObject *context, std::function<void(const QJsonArray &, const ApiError *)> done)
{
    getArray(QString::fromLatin1(api::kAdminApiKeys), QStringLiteral("a list of API keys"), context, std::move(done));
}

void ApiClient::createApiKey(const QString &tenantId, const QString &userId, QObject *context,
                             std::function<void(const QJsonObject &, const ApiError *)> done)
{
    QJsonObject body{{QStringLiteral("tenantId"), tenantId}};
    if (!userId.isEmpty())
        body.insert(QStringLiteral("userId"), userId);
    QNetworkReply *reply = m_nam.post(adminRequest(QString::fromLatin1(api::kAdminApiKeys)), QJsonDocument(body).toJson(QJsonDocument::Compact));
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        const QByteArray answer = reply->readAll();
        ApiError error(0, {}, {});
        QJsonDocument doc;
        if (failed(reply, answer, &error) || !parseJson(answer, statusOf(reply), QStringLiteral("the new API key"), false, &doc, &error))
            return done({}, &error);
        if (doc.object().value(QStringLiteral("apiKey")).toString().isEmpty()) {
            unreadable(statusOf(reply), QStringLiteral("the new API key"), QStringLiteral("no apiKey"), &error);
            return done({}, &error);
        }
        done(doc.object(), nullptr);
    });
}

void ApiClient::revokeApiKey(qint64 id, QObject *context, std::function<void(const ApiError *)> done)
{
    deleteAdmin(QString::fromLatin1(api::kAdminApiKeys) + QStringLiteral("/%1").arg(id), context, std::move(done));
}

void ApiClient::resetUsage(const QString &windowKey, QObject *context, std::function<void(const ApiError *)> done)
{
    deleteAdmin(QString::fromLatin1(api::kAdminUsage) + QLatin1Char('/') + QString::fromLatin1(QUrl::toPercentEncoding(windowKey)),
                context, std::move(done));
}

void ApiClient::registry(const QString &kind, QObject *context, std::function<void(const QJsonArray &, const ApiError *)> done)
{
    getArray(QStringLiteral("/admin/") + kind, QStringLiteral("a list of %1").arg(kind), context, std::move(done));
}

void ApiClient::pools(QObject *context, std::function<void(const QJsonArray &, const ApiError *)> done)
{
    getArray(QString::fromLatin1(api::kAdminPools), QStringLiteral("a list of pools"), context, std::move(done));
}

void ApiClient::setPriority(const QString &kind, const QString &id, const QString &priority, QObject *context,
                            std::function<void(const ApiError *)> done)
{
    const QString path = QStringLiteral("/admin/%1/%2").arg(kind, QString::fromLatin1(QUrl::toPercentEncoding(id)));
    const QJsonObject body{{QStringLiteral("priority"), priority.isEmpty() ? QJsonValue() : QJsonValue(priority)}};
    QNetworkReply *reply = m_nam.put(adminRequest(path), QJsonDocument(body).toJson(QJsonDocument::Compact));
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        ApiError error(0, {}, {});
        done(failed(reply, reply->readAll(), &error) ? &error : nullptr);
    });
}

void ApiClient::topBlocked(int n, QObject *context, std::function<void(const QJsonArray &, const ApiError *)> done)
{
    getArray(QString::fromLatin1(api::kAdminTopBlocked) + QStringLiteral("?n=%1").arg(n), QStringLiteral("a top-blocked list"),
             context, std::move(done));
}

void ApiClient::usage(const QStringList &keys, QObject *context, std::function<void(const QJsonArray &, const ApiError *)> done)
{
    QStringList encoded;
    for (const QString &k : keys)
        encoded << QString::fromLatin1(QUrl::toPercentEncoding(k));
    getArray(QString::fromLatin1(api::kAdminUsage) + QStringLiteral("?keys=") + encoded.join(QLatin1Char(',')), QStringLiteral("a usage list"),
             context, std::move(done));
}

void ApiClient::analytics(const QDateTime &from, const QDateTime &to, qint64 stepSeconds, const QString &groupBy, QObject *context,
                          std::function<void(const QJsonObject &, const ApiError *)> done)
{
    QUrlQuery query;
    query.addQueryItem(QStringLiteral("from"), QString::number(from.toSecsSinceEpoch()));
    query.addQueryItem(QStringLiteral("to"), QString::number(to.toSecsSinceEpoch()));
    query.addQueryItem(QStringLiteral("step"), QString::number(stepSeconds));
    query.addQueryItem(QStringLiteral("groupBy"), groupBy);
    QNetworkRequest r = adminRequest(QString::fromLatin1(api::kAdminAnalytics));
    QUrl url = r.url();
    url.setQuery(query);
    r.setUrl(url);
    QNetworkReply *reply = m_nam.get(r);
    connect(reply, &QNetworkReply::finished, context, [reply, done = std::move(done)] {
        reply->deleteLater();
        const QByteArray body = reply->readAll();
        ApiError error(0, {}, {});
        if (failed(reply, body, &error))
            return done({}, &error);
        const QJsonDocument doc = QJsonDocument::fromJson(body);
        if (!doc.isObject()) {
            const ApiError unreadable(statusOf(reply), QStringLiteral("bad_answer"),
                                      QStringLiteral("the server's answer is not a usage history (JSON object)"));
            return done({}, &unreadable);
        }
        done(doc.object(), nullptr);
    });
}

void ApiClient::registryIds(const QString &kind, QObject *context,
                            std::function<void(const QStringList &, const ApiError *)> done)
{
    registry(kind, context, [done = std::move(done)](const QJsonArray &array, const ApiError *error) {
        QStringList ids;
        for (const QJsonValue &v : array)
            ids.append(v.toObject().value(QStringLiteral("id")).toString());
        ids.removeAll(QString());
        done(ids, error);
    });
}

QNetworkReply *ApiClient::streamEvents(const QStringList &keys, QObject *context, std::function<void(const QJsonObject &)> onEvent,
                                       std::function<void(const QString &, bool)> onEnd)
{
    QUrlQuery query;
    query.addQueryItem(QStringLiteral("keys"), QString::fromLatin1(QUrl::toPercentEncoding(keys.join(QLatin1Char(',')))));
    QUrl url = m_base.resolved(QUrl(QString::fromLatin1(api::kAdminEvents)));
    url.setQuery(query);
    QNetworkRequest r = adminRequest(QString());
    r.setUrl(url);
    r.setRawHeader("Accept", "text/event-stream");
    r.setTransferTimeout(0); // a stream is long-lived by design
    QNetworkReply *reply = m_nam.get(r);
    auto buffer = std::make_shared<QByteArray>();
    connect(reply, &QIODevice::readyRead, context, [reply, buffer, onEvent] {
        *buffer += reply->readAll();
        // Events end with a blank line; each "data:" line holds one JSON object.
        qsizetype end;
        while ((end = buffer->indexOf("\n\n")) >= 0) {
            const QByteArray event = buffer->left(end);
            buffer->remove(0, end + 2);
            for (const QByteArray &line : event.split('\n')) {
                if (line.startsWith("data: "))
                    onEvent(QJsonDocument::fromJson(line.mid(6)).object());
            }
        }
    });
    connect(reply, &QNetworkReply::finished, context, [reply, buffer, onEnd] {
        reply->deleteLater();
        const int status = statusOf(reply);
        if (status >= 400 && status < 500) {
            ApiError error(0, {}, {});
            failed(reply, *buffer + reply->readAll(), &error); // an error body was read as it came
            return onEnd(error.message(), false); // the same request would be refused again
        }
        onEnd(reply->error() == QNetworkReply::NoError ? QStringLiteral("stream ended") : reply->errorString(), true);
    });
    return reply;
}

} // namespace sluice
