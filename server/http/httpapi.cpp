// SPDX-License-Identifier: Apache-2.0
#include "http/httpapi.h"

#include "http/listener.h"

#include "apipaths.h"

#include <QUrl>
#include <algorithm>
#include <unistd.h>

namespace sluice {

HttpApi::HttpApi(QObject *parent) : QObject(parent) {}

HttpApi::~HttpApi() = default;

int HttpApi::maxBodyBytes() { return api::kMaxBodyBytes; }

qint64 HttpApi::maxBodyBytesFor(const QString &path) const
{
    if (m_limits.largeBodyBytes > 0 && !m_limits.largeBodyPrefix.isEmpty() && path.startsWith(QLatin1String(m_limits.largeBodyPrefix)))
        return std::max<qint64>(m_limits.largeBodyBytes, maxBodyBytes());
    return maxBodyBytes();
}

void HttpApi::route(const QByteArray &method, const QString &path, Handler handler)
{
    m_routes.append({method, path, false, QString(), std::move(handler)});
}

void HttpApi::routeTail(const QByteArray &method, const QString &prefix, Handler handler)
{
    m_routes.append({method, prefix, true, QString(), std::move(handler)});
}

void HttpApi::routeTail(const QByteArray &method, const QString &prefix, const QString &suffix, Handler handler)
{
    m_routes.append({method, prefix, true, suffix, std::move(handler)});
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
    auto *server = new GuardedTcpServer(this, m_limits);
    if (!server->setSocketDescriptor(fd)) {
        ::close(fd);
        delete server;
        if (error)
            *error = QStringLiteral("cannot adopt the listening socket");
        return false;
    }
    return true;
}

void HttpApi::dispatch(HttpRequest &r, HttpResponder responder)
{
    const auto pathMatches = [&r](const Route &route) {
        if (!route.tail)
            return route.path == r.path;
        return r.path.size() > route.path.size() + route.suffix.size() + 1 && r.path.startsWith(route.path)
               && r.path.at(route.path.size()) == QLatin1Char('/') && r.path.endsWith(route.suffix)
               && r.path.indexOf(QLatin1Char('/'), route.path.size() + 1) == (route.suffix.isEmpty() ? -1 : r.path.size() - route.suffix.size());
    };
    const Route *match = nullptr;
    for (const Route &route : m_routes) {
        if (route.method == r.method && pathMatches(route)) {
            match = &route;
            break;
        }
    }
    try {
        if (!match) {
            // The methods the path has, in the order they were routed (none: no such path).
            QByteArrayList allowed;
            for (const Route &route : m_routes) {
                if (pathMatches(route))
                    allowed.append(route.method);
            }
            if (!allowed.isEmpty()) {
                responder.sendError(ApiError::methodNotAllowed(
                                        QStringLiteral("%1 is not allowed on %2").arg(QString::fromLatin1(r.method), r.path)),
                                    {{"Allow", allowed.join(", ")}});
            } else {
                responder.sendError(ApiError::notFound(QStringLiteral("no such route: %1").arg(r.path)));
            }
            return;
        }
        if (const qint64 max = maxBodyBytesFor(r.path); r.body.size() > max)
            throw ApiError::payloadTooLarge(QStringLiteral("the request body is larger than %1 bytes").arg(max));
        if (match->tail)
            r.pathTail = QUrl::fromPercentEncoding(
                r.path.mid(match->path.size() + 1, r.path.size() - match->path.size() - 1 - match->suffix.size()).toUtf8());
        match->handler(r, responder);
    } catch (const ApiError &error) {
        responder.sendError(error);
    } catch (const std::exception &e) {
        qWarning("unexpected error while handling %s %s: %s", r.method.constData(), qPrintable(r.path), e.what());
        responder.sendError(ApiError::internal(QStringLiteral("internal error")));
    }
}

} // namespace sluice
