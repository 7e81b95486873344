// SPDX-License-Identifier: Apache-2.0
#include "http/httpresponder.h"

#include "http/framingguard.h"

#include <charconv>
#include <string>

namespace sluice {

QByteArray httpReasonPhrase(int status)
{
    switch (status) {
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
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

QByteArray buildHttpResponse(int status, const QByteArray &contentType, const QByteArray &body, const HttpHeaders &extra,
                             bool close, const QByteArray &headerLines)
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
    if (close)
        out.append("Connection: close\r\n");
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
    const QByteArray type = header("content-type").split(';').first().trimmed().toLower();
    if (type != "application/json")
        throw ApiError::unsupportedMediaType(QStringLiteral("Content-Type must be application/json"));
}

HttpResponder::HttpResponder(QTcpSocket *socket, bool closeAfter) : m_state(std::make_shared<State>())
{
    m_state->socket = socket;
    m_state->closeAfter = closeAfter;
}

bool HttpResponder::isConnected() const
{
    return m_state && m_state->socket && m_state->socket->state() == QAbstractSocket::ConnectedState;
}

void HttpResponder::send(int status, const QByteArray &body, const QByteArray &contentType, const HttpHeaders &extra,
                         const QByteArray &headerLines)
{
    if (!m_state || m_state->done)
        return;
    m_state->done = true;
    QTcpSocket *socket = m_state->socket.data();
    if (!socket || socket->state() != QAbstractSocket::ConnectedState)
        return; // the client hung up: nothing to write to
    socket->write(buildHttpResponse(status, contentType, body, extra, m_state->closeAfter, headerLines));
    if (m_state->closeAfter)
        socket->disconnectFromHost();
    else
        socket->flush(); // now, not at the event loop's next turn (what is left waits for that)
}

void HttpResponder::sendError(const ApiError &error, const HttpHeaders &extra)
{
    send(error.status(), error.toJson(), "application/json", extra);
}

bool HttpResponder::beginStream(const QByteArray &contentType)
{
    if (!m_state || m_state->done || !isConnected())
        return false;
    m_state->done = true;
    if (FramingGuard *guard = FramingGuard::of(m_state->socket))
        guard->setStreaming();
    m_state->socket->write("HTTP/1.1 200 OK\r\nServer: sluice\r\nContent-Type: " + contentType
                           + "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
    return true;
}

bool HttpResponder::writeStream(const QByteArray &chunk)
{
    if (!isConnected())
        return false;
    m_state->socket->write(chunk);
    return true;
}

} // namespace sluice
