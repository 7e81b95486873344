// SPDX-License-Identifier: Apache-2.0
// The one wrapper around QtHttpServer (its API changes at Qt 6.8, so nobody else includes it).
// We own the dispatch through QAbstractHttpServer::handleRequest and write answers ourselves:
// - every answer goes through an HttpResponder that holds the socket in a QPointer, so an answer
//   made after the client hung up (Qt 6.4 would write through a dangling pointer) is dropped;
// - a stream guard sees each connection's bytes before Qt's parser and refuses a body over
//   16 KiB (413) from its Content-Length, without reading it;
// - routes are matched here (exact path, or prefix + one trailing segment); an unknown path is
//   404 and a known path with another method 405, both as the JSON error of design §3;
// - an ApiError thrown by a handler becomes its status and JSON body in exactly one place.
// Several HttpApi instances (one per server thread) can share one port (SO_REUSEPORT).
#pragma once

#include "apierror.h"

#include <QAbstractHttpServer>
#include <QHostAddress>
#include <QHttpServerRequest>
#include <QPointer>
#include <QTcpSocket>
#include <QUrlQuery>
#include <functional>
#include <memory>

namespace sluice {

using HttpHeaders = QList<QPair<QByteArray, QByteArray>>;

struct HttpRequest
{
    QByteArray method;     // "GET", "POST", …
    QString path;
    QString pathTail;      // for prefix routes: the segment after the prefix ("7" of /admin/policies/7)
    QUrlQuery query;
    QByteArray body;
    HttpHeaders headers;   // names lower-case
    QHostAddress peer;

    QByteArray header(const QByteArray &lowerName) const;
};

class HttpResponder
{
public:
    HttpResponder() = default;
    HttpResponder(QTcpSocket *socket, bool closeAfter);

    // Writes one whole answer; later calls and calls after the client left do nothing.
    // headerLines: already formatted "Name: value\r\n" lines (the hot path's headers).
    void send(int status, const QByteArray &body, const QByteArray &contentType = "application/json",
              const HttpHeaders &extra = {}, const QByteArray &headerLines = QByteArray());
    void sendError(const ApiError &error, const HttpHeaders &extra = {});
    // Server-Sent Events: the head, then events until the client leaves.
    bool beginStream(const QByteArray &contentType = "text/event-stream");
    bool writeStream(const QByteArray &chunk);
    bool isConnected() const;
    QTcpSocket *socket() const;

private:
    struct State
    {
        QPointer<QTcpSocket> socket;
        bool closeAfter = false;
        bool done = false;
    };
    std::shared_ptr<State> m_state;
};

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

    // Listens on address:port; with reusePort several HttpApi objects (threads) can share a port.
    bool listenOn(const QHostAddress &address, quint16 port, bool reusePort, QString *error);
    quint16 port() const { return m_port; }

    static int maxBodyBytes();
    static QByteArray reasonPhrase(int status);

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
    quint16 m_port = 0;
};

} // namespace sluice
