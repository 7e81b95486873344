// SPDX-License-Identifier: Apache-2.0
#include "httpapi.h"

#include "apipaths.h"

#include <QTcpServer>
#include <charconv>
#include <string>
#include <QUrl>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sluice {

namespace {

QByteArray methodName(QHttpServerRequest::Method m)
{
    switch (m) {
    case QHttpServerRequest::Method::Get: return QByteArrayLiteral("GET");
    case QHttpServerRequest::Method::Put: return QByteArrayLiteral("PUT");
    case QHttpServerRequest::Method::Delete: return QByteArrayLiteral("DELETE");
    case QHttpServerRequest::Method::Post: return QByteArrayLiteral("POST");
    case QHttpServerRequest::Method::Head: return QByteArrayLiteral("HEAD");
    case QHttpServerRequest::Method::Options: return QByteArrayLiteral("OPTIONS");
    case QHttpServerRequest::Method::Patch: return QByteArrayLiteral("PATCH");
    case QHttpServerRequest::Method::Connect: return QByteArrayLiteral("CONNECT");
    case QHttpServerRequest::Method::Trace: return QByteArrayLiteral("TRACE");
    default: return QByteArrayLiteral("UNKNOWN");
    }
}

QByteArray buildResponse(int status, const QByteArray &contentType, const QByteArray &body, const HttpHeaders &extra,
                         bool close, const QByteArray &headerLines = QByteArray())
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
    add(HttpApi::reasonPhrase(status));
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

// Sees a connection's bytes before Qt's parser (it is connected to readyRead first) and tracks
// HTTP/1.1 message framing: header block, then Content-Length bytes of body. A declared body over
// the limit, a header block over 32 KiB or a chunked body is refused at once with Connection:
// close, and Qt's parser is detached from the socket so the rest is discarded unread by it.
class StreamGuard : public QObject
{
public:
    StreamGuard(QTcpSocket *socket, QObject *httpServer) : QObject(socket), m_socket(socket), m_server(httpServer)
    {
        connect(socket, &QTcpSocket::readyRead, this, &StreamGuard::onReadyRead);
    }

private:
    void onReadyRead()
    {
        if (m_rejected) {
            m_socket->readAll(); // drain and drop until the close completes
            return;
        }
        QByteArray pending = m_socket->peek(m_socket->bytesAvailable());
        while (!pending.isEmpty()) {
            if (m_bodyRemaining > 0) {
                const qsizetype take = std::min<qint64>(m_bodyRemaining, pending.size());
                m_bodyRemaining -= take;
                pending.remove(0, take);
                continue;
            }
            const qsizetype scanFrom = std::max<qsizetype>(0, m_head.size() - 3);
            m_head.append(pending);
            pending.clear();
            const qsizetype end = m_head.indexOf("\r\n\r\n", scanFrom);
            if (end < 0) {
                if (m_head.size() > 32 * 1024)
                    reject(ApiError(431, QStringLiteral("header_too_large"),
                                    QStringLiteral("the request header block is larger than 32 KiB")));
                return;
            }
            const QByteArray head = m_head.left(end).toLower();
            pending = m_head.mid(end + 4); // body bytes, or the next pipelined request
            m_head.clear();
            if (head.contains("\r\ntransfer-encoding:") && head.contains("chunked"))
                return reject(ApiError(411, QStringLiteral("length_required"),
                                       QStringLiteral("chunked request bodies are not accepted: send Content-Length")));
            const qsizetype cl = head.indexOf("\r\ncontent-length:");
            if (cl >= 0) {
                const QByteArray value = head.mid(cl + 17).split('\r').first().trimmed();
                bool ok = false;
                const qint64 length = value.toLongLong(&ok);
                const bool digits = !value.isEmpty() && std::all_of(value.cbegin(), value.cend(), [](char c) { return c >= '0' && c <= '9'; });
                if (!digits)
                    return reject(ApiError::badRequest(QStringLiteral("Content-Length is not a number")));
                if (!ok || length > HttpApi::maxBodyBytes())
                    return reject(ApiError::payloadTooLarge(
                        QStringLiteral("the request body is larger than %1 bytes").arg(HttpApi::maxBodyBytes())));
                m_bodyRemaining = length;
            }
        }
    }

    void reject(const ApiError &error)
    {
        m_rejected = true;
        QObject::disconnect(m_socket, &QTcpSocket::readyRead, m_server, nullptr);
        m_socket->readAll();
        m_socket->write(buildResponse(error.status(), "application/json", error.toJson(), {}, true));
        m_socket->disconnectFromHost();
    }

    QTcpSocket *m_socket;
    QObject *m_server;
    QByteArray m_head;
    qint64 m_bodyRemaining = 0;
    bool m_rejected = false;
};

class GuardedTcpServer : public QTcpServer
{
public:
    explicit GuardedTcpServer(QObject *httpServer) : QTcpServer(httpServer), m_httpServer(httpServer) {}

protected:
    void incomingConnection(qintptr descriptor) override
    {
        auto *socket = new QTcpSocket(this);
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            return;
        }
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        new StreamGuard(socket, m_httpServer);
        addPendingConnection(socket);
        // QAbstractHttpServer drains pending connections from its newConnection slot.
    }

private:
    QObject *m_httpServer;
};

} // namespace

QByteArray HttpRequest::header(const QByteArray &lowerName) const
{
    for (const auto &h : headers) {
        if (h.first == lowerName)
            return h.second;
    }
    return {};
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

QTcpSocket *HttpResponder::socket() const { return m_state ? m_state->socket.data() : nullptr; }

void HttpResponder::send(int status, const QByteArray &body, const QByteArray &contentType, const HttpHeaders &extra,
                         const QByteArray &headerLines)
{
    if (!m_state || m_state->done)
        return;
    m_state->done = true;
    QTcpSocket *socket = m_state->socket.data();
    if (!socket || socket->state() != QAbstractSocket::ConnectedState)
        return; // the client hung up: nothing to write to
    socket->write(buildResponse(status, contentType, body, extra, m_state->closeAfter, headerLines));
    if (m_state->closeAfter)
        socket->disconnectFromHost();
}

void HttpResponder::sendError(const ApiError &error, const HttpHeaders &extra)
{
    HttpHeaders headers = extra;
    send(error.status(), error.toJson(), "application/json", headers);
}

bool HttpResponder::beginStream(const QByteArray &contentType)
{
    if (!m_state || m_state->done || !isConnected())
        return false;
    m_state->done = true;
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

HttpApi::HttpApi(QObject *parent) : QAbstractHttpServer(parent) {}

HttpApi::~HttpApi() = default;

int HttpApi::maxBodyBytes() { return api::kMaxBodyBytes; }

QByteArray HttpApi::reasonPhrase(int status)
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
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

void HttpApi::route(const QByteArray &method, const QString &path, Handler handler)
{
    m_routes.append({method, path, false, std::move(handler)});
}

void HttpApi::routeTail(const QByteArray &method, const QString &prefix, Handler handler)
{
    m_routes.append({method, prefix, true, std::move(handler)});
}

bool HttpApi::listenOn(const QHostAddress &address, quint16 port, bool reusePort, QString *error)
{
    auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return false;
    };
    const bool v6 = address.protocol() == QAbstractSocket::IPv6Protocol;
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (v6) {
        auto *sa = reinterpret_cast<sockaddr_in6 *>(&storage);
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(port);
        const Q_IPV6ADDR a = address.toIPv6Address();
        std::memcpy(&sa->sin6_addr, &a, 16);
        length = sizeof(sockaddr_in6);
    } else {
        auto *sa = reinterpret_cast<sockaddr_in *>(&storage);
        sa->sin_family = AF_INET;
        sa->sin_port = htons(port);
        sa->sin_addr.s_addr = htonl(address.toIPv4Address());
        length = sizeof(sockaddr_in);
    }
    const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(QString::fromLocal8Bit(std::strerror(errno)));
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reusePort)
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&storage), length) != 0 || ::listen(fd, 1024) != 0) {
        const QString why = QString::fromLocal8Bit(std::strerror(errno));
        ::close(fd);
        return fail(QStringLiteral("cannot listen on %1:%2: %3").arg(address.toString()).arg(port).arg(why));
    }
    sockaddr_storage bound{};
    socklen_t boundLength = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &boundLength);
    m_port = ntohs(v6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                      : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
    auto *server = new GuardedTcpServer(this);
    if (!server->setSocketDescriptor(fd)) {
        ::close(fd);
        delete server;
        return fail(QStringLiteral("cannot adopt the listening socket"));
    }
    bind(server);
    return true;
}

bool HttpApi::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    HttpRequest r;
    r.method = methodName(request.method());
    const QUrl url = request.url();
    r.path = url.path();
    r.query = QUrlQuery(url);
    r.body = request.body();
    r.peer = request.remoteAddress();
    const auto headers = request.headers();
    r.headers.reserve(headers.size());
    for (const auto &h : headers)
        r.headers.append({h.first.toLower(), h.second});
    const bool close = r.header("connection").toLower() == "close";
    HttpResponder responder(socket, close);

    const Route *match = nullptr;
    bool pathKnown = false;
    QByteArrayList allowed;
    for (const Route &route : m_routes) {
        bool pathMatches = false;
        if (!route.tail) {
            pathMatches = route.path == r.path;
        } else if (r.path.size() > route.path.size() + 1 && r.path.startsWith(route.path)
                   && r.path.at(route.path.size()) == QLatin1Char('/')
                   && r.path.indexOf(QLatin1Char('/'), route.path.size() + 1) < 0) {
            pathMatches = true;
        }
        if (!pathMatches)
            continue;
        pathKnown = true;
        allowed.append(route.method);
        if (route.method == r.method) {
            match = &route;
            break;
        }
    }
    try {
        if (!match) {
            if (pathKnown) {
                responder.sendError(ApiError::methodNotAllowed(
                                        QStringLiteral("%1 is not allowed on %2").arg(QString::fromLatin1(r.method), r.path)),
                                    {{"Allow", allowed.join(", ")}});
            } else {
                responder.sendError(ApiError::notFound(QStringLiteral("no such route: %1").arg(r.path)));
            }
            return true;
        }
        if (r.body.size() > maxBodyBytes())
            throw ApiError::payloadTooLarge(QStringLiteral("the request body is larger than %1 bytes").arg(maxBodyBytes()));
        if (match->tail)
            r.pathTail = QUrl::fromPercentEncoding(r.path.mid(match->path.size() + 1).toUtf8());
        match->handler(r, responder);
    } catch (const ApiError &error) {
        responder.sendError(error);
    } catch (const std::exception &e) {
        qWarning("unexpected error while handling %s %s: %s", r.method.constData(), qPrintable(r.path), e.what());
        responder.sendError(ApiError::internal(QStringLiteral("internal error")));
    }
    return true;
}

void HttpApi::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    HttpResponder(socket, false).sendError(ApiError::notFound(QStringLiteral("no such route: %1").arg(request.url().path())));
}

} // namespace sluice
