// SPDX-License-Identifier: Apache-2.0
// One HTTP request as the routes see it, and the one way to answer it. Every answer goes through an
// HttpResponder that holds the socket in a QPointer, so an answer made after the client hung up
// (Qt 6.4 would write through a dangling pointer) is dropped; each answer is built in one buffer.
#pragma once

#include "http/layer.h"

#include "apierror.h"

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QPointer>
#include <QTcpSocket>
#include <QUrlQuery>
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
    // Throws ApiError 415 unless the body is declared application/json (parameters ignored).
    void requireJson() const;
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
    // Server-Sent Events: the head, then events until the client leaves. A stream is exempt from
    // the connection's idle timeout (it is meant to stay open).
    bool beginStream(const QByteArray &contentType = "text/event-stream");
    bool writeStream(const QByteArray &chunk);
    bool isConnected() const;

private:
    struct State
    {
        QPointer<QTcpSocket> socket;
        bool closeAfter = false;
        bool done = false;
    };
    std::shared_ptr<State> m_state;
};

// "HTTP/1.1 <status> <reason>" + Server, Content-Type, Content-Length, the given headers, body.
QByteArray buildHttpResponse(int status, const QByteArray &contentType, const QByteArray &body, const HttpHeaders &extra,
                             bool close, const QByteArray &headerLines = QByteArray());
QByteArray httpReasonPhrase(int status);

} // namespace sluice
