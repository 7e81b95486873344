// SPDX-License-Identifier: Apache-2.0
#include "http/checkroutes.h"

#include "apipaths.h"
#include "engine/checkservice.h"
#include "engine/metrics.h"

#include <QDateTime>
#include <charconv>
#include <string>

namespace sluice {

QByteArray decisionHeaderLines(const Decision &d, qint64 nowEpochSeconds)
{
    if (!d.primary)
        return QByteArray();
    std::string out;
    out.reserve(220);
    char buf[24];
    auto num = [&out, &buf](qint64 v) {
        out.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
    };
    const QByteArray token = scopeToken(d.primary->scope);
    const std::string name = '"' + token.toStdString() + '"';
    out += "RateLimit-Policy: " + name + ";q=";
    num(d.limit);
    out += ";w=";
    num(d.windowSeconds);
    out += "\r\nRateLimit: " + name + ";r=";
    num(d.remaining);
    out += ";t=";
    num(d.resetSeconds);
    out += "\r\nX-RateLimit-Limit: ";
    num(d.limit);
    out += "\r\nX-RateLimit-Remaining: ";
    num(d.remaining);
    out += "\r\nX-RateLimit-Reset: ";
    num(nowEpochSeconds + d.resetSeconds);
    out += "\r\n";
    if (!d.allowed) {
        out += "Retry-After: ";
        num(d.retryAfterSeconds);
        out += "\r\n";
    }
    return QByteArray(out.data(), static_cast<qsizetype>(out.size()));
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
