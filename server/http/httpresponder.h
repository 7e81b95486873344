// SPDX-License-Identifier: Apache-2.0
// One HTTP request as the routes see it, and the one way to answer it. Every answer goes through an
// HttpResponder that holds its connection in a QPointer, so an answer made after the client hung up
// is dropped; each answer is built in one buffer. A request whose every responder is gone without
// an answer (a lost callback) is answered 500, so the connection's next request is not stuck.
#pragma once

#include "http/layer.h"

#include "apierror.h"
#include "http/httpparser.h"

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QPointer>
#include <QUrlQuery>
#include <memory>

class QThread;

namespace sluice {

class HttpConnection;

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
    // Throws ApiError 415 unless the body is declared application/json (parameters ignored).
    void requireJson() const;
};

class HttpResponder
{
public:
    // How the answer ends the exchange: the connection stays (HTTP/1.1), stays and says so (an
    // HTTP/1.0 client that asked for keep-alive), or closes.
    enum class Framing { KeepAlive, KeepAlive10, Close };

    HttpResponder() = default;
    // headOnly: the request was HEAD: the answer's head goes, its body does not.
    HttpResponder(HttpConnection *connection, quint64 serial, Framing framing, bool headOnly = false);

    // Writes one whole answer; later calls and calls after the client left do nothing.
    // headerLines: already formatted "Name: value\r\n" lines (the hot path's headers).
    void send(int status, const QByteArray &body, const QByteArray &contentType = "application/json",
              const HttpHeaders &extra = {}, const QByteArray &headerLines = QByteArray());
    void sendError(const ApiError &error, const HttpHeaders &extra = {});
    // Server-Sent Events: the head, then events until the client leaves. A stream is exempt from
    // the connection's idle timeout (it is meant to stay open).
    bool beginStream(const QByteArray &contentType = "text/event-stream");
    bool writeStream(const QByteArray &chunk);
    bool isConnected() const;

private:
    struct State
    {
        ~State();
        QPointer<HttpConnection> connection;
        QThread *thread = nullptr; // the connection's: the only one that may touch it
        quint64 serial = 0;
        Framing framing = Framing::KeepAlive;
        bool headOnly = false;
        bool done = false;
    };
    std::shared_ptr<State> m_state;
};

// "HTTP/1.1 <status> <reason>" + Server, Content-Type, Content-Length, the given headers, body.
QByteArray buildHttpResponse(int status, const QByteArray &contentType, const QByteArray &body, const HttpHeaders &extra,
                             HttpResponder::Framing framing, const QByteArray &headerLines = QByteArray());
QByteArray httpReasonPhrase(int status);

} // namespace sluice
