// SPDX-License-Identifier: Apache-2.0
// The one wrapper around QtHttpServer (its API changes at Qt 6.8, so nobody else includes it).
// We own the dispatch through QAbstractHttpServer::handleRequest: routes are matched here (exact
// path, or prefix + one trailing segment); an unknown path is 404 and a known path with another
// method 405, both as the JSON error of design §3; an ApiError thrown by a handler becomes its
// status and JSON body in exactly one place. Answers go out through HttpResponder (httpresponder.h),
// connections are framed and timed by FramingGuard (framingguard.h), and several HttpApi instances
// (one per server thread) can share one port (listener.h).
#pragma once

#include "http/layer.h"

#include "http/framingguard.h"
#include "http/httpresponder.h"

#include <QAbstractHttpServer>
#include <QHttpServerRequest>
#include <functional>

namespace sluice {

class HttpApi : public QAbstractHttpServer
{
    Q_OBJECT
public:
    using Handler = std::function<void(const HttpRequest &, HttpResponder)>;

    explicit HttpApi(QObject *parent = nullptr);
    ~HttpApi() override;

    void route(const QByteArray &method, const QString &path, Handler handler);
    // Matches "<prefix>/<one segment>" and passes the segment as pathTail.
    void routeTail(const QByteArray &method, const QString &prefix, Handler handler);

    // For connections accepted after this call.
    void setTimeouts(ConnectionTimeouts timeouts) { m_timeouts = timeouts; }
    // Listens on address:port; with reusePort several HttpApi objects (threads) can share a port.
    bool listenOn(const QHostAddress &address, quint16 port, bool reusePort, QString *error);
    quint16 port() const { return m_port; }

    static int maxBodyBytes();

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    struct Route
    {
        QByteArray method;
        QString path;
        bool tail = false;
        Handler handler;
    };
    QList<Route> m_routes;
    ConnectionTimeouts m_timeouts;
    quint16 m_port = 0;
};

} // namespace sluice
