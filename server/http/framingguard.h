// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 message framing in front of Qt's parser, and the connection's clocks.
//
// HttpFraming is pure (no I/O, fuzzed by fuzz/fuzz_framing.cpp): fed a connection's bytes in
// order, it follows header block → Content-Length bytes of body → next request, parsing the
// header block line by line (a header *named* Transfer-Encoding, not the text "chunked" anywhere),
// and says when the connection must be refused: a body declared over the limit (413, before it
// is read), a header block over 32 KiB (431), any Transfer-Encoding (411: send Content-Length),
// a Content-Length that is not a number or two that disagree (400).
//
// FramingGuard applies it to one socket (connected to readyRead before Qt's parser, so it sees
// each byte first) and keeps two clocks: a request whose header and body are not complete within
// the request timeout (default 10 s) gets 408 and the connection is closed; a keep-alive connection
// idle between requests for longer than the idle timeout (default 60 s) is closed. A Server-Sent
// Events stream (setStreaming) is exempt: it is meant to stay open.
#pragma once

#include "http/layer.h"

#include "apierror.h"

#include <QByteArray>
#include <QObject>
#include <QTimer>
#include <optional>

class QTcpSocket;

namespace sluice {

class HttpFraming
{
public:
    static constexpr qsizetype kMaxHeaderBytes = 32 * 1024;

    explicit HttpFraming(qint64 maxBodyBytes) : m_maxBody(maxBodyBytes) {}
    // Feeds the next bytes of the connection; an ApiError when the connection must be refused
    // (after which the framing is stuck in that state).
    std::optional<ApiError> feed(const QByteArray &bytes);
    // Bytes of an unfinished request are pending (header or body).
    bool inRequest() const { return !m_head.isEmpty() || m_bodyRemaining > 0; }
    qint64 completedRequests() const { return m_completed; }

private:
    std::optional<ApiError> headerBlock(const QByteArray &head);

    qint64 m_maxBody;
    QByteArray m_head;
    qint64 m_bodyRemaining = 0;
    qint64 m_completed = 0;
    std::optional<ApiError> m_rejected;
};

struct ConnectionTimeouts
{
    int requestMs = 10000; // header and body of one request
    int idleMs = 60000;    // keep-alive, between requests
};

class FramingGuard : public QObject
{
public:
    FramingGuard(QTcpSocket *socket, QObject *httpServer, ConnectionTimeouts timeouts);
    // The guard of a socket (null when it has none).
    static FramingGuard *of(QTcpSocket *socket);
    // The connection carries a stream now: no more timeouts.
    void setStreaming();

private:
    void onReadyRead();
    void onTimeout();
    void armClock();
    void reject(const ApiError &error);

    QTcpSocket *m_socket;
    QObject *m_server;
    ConnectionTimeouts m_timeouts;
    HttpFraming m_framing;
    QTimer m_clock;
    bool m_rejected = false;
    bool m_streaming = false;
};

} // namespace sluice
