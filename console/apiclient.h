// SPDX-License-Identifier: Apache-2.0
// The console's one door to the server: every call goes over HTTP through one
// QNetworkAccessManager, asynchronously; answers come back as callbacks on the GUI thread,
// bound to a context object (dropped when it is gone). Never blocks, never parses in views.
#pragma once

#include "apierror.h"
#include "checkrequest.h"
#include "decision.h"
#include "policydto.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QObject>
#include <QUrl>
#include <functional>
#include <optional>

namespace sluice {

class ApiClient : public QObject
{
    Q_OBJECT
public:
    explicit ApiClient(QObject *parent = nullptr);

    void setServer(const QUrl &baseUrl, const QByteArray &adminToken); // emits serverChanged
    QUrl server() const { return m_base; }
    bool hasAdminToken() const { return !m_token.isEmpty(); }
    QByteArray adminToken() const { return m_token; }

    // The server URL an operator typed, made whole: "localhost:8000" (which Qt reads as scheme
    // "localhost") becomes http://localhost:8000. nullopt and *error for anything else than an
    // http(s) URL with a host.
    static std::optional<QUrl> serverUrl(const QString &text, QString *error);

    // status: the HTTP status (200/429 with a decision; anything else with an error).
    void check(const CheckRequest &request, QObject *context,
               std::function<void(int status, const Decision &decision, const ApiError &error)> done);
    // POST /admin/explain: the decision this check would get now — every policy that applies with
    // its count — without charging it (status 200 with a decision; anything else with an error).
    void explain(const CheckRequest &request, QObject *context,
                 std::function<void(int status, const Decision &decision, const ApiError &error)> done);
    // One chat request through the inference door (POST /v1/chat/completions, design §15) with a
    // Sluice API key as its bearer: the HTTP status (0: no answer), the answer (or OpenAI's error
    // object), the x-ratelimit-* headers (names lower-case).
    struct ChatAnswer
    {
        int status = 0;
        QJsonObject body;
        QList<QPair<QByteArray, QByteArray>> rateLimitHeaders;
        QString networkError;
    };
    void chat(const QString &apiKey, const QJsonObject &request, QObject *context, std::function<void(const ChatAnswer &answer)> done);
    void health(QObject *context, std::function<void(bool ok, const QJsonObject &health)> done);
    // GET /metrics: the Prometheus text (ok false when the server does not answer 200).
    void metrics(QObject *context, std::function<void(bool ok, const QByteArray &text)> done);
    // POST /rate-limit/complete (with `tokens` when set) or /rate-limit/extend: status 200 with the
    // answer, anything else with an error (404 unknown or expired, 409 extend after completion).
    void completeReservation(const ReservationRequest &request, QObject *context,
                             std::function<void(int status, const QJsonObject &answer, const ApiError &error)> done);
    void extendReservation(const QString &reservationId, QObject *context,
                           std::function<void(int status, const QJsonObject &answer, const ApiError &error)> done);

    // Admin API (bearer token). `error` is null on success.
    void listPolicies(QObject *context, std::function<void(const QList<PolicyDto> &policies, const ApiError *error)> done);
    void savePolicy(const PolicyDto &policy, QObject *context, std::function<void(const PolicyDto &saved, const ApiError *error)> done);
    void deletePolicy(qint64 id, QObject *context, std::function<void(const ApiError *error)> done);
    // API keys: the list (never the keys), a new key (its plaintext in the answer's "apiKey",
    // shown once), revocation. DELETE /admin/usage/{key}: a key's window emptied.
    void listApiKeys(QObject *context, std::function<void(const QJsonArray &keys, const ApiError *error)> done);
    void createApiKey(const QString &tenantId, const QString &userId, QObject *context,
                      std::function<void(const QJsonObject &created, const ApiError *error)> done);
    void revokeApiKey(qint64 id, QObject *context, std::function<void(const ApiError *error)> done);
    void resetUsage(const QString &windowKey, QObject *context, std::function<void(const ApiError *error)> done);
    // GET /admin/tenants|users|models|tiers as the server answers it (the entity browser).
    void registry(const QString &kind, QObject *context, std::function<void(const QJsonArray &rows, const ApiError *error)> done);
    // GET /admin/tenants|users|models|tiers: the ids of the registry's entities of that kind
    // (`kind` is the path's last segment), for the pickers.
    void registryIds(const QString &kind, QObject *context, std::function<void(const QStringList &ids, const ApiError *error)> done);
    // GET /admin/pools: each GPU pool with its saturation, factor, signal and shed counts.
    void pools(QObject *context, std::function<void(const QJsonArray &pools, const ApiError *error)> done);
    // PUT /admin/{tenants|tiers|api-keys}/{id} {"priority": …}: `kind` is the path's segment,
    // `priority` critical, standard or sheddable; empty inherits (null).
    void setPriority(const QString &kind, const QString &id, const QString &priority, QObject *context,
                     std::function<void(const ApiError *error)> done);
    // GET /admin/top-blocked?n=
    void topBlocked(int n, QObject *context, std::function<void(const QJsonArray &entries, const ApiError *error)> done);
    // GET /admin/usage?keys=…: each key's count, and its limit and policyId when a policy governs it.
    void usage(const QStringList &keys, QObject *context, std::function<void(const QJsonArray &usage, const ApiError *error)> done);
    // GET /admin/analytics?from=&to=&step=&groupBy= (the usage history): the answer object.
    void analytics(const QDateTime &from, const QDateTime &to, qint64 stepSeconds, const QString &groupBy, QObject *context,
                   std::function<void(const QJsonObject &answer, const ApiError *error)> done);
    // GET /admin/events?keys=… (Server-Sent Events): `onEvent` for every usage event until the
    // returned reply is aborted or the context is gone; `onEnd` once when the stream ends, with
    // `retry` false when trying again cannot help (the server refused the token or the keys).
    class QNetworkReply *streamEvents(const QStringList &keys, QObject *context, std::function<void(const QJsonObject &event)> onEvent,
                                      std::function<void(const QString &why, bool retry)> onEnd);

Q_SIGNALS:
    void serverChanged();

private:
    QNetworkRequest adminRequest(const QString &path) const;
    // GET an admin path whose answer must be a JSON array (`what` names it in errors).
    void getArray(const QString &path, const QString &what, QObject *context,
                  std::function<void(const QJsonArray &, const ApiError *)> done);
    static bool failed(class QNetworkReply *reply, const QByteArray &body, ApiError *error);
    void deleteAdmin(const QString &path, QObject *context, std::function<void(const ApiError *)> done);
    // A check's answer (200/429 with a decision, else an error) to `done`.
    static void answerDecision(class QNetworkReply *reply, QObject *context,
                               std::function<void(int, const Decision &, const ApiError &)> done);
    void postReservation(const char *path, const QByteArray &body, QObject *context,
                         std::function<void(int, const QJsonObject &, const ApiError &)> done);

    QNetworkAccessManager m_nam;
    QUrl m_base;
    QByteArray m_token;
};

} // namespace sluice
