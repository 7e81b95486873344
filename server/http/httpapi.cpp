// SPDX-License-Identifier: Apache-2.0
#include "http/httpapi.h"

#include "http/listener.h"

#include "apipaths.h"

#include <QUrl>
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

} // namespace

HttpApi::HttpApi(QObject *parent) : QAbstractHttpServer(parent) {}

HttpApi::~HttpApi() = default;

int HttpApi::maxBodyBytes() { return api::kMaxBodyBytes; }

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
    QString why;
    const int fd = openListeningSocket(address, port, reusePort, &m_port, &why);
    if (fd < 0) {
        if (error)
            *error = why;
        return false;
    }
    auto *server = new GuardedTcpServer(this, m_timeouts);
    if (!server->setSocketDescriptor(fd)) {
        ::close(fd);
        delete server;
        if (error)
            *error = QStringLiteral("cannot adopt the listening socket");
        return false;
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
