// SPDX-License-Identifier: Apache-2.0
#include "grpc/grpcdoor.h"

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

#include <QDateTime>
#include <grpcpp/grpcpp.h>
#include <map>

namespace sluice {

namespace rls = envoy::service::ratelimit::v3;

namespace {

grpc::StatusCode grpcCode(int httpStatus)
{
    switch (httpStatus) {
    case 400: return grpc::StatusCode::INVALID_ARGUMENT;
    case 401: return grpc::StatusCode::UNAUTHENTICATED;
    case 403: return grpc::StatusCode::PERMISSION_DENIED;
    case 503: return grpc::StatusCode::UNAVAILABLE;
    default: return grpc::StatusCode::INTERNAL;
    }
}

rls::RateLimitResponse::RateLimit::Unit unitOf(qint64 windowSeconds)
{
    switch (windowSeconds) {
    case 1: return rls::RateLimitResponse::RateLimit::SECOND;
    case 60: return rls::RateLimitResponse::RateLimit::MINUTE;
    case 3600: return rls::RateLimitResponse::RateLimit::HOUR;
    case 86400: return rls::RateLimitResponse::RateLimit::DAY;
    default: return rls::RateLimitResponse::RateLimit::UNKNOWN;
    }
}

void addHeader(rls::RateLimitResponse *response, const char *key, const QByteArray &value)
{
    auto *h = response->add_response_headers_to_add();
    h->set_key(key);
    h->set_value(value.toStdString());
}

struct Identity
{
    CheckRequest request;
    bool peek = false;
};

// The descriptors of one request as one identity and one cost (see grpcdoor.h), or why not.
bool identityOf(const rls::RateLimitRequest &req, Identity *out, std::string *why)
{
    static const std::map<std::string, QString CheckRequest::*> fields = {
        {"tenant", &CheckRequest::tenantId}, {"user", &CheckRequest::userId}, {"api_key", &CheckRequest::apiKey},
        {"model", &CheckRequest::modelId}, {"tier", &CheckRequest::modelTier}};
    std::map<std::string, std::string> seen;
    std::optional<quint64> descriptorCost;
    if (req.descriptors_size() == 0) {
        *why = "at least one descriptor is required";
        return false;
    }
    const std::string most = std::to_string(GrpcDoor::kMaxStringBytes);
    if (req.descriptors_size() > GrpcDoor::kMaxDescriptors) {
        *why = "more than " + std::to_string(GrpcDoor::kMaxDescriptors) + " descriptors";
        return false;
    }
    if (req.domain().size() > GrpcDoor::kMaxStringBytes) {
        *why = "the domain is longer than " + most + " bytes";
        return false;
    }
    for (const auto &d : req.descriptors()) {
        if (d.entries_size() > GrpcDoor::kMaxEntries) {
            *why = "a descriptor has more than " + std::to_string(GrpcDoor::kMaxEntries) + " entries";
            return false;
        }
        for (const auto &e : d.entries()) {
            if (e.key().size() > GrpcDoor::kMaxStringBytes || e.value().size() > GrpcDoor::kMaxStringBytes) {
                *why = "a descriptor entry's key or value is longer than " + most + " bytes";
                return false;
            }
        }
    }
    for (const auto &d : req.descriptors()) {
        for (const auto &e : d.entries()) {
            if (!fields.count(e.key()))
                continue; // other keys (generic_key, remote_address, …) are not Sluice's
            auto [it, inserted] = seen.emplace(e.key(), e.value());
            if (!inserted && it->second != e.value()) {
                *why = "descriptor entries name two different " + e.key() + "s ('" + it->second + "' and '" + e.value() + "')";
                return false;
            }
        }
        if (d.has_hits_addend()) {
            if (descriptorCost && *descriptorCost != d.hits_addend().value()) {
                *why = "descriptors set different hits_addend values";
                return false;
            }
            descriptorCost = d.hits_addend().value();
        }
    }
    auto field = [&seen](const char *key) {
        const auto it = seen.find(key);
        return CheckRequest::Field::fromUtf8(QString::fromLatin1(key), it == seen.end() ? QByteArray()
                                                                                        : QByteArray::fromStdString(it->second));
    };
    const quint64 cost = descriptorCost ? *descriptorCost : (req.hits_addend() == 0 ? 1 : req.hits_addend());
    out->peek = cost == 0;
    try {
        out->request = CheckRequest::fromFields(field("user"), field("model"), field("tenant"), field("tier"), field("api_key"),
                                                {QStringLiteral("hits_addend"), QString::number(out->peek ? 1 : cost)});
    } catch (const ApiError &e) {
        *why = e.message().toStdString();
        return false;
    }
    out->request.costGiven = !out->peek && (descriptorCost || req.hits_addend() != 0); // (unset: one hit, no tokens)
    return true;
}

class RateLimitService final : public rls::RateLimitService::CallbackService
{
public:
    RateLimitService(GrpcDoor::Dispatch dispatch, std::function<void(int)> rejected)
        : m_dispatch(std::move(dispatch)), m_rejected(std::move(rejected)) {}

    grpc::ServerUnaryReactor *ShouldRateLimit(grpc::CallbackServerContext *context, const rls::RateLimitRequest *request,
                                              rls::RateLimitResponse *response) override
    {
        grpc::ServerUnaryReactor *reactor = context->DefaultReactor();
        Identity identity;
        std::string why;
        if (!identityOf(*request, &identity, &why)) {
            m_rejected(400);
            reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
            return reactor;
        }
        const int descriptors = request->descriptors_size();
        // The callback runs on an HTTP thread; `response` and `reactor` stay valid until Finish.
        m_dispatch(identity.request, identity.peek, [reactor, response, descriptors, rejected = m_rejected](const ApiError *error,
                                                                                                             const Decision &d) {
            if (error) {
                rejected(error->status());
                reactor->Finish(grpc::Status(grpcCode(error->status()), error->message().toStdString()));
                return;
            }
            const auto code = d.allowed ? rls::RateLimitResponse::OK : rls::RateLimitResponse::OVER_LIMIT;
            response->set_overall_code(code);
            for (int i = 0; i < descriptors; ++i) {
                auto *status = response->add_statuses();
                status->set_code(code);
                if (!d.primary) { // refused by no policy (a saturated pool shed it): when to come back
                    if (!d.allowed)
                        status->mutable_duration_until_reset()->set_seconds(d.retryAfterSeconds);
                    continue;
                }
                auto *limit = status->mutable_current_limit();
                limit->set_requests_per_unit(static_cast<quint32>(std::clamp<qint64>(d.limit, 0, UINT32_MAX)));
                limit->set_unit(unitOf(d.windowSeconds));
                limit->set_name(QStringLiteral("%1: %2 per %3 s").arg(d.primary->label).arg(d.limit).arg(d.windowSeconds).toStdString());
                status->set_limit_remaining(static_cast<quint32>(std::clamp<qint64>(d.remaining, 0, UINT32_MAX)));
                status->mutable_duration_until_reset()->set_seconds(d.allowed ? d.resetSeconds : std::max(d.retryAfterSeconds, d.resetSeconds));
            }
            // The same headers as the HTTP doors, from the same formatting.
            for (const QByteArray &line : decisionHeaderLines(d, QDateTime::currentSecsSinceEpoch()).split('\n')) {
                const qsizetype colon = line.indexOf(':');
                if (colon > 0)
                    addHeader(response, line.left(colon).toStdString().c_str(), line.mid(colon + 1).trimmed());
            }
            reactor->Finish(grpc::Status::OK);
        });
        return reactor;
    }

private:
    GrpcDoor::Dispatch m_dispatch;
    std::function<void(int)> m_rejected;
};

} // namespace

struct GrpcDoor::Impl
{
    Impl(Dispatch dispatch, std::function<void(int)> rejected) : service(std::move(dispatch), std::move(rejected)) {}
    RateLimitService service;
    std::unique_ptr<grpc::Server> server;
    int port = 0;
};

GrpcDoor::GrpcDoor(Dispatch dispatch, std::function<void(int status)> rejected)
    : m_impl(std::make_unique<Impl>(std::move(dispatch), std::move(rejected)))
{
}

GrpcDoor::~GrpcDoor() { stop(); }

bool GrpcDoor::start(const QHostAddress &address, quint16 port, QString *error)
{
    const QString host = address.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(address.toString())
                                                                              : address.toString();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(QStringLiteral("%1:%2").arg(host).arg(port).toStdString(), grpc::InsecureServerCredentials(),
                             &m_impl->port);
    builder.RegisterService(&m_impl->service);
    builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
    m_impl->server = builder.BuildAndStart();
    if (!m_impl->server || m_impl->port == 0) {
        m_impl->server.reset();
        *error = QStringLiteral("cannot serve gRPC on %1:%2").arg(host).arg(port);
        return false;
    }
    return true;
}

quint16 GrpcDoor::port() const { return static_cast<quint16>(m_impl->port); }

void GrpcDoor::stop()
{
    if (!m_impl->server)
        return;
    // Calls still waiting for a decision get a short grace, then are cancelled.
    m_impl->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    m_impl->server->Wait();
    m_impl->server.reset();
}

} // namespace sluice
