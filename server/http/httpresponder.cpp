// SPDX-License-Identifier: Apache-2.0
#include "http/httpresponder.h"

#include "http/httpconnection.h"

#include <QThread>
#include <charconv>
#include <cstring>
#include <string>

namespace sluice {

QByteArray httpReasonPhrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

QByteArray buildHttpResponse(int status, const QByteArray &contentType, const QByteArray &body, const HttpHeaders &extra,
                             HttpResponder::Framing framing, const QByteArray &headerLines)
{
    // One buffer, one copy into the QByteArray handed to the socket (Qt 6.4's QByteArray appends
    // cost more than the answer is worth on this path).
    std::string out;
    out.reserve(static_cast<size_t>(160 + body.size() + headerLines.size() + 48 * extra.size()));
    auto add = [&out](const QByteArray &b) { out.append(b.constData(), static_cast<size_t>(b.size())); };
    char number[24];
    out.append("HTTP/1.1 ");
    out.append(number, static_cast<size_t>(std::to_chars(number, number + sizeof number, status).ptr - number));
    out.push_back(' ');
    add(httpReasonPhrase(status));
    out.append("\r\nServer: sluice\r\nContent-Type: ");
    add(contentType);
    out.append("\r\nContent-Length: ");
    out.append(number, static_cast<size_t>(std::to_chars(number, number + sizeof number, body.size()).ptr - number));
    out.append("\r\n");
    add(headerLines);
    for (const auto &h : extra) {
        add(h.first);
        out.append(": ");
        add(h.second);
        out.append("\r\n");
    }
    if (framing == HttpResponder::Framing::Close)
        out.append("Connection: close\r\n");
    else if (framing == HttpResponder::Framing::KeepAlive10)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
    add(body);
    return QByteArray(out.data(), static_cast<qsizetype>(out.size()));
}

QByteArray HttpRequest::header(const QByteArray &lowerName) const
{
    for (const auto &h : headers) {
        if (h.first == lowerName)
            return h.second;
    }
    return {};
}

void HttpRequest::requireJson() const
{
    // The media type before any parameter, blanks around it ignored, any case; no copies (every
    // check passes here).
    const QByteArray value = header("content-type");
    const char *begin = value.constData();
    const char *end = begin + value.size();
    if (const char *semicolon = static_cast<const char *>(std::memchr(begin, ';', static_cast<size_t>(value.size()))))
        end = semicolon;
    while (begin < end && (*begin == ' ' || *begin == '\t'))
        ++begin;
    while (end > begin && (end[-1] == ' ' || end[-1] == '\t'))
        --end;
    static constexpr char kJson[] = "application/json";
    if (end - begin != qsizetype(sizeof kJson - 1) || qstrnicmp(begin, end - begin, kJson, sizeof kJson - 1) != 0)
        throw ApiError::unsupportedMediaType(QStringLiteral("Content-Type must be application/json"));
}

HttpResponder::HttpResponder(HttpConnection *connection, quint64 serial, Framing framing, bool headOnly)
    : m_state(std::make_shared<State>())
{
    m_state->headOnly = headOnly;
    m_state->connection = connection;
    m_state->thread = QThread::currentThread();
    m_state->serial = serial;
    m_state->framing = framing;
}

HttpResponder::State::~State()
{
    // (A fan-out to other threads may drop the last copy there, when the server stops: the
    // connection is not that thread's to touch, and it is closing anyway.)
    if (done || QThread::currentThread() != thread || !connection)
        return;
    // Every copy of the responder is gone and nobody answered: say so, or the connection's next
    // request would wait forever behind this one.
    qWarning("a request was left without an answer: 500");
    const ApiError error = ApiError::internal(QStringLiteral("internal error: the request was not answered"));
    connection->answer(serial, buildHttpResponse(error.status(), "application/json", error.toJson(), {}, Framing::Close), true);
}

bool HttpResponder::isConnected() const
{
    return m_state && m_state->connection && m_state->connection->isOpen();
}

void HttpResponder::send(int status, const QByteArray &body, const QByteArray &contentType, const HttpHeaders &extra,
                         const QByteArray &headerLines)
{
    if (!m_state || m_state->done)
        return;
    m_state->done = true;
    HttpConnection *connection = m_state->connection.data();
    if (!connection)
        return; // the client hung up: nothing to write to
    QByteArray answer = buildHttpResponse(status, contentType, body, extra, m_state->framing, headerLines);
    if (m_state->headOnly)
        answer.chop(body.size()); // (Content-Length still says what GET would have sent)
    connection->answer(m_state->serial, answer, m_state->framing == Framing::Close);
}

void HttpResponder::sendError(const ApiError &error, const HttpHeaders &extra)
{
    send(error.status(), error.toJson(), "application/json", extra);
}

bool HttpResponder::beginStream(const QByteArray &contentType)
{
    if (!m_state || m_state->done || !m_state->connection)
        return false;
    m_state->done = true;
    return m_state->connection->beginStream(m_state->serial, "HTTP/1.1 200 OK\r\nServer: sluice\r\nContent-Type: " + contentType
                                                                 + "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
}

bool HttpResponder::writeStream(const QByteArray &chunk)
{
    return m_state && m_state->connection && m_state->connection->writeStream(chunk);
}

} // namespace sluice
