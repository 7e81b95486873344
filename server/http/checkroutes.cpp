// SPDX-License-Identifier: Apache-2.0
#include "checkroutes.h"

#include "apipaths.h"
#include "checkservice.h"
#include "metrics.h"

#include <QDateTime>

namespace sluice {

HttpHeaders decisionHeaders(const Decision &d, qint64 nowEpochSeconds)
{
    HttpHeaders h;
    if (!d.primary)
        return h;
    const QByteArray name = '"' + scopeToken(d.primary->scope) + '"';
    h.append({"RateLimit-Policy", name + ";q=" + QByteArray::number(d.limit) + ";w=" + QByteArray::number(d.windowSeconds)});
    h.append({"RateLimit", name + ";r=" + QByteArray::number(d.remaining) + ";t=" + QByteArray::number(d.resetSeconds)});
    h.append({"X-RateLimit-Limit", QByteArray::number(d.limit)});
    h.append({"X-RateLimit-Remaining", QByteArray::number(d.remaining)});
    h.append({"X-RateLimit-Reset", QByteArray::number(nowEpochSeconds + d.resetSeconds)});
    if (!d.allowed)
        h.append({"Retry-After", QByteArray::number(d.retryAfterSeconds)});
    return h;
}

void installCheckRoutes(HttpApi &api, CheckService &service, Metrics &metrics)
{
    api.route("POST", QLatin1String(api::kCheckPath), [&service, &metrics](const HttpRequest &request, HttpResponder responder) {
        try {
            const QByteArray type = request.header("content-type").split(';').first().trimmed().toLower();
            if (type != "application/json")
                throw ApiError::unsupportedMediaType(QStringLiteral("Content-Type must be application/json"));
            const CheckRequest check = CheckRequest::fromJson(request.body);
            const QString headerKey = QString::fromUtf8(request.header(api::kApiKeyHeader));
            service.check(check, headerKey, [responder, &metrics](const ApiError *error, const Decision &decision) mutable {
                if (error) {
                    metrics.recordRejected(error->status());
                    responder.sendError(*error);
                    return;
                }
                responder.send(decision.allowed ? 200 : 429, decision.toJson(), "application/json",
                               decisionHeaders(decision, QDateTime::currentSecsSinceEpoch()));
            });
        } catch (const ApiError &error) {
            metrics.recordRejected(error.status());
            throw;
        }
    });
}

} // namespace sluice
