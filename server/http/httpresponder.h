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
#include <QSharedData>
#include <QUrlQuery>
#include <functional>
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

    QByteArray header(QByteArrayView lowerName) const;
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
    // http10: the client speaks HTTP/1.0 (a relayed answer is then delimited by the close, not chunked).
    HttpResponder(HttpConnection *connection, quint64 serial, Framing framing, bool headOnly = false, bool http10 = false);

    // Writes one whole answer; later calls and calls after the client left do nothing.
    // headerLines: already formatted "Name: value\r\n" lines (the hot path's headers).
    void send(int status, QByteArrayView body, QByteArrayView contentType = "application/json",
              const HttpHeaders &extra = {}, QByteArrayView headerLines = {});
    void sendError(const ApiError &error, const HttpHeaders &extra = {});
    // Server-Sent Events: the head, then events until the client leaves. A stream is exempt from
    // the connection's idle timeout (it is meant to stay open).
    bool beginStream(const QByteArray &contentType = "text/event-stream");
    bool writeStream(const QByteArray &chunk);
    bool isConnected() const;

    // A relayed answer (the inference door; HttpConnection::beginRelay): watch() first — from then
    // on the client leaving is noticed (whenGone) — then either send() as usual, or the head
    // (status, content type, header lines), the body in parts as they come (chunked transfer
    // coding; delimited by the close for an HTTP/1.0 client), and endRelay(). whole=false cuts it:
    // no last chunk, the connection closes, so the client sees an incomplete answer.
    bool watch();
    bool beginRelay(int status, const QByteArray &contentType, const QByteArray &headerLines);
    bool writeRelay(const QByteArray &bytes);
    void endRelay(bool whole);
    bool relaying() const { return m_state && m_state->relaying; }
    qint64 unsentBytes() const;
    void whenDrained(std::function<void()> drained);
    // `gone` runs from the event loop of the connection's thread when the client has left (the
    // connection was destroyed) — at once (queued) if it already has. Not after `context` is deleted.
    void whenGone(QObject *context, std::function<void()> gone);

private:
    // (Shared through an 8-byte pointer: a callback that holds a responder and one more pointer
    // fits std::function's own storage, no allocation per check.)
    struct State : QSharedData
    {
        ~State();
        QPointer<HttpConnection> connection;
        QThread *thread = nullptr; // the connection's: the only one that may touch it
        quint64 serial = 0;
        Framing framing = Framing::KeepAlive;
        bool headOnly = false;
        bool http10 = false;
        bool relaying = false; // a relayed answer's head went: its end (endRelay) is still owed
        bool done = false;
    };
    QExplicitlySharedDataPointer<State> m_state;
};

// "HTTP/1.1 <status> <reason>" + Server, Content-Type, Content-Length, the given headers, body.
QByteArray buildHttpResponse(int status, QByteArrayView contentType, QByteArrayView body, const HttpHeaders &extra,
                             HttpResponder::Framing framing, QByteArrayView headerLines = {});
QByteArray httpReasonPhrase(int status);

} // namespace sluice
