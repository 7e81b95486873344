// SPDX-License-Identifier: Apache-2.0
#include "http/checkroutes.h"

#include "apipaths.h"
#include "engine/checkservice.h"
#include "engine/metrics.h"
#include "http/adminsupport.h"
#include "jsonwriter.h"
#include "textbuffer.h"

#include <QDateTime>
#include <charconv>
#include <string>

namespace sluice {

namespace {

// Turns a store's ReservationOutcome into the answer of /complete or /extend.
void answerReservation(HttpResponder &responder, const QString &id, bool completing, const ReservationOutcome &o)
{
    switch (o.status) {
    case ReservationOutcome::Status::Done:
    case ReservationOutcome::Status::AlreadyCompleted: {
        if (!completing && o.status == ReservationOutcome::Status::AlreadyCompleted)
            return responder.sendError(ApiError::conflict(
                QStringLiteral("reservation %1 is completed: it holds no lease to extend").arg(id)));
        JsonWriter w(128);
        w.beginObject().key("reservationId").value(id);
        if (completing)
            w.key("completed").value(true).key("alreadyCompleted").value(o.status == ReservationOutcome::Status::AlreadyCompleted);
        else
            w.key("leaseExpiresInSeconds").value((o.leaseExpiresInUs + 999999) / 1000000);
        w.endObject();
        return responder.send(200, w.take(), "application/json");
    }
    case ReservationOutcome::Status::NotFound:
        return responder.sendError(ApiError::notFound(
            QStringLiteral("there is no reservation %1: unknown, or expired with its leases (--lease-seconds)").arg(id)));
    case ReservationOutcome::Status::Unavailable:
        return responder.sendError(ApiError::unavailable(QStringLiteral("the window store is unavailable (%1)").arg(o.error)));
    }
}

} // namespace

void sendDecision(HttpResponder &responder, int status, const Decision &decision, QByteArrayView extraLines)
{
    thread_local TextBuffer body(2048), lines(1024);
    body.clear();
    lines.clear();
    decision.writeJson(body);
    appendDecisionHeaderLines(lines, decision, QDateTime::currentSecsSinceEpoch());
    lines.append(extraLines);
    responder.send(status, body.view(), "application/json", {}, lines.view());
}

void installCheckRoutes(HttpApi &api, CheckService &service, Metrics &metrics)
{
    for (const bool completing : {true, false}) {
        api.route("POST", QLatin1String(completing ? api::kCompletePath : api::kExtendPath),
                  [&service, completing](const HttpRequest &request, HttpResponder responder) {
                      request.requireJson();
                      const ReservationRequest r = ReservationRequest::fromJson(request.body, completing);
                      auto answer = [responder, id = r.reservationId, completing](ReservationOutcome o) mutable {
                          answerReservation(responder, id, completing, o);
                      };
                      if (completing)
                          service.complete(r.reservationId, r.tokens, std::move(answer));
                      else
                          service.extend(r.reservationId, std::move(answer));
                  });
    }
    api.route("POST", QLatin1String(api::kCheckPath), [&service, &metrics](const HttpRequest &request, HttpResponder responder) {
        try {
            request.requireJson();
            const CheckRequest check = CheckRequest::fromJson(request.body);
            const QString headerKey = QString::fromUtf8(request.header(api::kApiKeyHeader));
            service.check(check, headerKey, [responder, &metrics](const ApiError *error, const Decision &decision) mutable {
                if (error) {
                    metrics.recordRejected(error->status());
                    responder.sendError(*error);
                    return;
                }
                sendDecision(responder, decision.allowed ? 200 : 429, decision);
            });
        } catch (const ApiError &error) {
            metrics.recordRejected(error.status());
            throw;
        }
    });
}

void installExplainRoute(HttpApi &api, const ServerContext &context, CheckService &service)
{
    api.route("POST", QLatin1String(api::kAdminExplain), adminOnly(context, [&service](const HttpRequest &request, HttpResponder responder) {
        request.requireJson();
        const CheckRequest check = CheckRequest::fromJson(request.body);
        const QString headerKey = QString::fromUtf8(request.header(api::kApiKeyHeader));
        service.peek(
            check, headerKey,
            [responder](const ApiError *error, const Decision &decision) mutable {
                if (error)
                    return responder.sendError(*error);
                // 200 either way: the answer is the explanation; `allowed` is the verdict.
                responder.send(200, decision.toJson(), "application/json");
            },
            true);
    }));
}

} // namespace sluice
