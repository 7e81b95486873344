// SPDX-License-Identifier: Apache-2.0
#include "door/inferencedoor.h"

#include "engine/checkservice.h"
#include "engine/clock.h"
#include "jsonwriter.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPointer>
#include <QTimer>
#include <algorithm>

namespace sluice {

namespace {

constexpr qint64 kMaxEventBytes = 1024 * 1024;   // one SSE event (a usage chunk is ~200 bytes)
constexpr qint64 kRelayHighWater = 256 * 1024;    // unsent to the client: stop reading the upstream

qint64 nowMs()
{
    return steadyClock()->nowUs() / 1000; // (the pools' clock)
}

// The client's body asking the upstream for usage. When it has no stream_options the member is
// added in front of the closing brace and the rest stays byte for byte (a re-serialised body would
// lose integers above 2^53, a seed for instance); else the body is written again.
QByteArray withUsageAsked(const QByteArray &raw, QJsonObject body, QJsonObject options)
{
    if (!body.contains(QStringLiteral("stream_options"))) {
        qsizetype end = raw.size() - 1;
        while (end >= 0 && raw.at(end) != '}')
            --end;
        if (end > 0)
            return raw.left(end) + ",\"stream_options\":{\"include_usage\":true}" + raw.mid(end);
    }
    options.insert(QStringLiteral("include_usage"), true);
    body.insert(QStringLiteral("stream_options"), options);
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

// An upstream's header value to pass on: none when it holds a control character (a CR would split
// the client's answer head).
QByteArray headerValue(const QByteArray &value)
{
    for (const char c : value)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
            return QByteArray();
    return value;
}

// An event's JSON has a "usage" object (not the "usage": null of every chunk when usage is asked
// for): only those are parsed.
bool carriesUsage(const QByteArray &data)
{
    qsizetype at = 0;
    while ((at = data.indexOf("\"usage\"", at)) >= 0) {
        at += 7;
        while (at < data.size() && (data.at(at) == ' ' || data.at(at) == ':'))
            ++at;
        if (at < data.size() && data.at(at) == '{')
            return true;
    }
    return false;
}

// The check's header lines for a door answer: the reservation is the door's to settle, so its id
// never reaches the client.
QByteArray doorHeaderLines(const Decision &decision)
{
    return decisionHeaderLines(decision, QDateTime::currentSecsSinceEpoch(), false);
}

struct Usage
{
    qint64 prompt = -1, completion = -1, total = -1;
    bool valid() const { return total >= 0 || prompt >= 0 || completion >= 0; }
    qint64 sum() const { return total >= 0 ? total : std::max<qint64>(prompt, 0) + std::max<qint64>(completion, 0); }
    static Usage from(const QJsonValue &v)
    {
        Usage u;
        if (!v.isObject())
            return u;
        const QJsonObject o = v.toObject();
        auto read = [&o](const char *name) {
            const QJsonValue x = o.value(QLatin1String(name));
            return x.isDouble() && x.toDouble() >= 0 ? qint64(x.toDouble()) : qint64(-1);
        };
        u.prompt = read("prompt_tokens");
        u.completion = read("completion_tokens");
        u.total = read("total_tokens");
        return u;
    }
};

const char *errorType(int status)
{
    switch (status) {
    case 401: return "invalid_request_error";
    case 403: return "permission_error";
    case 404: return "invalid_request_error";
    case 429: return "rate_limit_exceeded";
    case 503: return "server_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

const char *errorCode(int status)
{
    switch (status) {
    case 401: return "invalid_api_key";
    case 403: return "permission_denied";
    case 413: return "request_too_large";
    case 415: return "unsupported_media_type";
    case 503: return "unavailable";
    default: return nullptr;
    }
}

} // namespace

// One proxied request, from the admitted check to the settled reservation. Lives on its HTTP
// thread, a child of the door; deletes itself when the answer has ended and the reservation is settled.
class DoorExchange : public QObject
{
public:
    DoorExchange(InferenceDoor *door, HttpResponder responder, const char *route, bool stream, bool clientWantsUsage,
                 TokenEstimate estimate, QString poolName)
        : QObject(door), m_door(door), m_responder(std::move(responder)), m_route(route), m_stream(stream),
          m_clientWantsUsage(clientWantsUsage), m_estimate(estimate), m_poolName(std::move(poolName))
    {
        ++m_door->m_stats->inFlight;
    }
    ~DoorExchange() override
    {
        --m_door->m_stats->inFlight;
        if (m_streaming)
            --m_door->m_stats->streams;
    }

    void start(const Decision &decision, const QUrl &url, const QByteArray &body, const QByteArray &requestId)
    {
        m_reservationId = decision.reservationId;
        m_headerLines = doorHeaderLines(decision);
        // A stream may outlive its leases (--lease-seconds): they are renewed at half their time
        // while the exchange lasts, so its concurrency slot stays taken and its settlement finds it.
        if (!m_reservationId.isEmpty() && decision.leaseExpiresInSeconds > 0) {
            auto *renew = new QTimer(this);
            connect(renew, &QTimer::timeout, this, [this] {
                if (!m_settled)
                    m_door->m_service.extend(m_reservationId, [](const ReservationOutcome &) {});
            });
            renew->start(static_cast<int>(std::clamp<qint64>(decision.leaseExpiresInSeconds * 500, 500, 3'600'000)));
        }
        m_responder.watch();
        m_responder.whenGone(this, [this] { clientGone(); });
        HttpHeaders headers{{"Content-Type", "application/json"},
                            {"Accept", m_stream ? QByteArray("text/event-stream") : QByteArray("application/json")},
                            {"User-Agent", "sluice-door"}};
        if (!m_door->m_settings.upstreamKey.isEmpty())
            headers.append({"Authorization", "Bearer " + m_door->m_settings.upstreamKey});
        if (!requestId.isEmpty())
            headers.append({"X-Request-Id", requestId});
        m_call = new UpstreamCall(&m_door->m_pool, this);
        m_call->onHead = [this](const UpstreamCall::Head &head) { onHead(head); };
        m_call->onBody = [this](const QByteArray &bytes) { onBody(bytes); };
        m_call->onEnd = [this] { onEnd(); };
        m_call->onFailure = [this](UpstreamCall::Failure f, const QString &message) { onFailure(f, message); };
        m_call->start(url, "POST", headers, body, m_door->m_settings.timeouts);
    }

private:
    void onHead(const UpstreamCall::Head &head)
    {
        m_status = head.status;
        m_door->m_stats->recordFirstByte(m_call->elapsedMs() / 1000.0);
        m_contentType = headerValue(head.header("content-type"));
        if (m_contentType.isEmpty())
            m_contentType = "application/json";
        if (m_status == 429 || m_status == 503)
            upstreamRefused();
        if (m_stream && m_status == 200 && m_contentType.startsWith("text/event-stream")) {
            m_streaming = true;
            ++m_door->m_stats->streams;
            QByteArray lines = m_headerLines;
            if (const QByteArray id = headerValue(head.header("x-request-id")); !id.isEmpty())
                lines += "X-Request-Id: " + id + "\r\n";
            m_responder.beginRelay(200, m_contentType, lines);
        }
    }

    void onBody(const QByteArray &bytes)
    {
        if (!m_streaming) {
            m_body += bytes;
            if (m_body.size() > m_door->m_settings.maxResponseBytes) {
                m_call->abort();
                m_door->m_stats->countUpstreamFailure(UpstreamCall::Failure::TooLarge);
                answerError(502, QStringLiteral("the upstream's answer is larger than %1 bytes (--door-max-response-bytes)")
                                     .arg(m_door->m_settings.maxResponseBytes),
                            "upstream_answer_too_large");
                settle(0); // (a failure of the upstream's: charged what reached the client, nothing)
            }
            return;
        }
        m_events += bytes;
        QByteArray out;
        for (;;) {
            const qsizetype lf = m_events.indexOf("\n\n");
            const qsizetype crlf = m_events.indexOf("\r\n\r\n");
            qsizetype end = -1;
            if (lf >= 0 && (crlf < 0 || lf < crlf))
                end = lf + 2;
            else if (crlf >= 0)
                end = crlf + 4;
            if (end < 0)
                break;
            const QByteArray event = m_events.left(end);
            m_events.remove(0, end);
            if (keepEvent(event))
                out += event;
        }
        if (m_events.size() > kMaxEventBytes) {
            out += std::exchange(m_events, QByteArray()); // not events as we know them: passed on as they are
        }
        if (out.isEmpty())
            return;
        if (!m_responder.writeRelay(out))
            return; // the client left: clientGone() follows
        if (m_responder.unsentBytes() > kRelayHighWater) {
            m_call->setPaused(true);
            m_responder.whenDrained([self = QPointer<DoorExchange>(this)] {
                if (self && self->m_call)
                    self->m_call->setPaused(false);
            });
        }
    }

    // One SSE event of the upstream's stream: true to pass it on.
    bool keepEvent(const QByteArray &event)
    {
        QByteArray data;
        for (const QByteArray &raw : event.split('\n')) {
            const QByteArray line = raw.endsWith('\r') ? raw.chopped(1) : raw;
            if (line.startsWith("data:")) {
                if (!data.isEmpty())
                    data += '\n';
                data += line.mid(line.size() > 5 && line.at(5) == ' ' ? 6 : 5);
            }
        }
        if (data.isEmpty() || data == "[DONE]")
            return true;
        bool choices = true;
        if (carriesUsage(data)) {
            const QJsonObject chunk = QJsonDocument::fromJson(data).object();
            const Usage usage = Usage::from(chunk.value(QStringLiteral("usage")));
            if (usage.valid())
                m_usage = usage;
            choices = !chunk.value(QStringLiteral("choices")).toArray().isEmpty();
            if (usage.valid() && !choices && !m_clientWantsUsage)
                return false; // asked for by Sluice, not by the client
        }
        if (choices && data.contains("\"choices\""))
            ++m_generated; // a chunk is a token, as vLLM and OpenAI stream them
        return true;
    }

    void onEnd()
    {
        if (m_streaming) {
            if (!m_events.isEmpty()) { // a last event without its blank line
                const QByteArray last = std::exchange(m_events, QByteArray());
                if (keepEvent(last))
                    m_responder.writeRelay(last);
            }
            m_responder.endRelay(true);
            m_door->m_stats->countAnswer(m_route, 200);
            settle(generatedSoFar());
            return;
        }
        qint64 completion = 0;
        if (m_status >= 200 && m_status < 300) {
            const QJsonObject answer = QJsonDocument::fromJson(m_body).object();
            m_usage = Usage::from(answer.value(QStringLiteral("usage")));
            for (const QJsonValue &choice : answer.value(QStringLiteral("choices")).toArray()) {
                const QJsonObject c = choice.toObject();
                completion += estimateTextTokens(c.value(QStringLiteral("text")).toString());
                completion += estimateTextTokens(c.value(QStringLiteral("message")).toObject().value(QStringLiteral("content")).toString());
            }
        } else {
            m_usage = Usage::from(QJsonDocument::fromJson(m_body).object().value(QStringLiteral("usage")));
        }
        m_responder.send(m_status, m_body, m_contentType, {}, m_headerLines);
        m_door->m_stats->countAnswer(m_route, m_status);
        if (m_status >= 200 && m_status < 300)
            settle(m_usage.valid() ? m_usage.sum() : m_estimate.promptTokens + completion, completion);
        else
            settle(m_usage.valid() ? m_usage.sum() : 0, 0); // refused by the upstream: nothing ran
    }

    void onFailure(UpstreamCall::Failure failure, const QString &message)
    {
        m_door->m_stats->countUpstreamFailure(failure);
        const bool timeout = failure == UpstreamCall::Failure::ConnectTimeout || failure == UpstreamCall::Failure::FirstByteTimeout
                             || failure == UpstreamCall::Failure::IdleTimeout;
        const QString text = QStringLiteral("the upstream failed: %1 (%2)").arg(UpstreamCall::describe(failure), message);
        if (m_streaming) {
            // The head went with 200: the client learns it from an error event, and from the cut.
            m_responder.writeRelay("data: " + InferenceDoor::errorBody(text, "server_error", timeout ? "upstream_timeout" : "upstream_error")
                                   + "\n\n");
            m_responder.endRelay(false);
            m_door->m_stats->countAnswer(m_route, timeout ? 504 : 502);
            settle(generatedSoFar());
            return;
        }
        answerError(timeout ? 504 : 502, text,
                    timeout ? "upstream_timeout" : "upstream_error");
        // Nothing reached the client: charged only what the upstream reported (it reported nothing).
        settle(0);
    }

    void answerError(int status, const QString &message, const char *code)
    {
        m_responder.send(status, InferenceDoor::errorBody(message, "server_error", code), "application/json", {}, m_headerLines);
        m_door->m_stats->countAnswer(m_route, status);
    }

    void clientGone()
    {
        if (m_settled)
            return;
        if (m_call)
            m_call->abort();
        m_door->m_stats->countAnswer(m_route, 499);
        // Once the request went to the upstream, it read the prompt, and generated what was
        // relayed so far; before that nothing ran.
        settle(m_call && m_call->requestSent() ? generatedSoFar() : 0);
    }

    qint64 generatedSoFar() const
    {
        if (m_usage.valid())
            return m_usage.sum();
        return m_estimate.promptTokens + m_generated;
    }

    void settle(qint64 tokens, qint64 completionEstimate = -1)
    {
        if (m_settled)
            return;
        m_settled = true;
        const qint64 prompt = m_usage.prompt >= 0 ? m_usage.prompt : (tokens > 0 ? std::min(tokens, m_estimate.promptTokens) : 0);
        const qint64 completion = m_usage.completion >= 0 ? m_usage.completion
                                  : completionEstimate >= 0 ? completionEstimate
                                                            : std::max<qint64>(0, tokens - prompt);
        m_door->m_stats->countTokens(DoorStats::Direction::Prompt, prompt);
        m_door->m_stats->countTokens(DoorStats::Direction::Completion, completion);
        if (!m_reservationId.isEmpty()) {
            const QString id = m_reservationId;
            m_door->m_service.complete(id, tokens, [id](const ReservationOutcome &o) {
                if (o.status == ReservationOutcome::Status::Unavailable || o.status == ReservationOutcome::Status::NotFound)
                    qWarning("inference door: the reservation %s was not settled (%s)", qPrintable(id),
                             o.status == ReservationOutcome::Status::NotFound ? "expired" : qPrintable(o.error));
            });
        }
        m_responder = HttpResponder(); // (answered, or cut, by now)
        deleteLater();
    }

    void upstreamRefused()
    {
        if (!m_poolName.isEmpty())
            m_door->m_context.pools->upstreamRefused(m_poolName, nowMs());
    }

    InferenceDoor *m_door;
    HttpResponder m_responder;
    const char *m_route;
    bool m_stream;
    bool m_clientWantsUsage;
    TokenEstimate m_estimate;
    QString m_poolName;
    QString m_reservationId;
    QByteArray m_headerLines;
    UpstreamCall *m_call = nullptr;
    int m_status = 0;
    QByteArray m_contentType;
    QByteArray m_body;     // a whole answer (not a stream)
    QByteArray m_events;   // a stream's event not yet whole
    bool m_streaming = false;
    bool m_settled = false;
    Usage m_usage;
    qint64 m_generated = 0; // stream chunks relayed with choices
};

InferenceDoor::InferenceDoor(CheckService &service, ServerContext &context, DoorSettings settings, std::shared_ptr<DoorStats> stats,
                             QObject *parent)
    : QObject(parent), m_service(service), m_context(context), m_settings(std::move(settings)), m_stats(std::move(stats))
{
}

InferenceDoor::~InferenceDoor()
{
    // Exchanges still running (the server stops) go first: their sockets and responders with them
    // (every child of the door is one). Their reservations keep their estimates until they expire.
    qDeleteAll(children());
}

QByteArray InferenceDoor::errorBody(const QString &message, const char *type, const char *code, const char *param)
{
    JsonWriter w(128 + message.size());
    w.beginObject().key("error").beginObject().key("message").value(message).key("type").value(QString::fromLatin1(type));
    w.key("param");
    if (param)
        w.value(QString::fromLatin1(param));
    else
        w.null();
    w.key("code");
    if (code)
        w.value(QString::fromLatin1(code));
    else
        w.null();
    w.endObject().endObject();
    return w.take();
}

void InferenceDoor::install(HttpApi &api)
{
    api.route("POST", QStringLiteral("/v1/chat/completions"), [this](const HttpRequest &r, HttpResponder responder) {
        proxy(DoorApi::ChatCompletions, "chat.completions", r, std::move(responder));
    });
    api.route("POST", QStringLiteral("/v1/completions"), [this](const HttpRequest &r, HttpResponder responder) {
        proxy(DoorApi::Completions, "completions", r, std::move(responder));
    });
    api.route("POST", QStringLiteral("/v1/embeddings"), [this](const HttpRequest &r, HttpResponder responder) {
        proxy(DoorApi::Embeddings, "embeddings", r, std::move(responder));
    });
    api.route("GET", QStringLiteral("/v1/models"), [this](const HttpRequest &r, HttpResponder responder) {
        listModels(r, std::move(responder));
    });
}

namespace {

// The Sluice API key of an OpenAI client: Authorization: Bearer <key>.
QString bearerKey(const HttpRequest &request)
{
    const QByteArray auth = request.header("authorization");
    if (auth.size() > 7 && qstrnicmp(auth.constData(), "bearer ", 7) == 0)
        return QString::fromUtf8(auth.mid(7).trimmed());
    return QString();
}

// The registry's row of that key (null: unknown, or no key).
const ApiKeyRow *apiKeyOf(const PolicySnapshot &snapshot, const QString &key)
{
    return key.isEmpty() ? nullptr : snapshot.apiKeyByHash(QCryptographicHash::hash(key.toUtf8(), QCryptographicHash::Sha256));
}

} // namespace

void InferenceDoor::listModels(const HttpRequest &request, HttpResponder responder)
{
    const auto snapshot = m_service.snapshots()->current();
    const QString key = bearerKey(request);
    if (!apiKeyOf(*snapshot, key)) {
        m_stats->countAnswer("models", 401);
        return responder.send(401, errorBody(key.isEmpty() ? QStringLiteral("no API key: send Authorization: Bearer <your Sluice API key>")
                                                           : QStringLiteral("unknown API key"),
                                             "invalid_request_error", "invalid_api_key"));
    }
    JsonWriter w(256);
    w.beginObject().key("object").value(QStringLiteral("list")).key("data").beginArray();
    const qint64 created = snapshot->loadedAt().toSecsSinceEpoch();
    for (const ModelRow &m : snapshot->data().models) {
        w.beginObject().key("id").value(m.id).key("object").value(QStringLiteral("model")).key("created").value(created);
        w.key("owned_by").value(QStringLiteral("sluice")).key("tier").value(m.tierId).endObject();
    }
    w.endArray().endObject();
    m_stats->countAnswer("models", 200);
    responder.send(200, w.take());
}

void InferenceDoor::proxy(DoorApi api, const char *route, const HttpRequest &request, HttpResponder responder)
{
    auto refuse = [&](int status, const QString &message, const char *type, const char *code, const char *param = nullptr,
                      const QByteArray &lines = QByteArray()) {
        m_stats->countAnswer(route, status);
        responder.send(status, errorBody(message, type, code, param), "application/json", {}, lines);
    };
    // Bounds first: a full door charges nothing.
    if (m_stats->inFlight.load() >= m_settings.maxInFlight)
        return refuse(503, QStringLiteral("the inference door is at its limit of %1 requests in flight (--door-max-in-flight): retry shortly")
                               .arg(m_settings.maxInFlight),
                      "server_error", "door_overloaded", nullptr, "Retry-After: 1\r\n");
    const QString key = bearerKey(request);
    if (key.isEmpty())
        return refuse(401, QStringLiteral("no API key: send Authorization: Bearer <your Sluice API key>"), "invalid_request_error",
                      "invalid_api_key");
    const auto snapshot = m_service.snapshots()->current();
    const ApiKeyRow *apiKey = apiKeyOf(*snapshot, key);
    if (!apiKey)
        return refuse(401, QStringLiteral("unknown API key"), "invalid_request_error", "invalid_api_key");
    if (!request.header("content-type").toLower().startsWith("application/json"))
        return refuse(415, QStringLiteral("Content-Type must be application/json"), "invalid_request_error", "unsupported_media_type");
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(request.body, &parseError);
    if (!document.isObject())
        return refuse(400, QStringLiteral("the body is not a JSON object (%1)").arg(parseError.errorString()), "invalid_request_error",
                      "invalid_json");
    QJsonObject body = document.object();
    QString why;
    const TokenEstimate estimate = estimateRequest(api, body, m_settings.defaultMaxTokens, &why);
    if (!why.isEmpty())
        return refuse(400, why, "invalid_request_error", "invalid_request", qPrintable(why.section(QLatin1Char(' '), 0, 0)));
    const QString model = body.value(QStringLiteral("model")).toString();
    const auto known = std::find_if(snapshot->data().models.cbegin(), snapshot->data().models.cend(),
                                    [&model](const ModelRow &m) { return m.id == model; });
    if (known == snapshot->data().models.cend())
        return refuse(404, QStringLiteral("The model `%1` does not exist or you do not have access to it.").arg(model),
                      "invalid_request_error", "model_not_found", "model");
    // The end user: the key's own, else the body's `user`, else the key.
    QString user = apiKey->userId;
    if (user.isEmpty())
        user = body.value(QStringLiteral("user")).toString();
    if (user.isEmpty())
        user = QStringLiteral("key-%1").arg(apiKey->id);

    const bool stream = body.value(QStringLiteral("stream")).toBool();
    bool clientWantsUsage = false;
    QByteArray upstreamBody = request.body;
    if (stream && api != DoorApi::Embeddings) {
        QJsonObject options = body.value(QStringLiteral("stream_options")).toObject();
        clientWantsUsage = options.value(QStringLiteral("include_usage")).toBool();
        if (!clientWantsUsage)
            upstreamBody = withUsageAsked(request.body, body, options);
    }
    const PolicySnapshot::Entity entity = snapshot->model(model);
    const PoolRow *pool = snapshot->pool(entity.pool);
    const QString poolName = pool ? pool->name : QString();

    CheckRequest check;
    check.userId = user;
    check.modelId = model;
    check.apiKey = key;
    check.cost = std::max<qint64>(estimate.total(), 1);
    check.costGiven = true;
    // The model's own upstream (the registry), else the server's (--upstream).
    QUrl url = known->upstream.isEmpty() ? m_settings.upstream : QUrl(known->upstream);
    if (!known->upstream.isEmpty() && !isUpstreamUrl(known->upstream))
        return refuse(502, QStringLiteral("model %1's upstream in the registry is not http://host:port[/prefix]: %2").arg(model, known->upstream),
                      "server_error", "upstream_error");
    QString prefix = url.path();
    while (prefix.endsWith(QLatin1Char('/')))
        prefix.chop(1);
    url.setPath(prefix + request.path);
    try {
        QPointer<InferenceDoor> self(this);
        m_service.check(check, QString(), [self, responder, route, stream, clientWantsUsage, estimate, poolName, url, upstreamBody,
                                           requestId = request.header("x-request-id")](const ApiError *error, const Decision &decision) mutable {
            if (!self)
                return;
            if (error) {
                self->m_stats->countAnswer(route, error->status());
                return responder.send(error->status(), errorBody(error->message(), errorType(error->status()), errorCode(error->status())));
            }
            if (!decision.allowed) {
                self->m_stats->countAnswer(route, 429);
                const bool shed = decision.pool && decision.pool->shed;
                return responder.send(429, errorBody(decision.cause, "rate_limit_exceeded", shed ? "pool_saturated" : "rate_limit_exceeded"),
                                      "application/json", {}, doorHeaderLines(decision));
            }
            auto *exchange = new DoorExchange(self, responder, route, stream, clientWantsUsage, estimate, poolName);
            exchange->start(decision, url, upstreamBody, requestId);
        }, Door::Inference);
    } catch (const ApiError &error) {
        refuse(error.status(), error.message(), errorType(error.status()), errorCode(error.status()));
    }
}

} // namespace sluice
