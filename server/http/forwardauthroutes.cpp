// SPDX-License-Identifier: Apache-2.0
#include "http/forwardauthroutes.h"

#include "apipaths.h"
#include "engine/checkservice.h"
#include "engine/metrics.h"
#include "http/checkroutes.h"

#include <QDateTime>
#include <QRegularExpression>

namespace sluice {

namespace {
QByteArray decisionName(int status)
{
    switch (status) {
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 503: return "unavailable";
    default: return "invalid_request";
    }
}
} // namespace

bool ForwardAuthSettings::setHeaders(const QString &spec, QString *error)
{
    static const QRegularExpression token(QStringLiteral("^[A-Za-z0-9-]+$"));
    for (const QString &part : spec.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const QString field = part.section(QLatin1Char('='), 0, 0).trimmed();
        const QString header = part.section(QLatin1Char('='), 1).trimmed();
        if (!token.match(header).hasMatch()) {
            *error = QStringLiteral("'%1' is not a header name").arg(header);
            return false;
        }
        const QByteArray lower = header.toLatin1();
        if (field == QStringLiteral("tenant"))
            tenant = lower;
        else if (field == QStringLiteral("user"))
            user = lower;
        else if (field == QStringLiteral("model"))
            model = lower;
        else if (field == QStringLiteral("tier"))
            tier = lower;
        else if (field == QStringLiteral("api-key"))
            apiKey = lower;
        else if (field == QStringLiteral("cost"))
            cost = lower;
        else {
            *error = QStringLiteral("unknown identity field '%1' (tenant, user, model, tier, api-key, cost)").arg(field);
            return false;
        }
    }
    return true;
}

void installForwardAuthRoutes(HttpApi &api, CheckService &service, Metrics &metrics, const ForwardAuthSettings &settings)
{
    auto handler = [&service, &metrics, settings](const HttpRequest &request, HttpResponder responder) {
        // Absent and empty are the same to a gateway (nginx does not send an empty header).
        auto field = [&request](const QByteArray &name) {
            const QByteArray v = request.header(name.toLower());
            return CheckRequest::Field::fromUtf8(QString::fromLatin1(name), v.isEmpty() ? QByteArray() : v);
        };
        try {
            const CheckRequest check = CheckRequest::fromFields(field(settings.user), field(settings.model), field(settings.tenant),
                                                                field(settings.tier), field(settings.apiKey), field(settings.cost));
            service.check(check, QString(), [responder, &metrics, deny = settings.denyStatus](const ApiError *error,
                                                                                               const Decision &decision) mutable {
                if (error) {
                    metrics.recordRejected(error->status());
                    responder.sendError(*error, {{"X-Sluice-Decision", decisionName(error->status())}});
                    return;
                }
                sendDecision(responder, decision.allowed ? 200 : deny, decision,
                             decision.allowed ? "X-Sluice-Decision: allowed\r\n" : "X-Sluice-Decision: over_limit\r\n");
            }, Door::ForwardAuth);
        } catch (const ApiError &error) {
            metrics.recordRejected(error.status());
            responder.sendError(error, {{"X-Sluice-Decision", decisionName(error.status())}});
        }
    };
    api.route("GET", QLatin1String(api::kForwardAuthPath), handler);
    api.route("POST", QLatin1String(api::kForwardAuthPath), handler);
    // The same answer's head without its body: nginx's auth_request reads no body, and keeps its
    // connection to Sluice only for an answer that has none (the shipped location asks with HEAD).
    api.route("HEAD", QLatin1String(api::kForwardAuthPath), handler);
}

} // namespace sluice
