// SPDX-License-Identifier: Apache-2.0
#include "http/httpresponder.h"

#include "http/httpconnection.h"

#include "textbuffer.h"

#include <QScopeGuard>
#include <QThread>
#include <cstdio>
#include <cstring>

namespace sluice {

namespace {

const char *reasonPhrase(int status)
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
    case 499: return "Client Closed Request";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

} // namespace

QByteArray httpReasonPhrase(int status)
{
    return QByteArray(reasonPhrase(status));
}

namespace {

void writeHttpResponse(TextBuffer &out, int status, QByteArrayView contentType, QByteArrayView body, const HttpHeaders &extra,
                       HttpResponder::Framing framing, QByteArrayView headerLines, bool withBody)
{
    out.append("HTTP/1.1 ");
    out.number(status);
    out.put(' ');
    out.append(reasonPhrase(status));
    out.append("\r\nServer: sluice\r\nContent-Type: ");
    out.append(contentType);
    out.append("\r\nContent-Length: ");
    out.number(body.size());
    out.append("\r\n");
    out.append(headerLines);
    for (const auto &h : extra) {
        out.append(h.first);
        out.append(": ");
        out.append(h.second);
        out.append("\r\n");
    }
    if (framing == HttpResponder::Framing::Close)
        out.append("Connection: close\r\n");
    else if (framing == HttpResponder::Framing::KeepAlive10)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
    if (withBody) // (HEAD: Content-Length still says what GET would have sent)
        out.append(body);
}

qsizetype headRoom(QByteArrayView contentType, QByteArrayView headerLines, const HttpHeaders &extra)
{
    return 160 + contentType.size() + headerLines.size() + 48 * extra.size();
}

} // namespace

QByteArray buildHttpResponse(int status, QByteArrayView contentType, QByteArrayView body, const HttpHeaders &extra,
                             HttpResponder::Framing framing, QByteArrayView headerLines)
{
    TextBuffer out(headRoom(contentType, headerLines, extra) + body.size());
    writeHttpResponse(out, status, contentType, body, extra, framing, headerLines, true);
    return out.take();
}

QByteArray HttpRequest::header(QByteArrayView lowerName) const
{
    return findHeader(headers, lowerName);
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

HttpResponder::HttpResponder(HttpConnection *connection, quint64 serial, Framing framing, bool headOnly, bool http10)
    : m_state(new State)
{
    m_state->headOnly = headOnly;
    m_state->http10 = http10;
    m_state->connection = connection;
    m_state->thread = QThread::currentThread();
    m_state->serial = serial;
    m_state->framing = framing;
}

HttpResponder::State::~State()
{
    // (A fan-out to other threads may drop the last copy there, when the server stops: the
    // connection is not that thread's to touch, and it is closing anyway.)
    if (QThread::currentThread() != thread || !connection)
        return;
    if (relaying) {
        // A relay dropped before its end: cut, so the client does not take it for whole.
        qWarning("a relayed answer was left without its end: cut");
        connection->answer(serial, QByteArray(), true);
        return;
    }
    if (done)
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

void HttpResponder::send(int status, QByteArrayView body, QByteArrayView contentType, const HttpHeaders &extra,
                         QByteArrayView headerLines)
{
    if (!m_state || m_state->done)
        return;
    m_state->done = true;
    HttpConnection *connection = m_state->connection.data();
    if (!connection)
        return; // the client hung up: nothing to write to
    const bool close = m_state->framing == Framing::Close;
    const qsizetype size = headRoom(contentType, headerLines, extra) + body.size();
    // Written in a buffer this thread reuses and sent from it (the connection copies what the
    // kernel does not take at once): no allocation per answer. A large answer (a relayed model
    // response) gets a buffer of its own, handed over whole, and the reused one stays small.
    thread_local TextBuffer reused(4096);
    thread_local bool inUse = false;
    if (size > 64 * 1024 || inUse) {
        TextBuffer own(size);
        writeHttpResponse(own, status, contentType, body, extra, m_state->framing, headerLines, !m_state->headOnly);
        connection->answer(m_state->serial, own.take(), close);
        return;
    }
    inUse = true;
    const auto release = qScopeGuard([] { inUse = false; }); // (whatever happens: else every later answer allocates)
    reused.clear();
    writeHttpResponse(reused, status, contentType, body, extra, m_state->framing, headerLines, !m_state->headOnly);
    connection->answer(m_state->serial, reused.view(), close);
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

bool HttpResponder::watch()
{
    if (!m_state || m_state->done || !m_state->connection)
        return false;
    return m_state->connection->beginRelay(m_state->serial, QByteArray());
}

bool HttpResponder::beginRelay(int status, const QByteArray &contentType, const QByteArray &headerLines)
{
    if (!m_state || m_state->done || !m_state->connection)
        return false;
    m_state->done = true;
    m_state->relaying = true;
    HttpConnection *connection = m_state->connection.data();
    connection->beginRelay(m_state->serial, QByteArray()); // (watched already: nothing to do)
    TextBuffer head(192 + headerLines.size() + contentType.size());
    head.append("HTTP/1.1 ");
    head.number(status);
    head.put(' ');
    head.append(reasonPhrase(status));
    head.append("\r\nServer: sluice\r\nContent-Type: ");
    head.append(contentType);
    head.append("\r\nCache-Control: no-cache\r\n");
    head.append(headerLines);
    if (m_state->http10)
        head.append("Connection: close\r\n\r\n");
    else
        head.append(m_state->framing == Framing::Close ? "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                                       : "Transfer-Encoding: chunked\r\n\r\n");
    return connection->writeRelay(head.take());
}

bool HttpResponder::writeRelay(const QByteArray &bytes)
{
    if (!m_state || !m_state->relaying || !m_state->connection)
        return false;
    if (bytes.isEmpty())
        return true; // (an empty chunk would end the body)
    if (m_state->http10)
        return m_state->connection->writeRelay(bytes);
    TextBuffer chunk(bytes.size() + 16);
    char size[20];
    const int n = std::snprintf(size, sizeof size, "%llx\r\n", static_cast<unsigned long long>(bytes.size()));
    chunk.append(size, n);
    chunk.append(bytes);
    chunk.append("\r\n");
    return m_state->connection->writeRelay(chunk.take());
}

void HttpResponder::endRelay(bool whole)
{
    if (!m_state || !m_state->relaying)
        return;
    m_state->relaying = false;
    HttpConnection *connection = m_state->connection.data();
    if (!connection)
        return;
    if (!whole || m_state->http10)
        connection->answer(m_state->serial, QByteArray(), true);
    else
        connection->answer(m_state->serial, QByteArrayView("0\r\n\r\n"), m_state->framing == Framing::Close);
}

qint64 HttpResponder::unsentBytes() const
{
    return m_state && m_state->connection ? m_state->connection->unsentBytes() : 0;
}

void HttpResponder::whenDrained(std::function<void()> drained)
{
    if (m_state && m_state->connection)
        m_state->connection->whenDrained(std::move(drained));
}

void HttpResponder::whenGone(QObject *context, std::function<void()> gone)
{
    if (!m_state)
        return;
    if (HttpConnection *connection = m_state->connection.data(); connection && connection->isOpen()) {
        QObject::connect(connection, &QObject::destroyed, context, [gone] { gone(); });
        return;
    }
    QMetaObject::invokeMethod(context, [gone] { gone(); }, Qt::QueuedConnection);
}

bool HttpResponder::writeStream(const QByteArray &chunk)
{
    return m_state && m_state->connection && m_state->connection->writeStream(chunk);
}

} // namespace sluice
