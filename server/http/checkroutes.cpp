// SPDX-License-Identifier: Apache-2.0
#include "http/checkroutes.h"

#include "apipaths.h"
#include "engine/checkservice.h"
#include "engine/metrics.h"

#include <QDateTime>
#include <charconv>
#include <string>

namespace sluice {

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
                responder.send(decision.allowed ? 200 : 429, decision.toJson(), "application/json", {},
                               decisionHeaderLines(decision, QDateTime::currentSecsSinceEpoch()));
            });
        } catch (const ApiError &error) {
            metrics.recordRejected(error.status());
            throw;
        }
    });
}

} // namespace sluice
