// SPDX-License-Identifier: Apache-2.0
// The HTTP server of one server thread: routes are matched here (exact path, or prefix + one
// trailing segment); an unknown path is 404 and a known path with another method 405, both as the
// JSON error of design §3; an ApiError thrown by a handler becomes its status and JSON body in
// exactly one place. Each connection is parsed, timed and answered in order by HttpConnection
// (httpconnection.h), answers go out through HttpResponder (httpresponder.h), and several HttpApi
// instances (one per server thread) can share one port (listener.h).
//
// QtHttpServer's parser is not used: Qt 6.4's re-read pipelined bytes that a guard in front of it
// had already framed, so the two disagreed on where a request starts (a smuggled chunked body).
// One parser of our own owns the bytes; Qt Network gives the sockets and the event loop.
#pragma once

#include "http/layer.h"

#include "http/httpconnection.h"
#include "http/httpresponder.h"

#include <QHostAddress>
#include <QObject>
#include <functional>

namespace sluice {

class HttpApi : public QObject
{
public:
    using Handler = std::function<void(const HttpRequest &, HttpResponder)>;

    explicit HttpApi(QObject *parent = nullptr);
    ~HttpApi() override;

    void route(const QByteArray &method, const QString &path, Handler handler);
    // Matches "<prefix>/<one segment>" and passes the segment as pathTail.
    void routeTail(const QByteArray &method, const QString &prefix, Handler handler);
    // Matches "<prefix>/<one segment><suffix>" (suffix like "/load") and passes the segment as pathTail.
    void routeTail(const QByteArray &method, const QString &prefix, const QString &suffix, Handler handler);

    // For connections accepted after this call.
    void setLimits(ConnectionLimits limits) { m_limits = limits; }
    // Listens on address:port; with reusePort several HttpApi objects (threads) can share a port.
    bool listenOn(const QHostAddress &address, quint16 port, bool reusePort, QString *error);
    quint16 port() const { return m_port; }

    static int maxBodyBytes();
    // The largest body a request to `path` may have: maxBodyBytes(), or the limits' larger one under
    // their large-body prefix (the inference door's /v1/).
    qint64 maxBodyBytesFor(const QString &path) const;

    // One parsed request (HttpConnection): routed, and answered through the responder.
    void dispatch(HttpRequest &request, HttpResponder responder);

private:
    struct Route
    {
        QByteArray method;
        QString path;
        bool tail = false;
        QString suffix; // after the tail segment
        Handler handler;
    };
    QList<Route> m_routes;
    ConnectionLimits m_limits;
    quint16 m_port = 0;
};

} // namespace sluice
