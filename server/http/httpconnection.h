// SPDX-License-Identifier: Apache-2.0
// One HTTP/1.1 connection: the socket's bytes go through exactly one parser (HttpRequestParser),
// requests are handed to the routes one at a time, and answers leave in request order.
//
// Nothing reads the socket but this class, so there is no second idea of where a request starts
// (a pipelined request cannot hide a body from the size checks), and memory per connection is
// bounded: Qt's socket buffer (kReadBufferBytes) plus the parser's (one request, at most
// kMaxHeldBytes), and answers the client has not taken yet (kMaxUnsentBytes). While a request waits
// for its answer the connection reads nothing more; a pipelined request is parsed when the one
// before it has been answered (and the answers before it have mostly gone).
//
// Two clocks: a request whose header and body are not complete within the request timeout
// (default 10 s) gets 408 and the connection closes; a keep-alive connection idle between requests
// for longer than the idle timeout (default 60 s) is closed. A stream (Server-Sent Events) is exempt.
//
// Closing (after a refusal, or an answer with Connection: close) is a lingering close, as nginx's:
// the answer is written, the sending side shut down, and what still comes is read and dropped
// until the client closes or kLingerMs pass. Closing at once with unread bytes would make the
// kernel reset the connection, and the client would never read the answer.
#pragma once

#include "http/layer.h"

#include "http/httpparser.h"

#include <QObject>
#include <QTimer>

class QTcpSocket;

namespace sluice {

class HttpApi;
struct HttpRequest;
class HttpResponder;

struct ConnectionTimeouts
{
    int requestMs = 10000; // header and body of one request
    int idleMs = 60000;    // keep-alive, between requests
};

class HttpConnection : public QObject
{
public:
    static constexpr qint64 kReadBufferBytes = 64 * 1024;
    static constexpr qsizetype kMaxHeldBytes = 64 * 1024;
    // Answers not yet taken by the client: above this, no further request is parsed until they go
    // (a client that pipelines requests and reads nothing cannot grow the process).
    static constexpr qint64 kMaxUnsentBytes = 256 * 1024;
    // A stream whose client reads slower than events come is closed above this.
    static constexpr qint64 kMaxUnsentStreamBytes = 1024 * 1024;
    static constexpr int kLingerMs = 5000;

    // Takes the socket (connected); the connection and the socket go together when it closes.
    HttpConnection(QTcpSocket *socket, HttpApi *api, ConnectionTimeouts timeouts);

    // For HttpResponder: the answer of request `serial`, written now; the next request follows.
    void answer(quint64 serial, const QByteArray &bytes, bool close);
    // The request `serial` turns into a stream: no more requests, no clocks.
    bool beginStream(quint64 serial, const QByteArray &head);
    bool writeStream(const QByteArray &chunk);
    bool isOpen() const;

private:
    void onReadyRead();
    void drive();
    void driveLater();
    void dispatch(ParsedRequest &&parsed);
    void refuse(const ApiError &error);
    void armClock();
    void onTimeout();
    void discardInput();
    void close();
    void onBytesWritten();

    enum class Mode { Reading, Answering, Streaming, Closing };

    QTcpSocket *m_socket;
    HttpApi *m_api;
    ConnectionTimeouts m_timeouts;
    HttpRequestParser m_parser;
    QTimer m_clock;
    Mode m_mode = Mode::Reading;
    quint64 m_serial = 0;     // the request being answered
    bool m_driving = false;   // drive() is on the stack: an answer made now lets it go on
    bool m_continued = false; // "100 Continue" sent for the request in progress
    bool m_sendingShutDown = false;
    bool m_drivePosted = false;
};

} // namespace sluice
