// SPDX-License-Identifier: Apache-2.0
// One HTTP/1.1 connection: the socket's bytes go through exactly one parser (HttpRequestParser),
// requests are handed to the routes one at a time, and answers leave in request order.
//
// Nothing reads the socket but this class, so there is no second idea of where a request starts
// (a pipelined request cannot hide a body from the size checks), and memory per connection is
// bounded: the parser's buffer (one request, at most kMaxHeldBytes) and answers the client has not
// taken yet (kMaxUnsentBytes). While a request waits for its answer the connection reads nothing
// more (the bytes wait in the kernel: TCP flow control); a pipelined request is parsed when the one
// before it has been answered (and the answers before it have mostly gone).
//
// The socket is a plain non-blocking descriptor watched by the thread's ConnectionPoller (epoll), not
// a QTcpSocket:
// bytes go from the kernel straight into the parser's buffer (one recv per readiness, no FIONREAD,
// no ring buffer in between), and the answers a turn makes leave in one send. A client that shuts
// down its sending side (half-close) still gets the answers to everything it sent — except a relayed
// answer (the inference door): there, as in nginx, the end of the client's input means it left.
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
#include "http/poller.h"

#include <QHostAddress>
#include <QObject>
#include <QTimer>
#include <functional>

namespace sluice {

class HttpApi;
struct HttpRequest;
class HttpResponder;

struct ConnectionLimits
{
    int requestMs = 10000; // header and body of one request
    int idleMs = 60000;    // keep-alive, between requests
    // Requests whose target starts with largeBodyPrefix may have bodies up to largeBodyBytes (the
    // inference door's chat requests); every other request api::kMaxBodyBytes. 0: none.
    qint64 largeBodyBytes = 0;
    QByteArray largeBodyPrefix;
};

class HttpConnection : public QObject, private ConnectionPoller::Client
{
public:
    static constexpr qsizetype kMaxHeldBytes = 64 * 1024;
    // Answers not yet taken by the client: above this, no further request is parsed until they go
    // (a client that pipelines requests and reads nothing cannot grow the process).
    static constexpr qint64 kMaxUnsentBytes = 256 * 1024;
    // A stream whose client reads slower than events come is closed above this.
    static constexpr qint64 kMaxUnsentStreamBytes = 1024 * 1024;
    static constexpr int kLingerMs = 5000;

    // Takes the connected socket `fd` (closed with the connection, which deletes itself when the
    // exchange ends; `parent` deletes what is left when it goes).
    // `poller`: the thread's, which watches the socket (it outlives the connection: the same parent).
    HttpConnection(qintptr fd, HttpApi *api, ConnectionLimits limits, ConnectionPoller *poller, QObject *parent);
    ~HttpConnection() override;

    // For HttpResponder: the answer of request `serial`, written now; the next request follows.
    void answer(quint64 serial, const QByteArray &bytes, bool close);
    // The same from the caller's buffer (sent at once when nothing waits, else copied).
    void answer(quint64 serial, QByteArrayView bytes, bool close);
    // The request `serial` turns into a stream: no more requests, no clocks.
    bool beginStream(quint64 serial, const QByteArray &head);
    bool writeStream(const QByteArray &chunk);
    bool isOpen() const;
    // A relayed answer (the inference door): from beginRelay (the head may come later, or be
    // empty) parts of it as they come, then its end (answer()). Unlike a stream the connection
    // stays for the next request, and reads nothing meanwhile but watches for the client leaving
    // (the connection then aborts and is deleted).
    bool beginRelay(quint64 serial, const QByteArray &head);
    bool writeRelay(const QByteArray &bytes);
    // Flow control: `drained` runs once (from the event loop) when everything written so far has
    // gone to the kernel (the relay then reads its upstream again).
    void whenDrained(std::function<void()> drained);
    // Bytes written and not yet taken by the kernel.
    qint64 unsentBytes() const { return unsent(); }

private:
    void drive();
    void driveLater();
    void dispatch(ParsedRequest &&parsed);
    void refuse(const ApiError &error);
    void armClock();
    void onTimeout();
    void discardInput();
    void close();
    void abort();
    void onReadable();
    void onWritable();
    void socketReadable() override;
    void socketWritable() override;
    void socketEnded() override { m_ended = true; }
    void watch(bool read, bool write);
    void watchRelayedClient();
    void write(const QByteArray &bytes);
    void deliver(quint64 serial, const QByteArray *shared, QByteArrayView bytes, bool close);
    void flushOut();
    void afterFlush();
    void updateWatch();
    qint64 unsent() const { return m_out.size() - m_outPos; }
    bool moreToDo() const;

    enum class Mode { Reading, Answering, Relaying, Streaming, Closing };

    int m_fd;
    ConnectionPoller *m_poller;
    bool m_watchRead = false;  // what the poller watches the socket for
    bool m_watchWrite = false;
    QHostAddress m_peer;
    QByteArray m_out;         // answers not yet taken by the kernel, from m_outPos
    qsizetype m_outPos = 0;
    HttpApi *m_api;
    ConnectionLimits m_limits;
    HttpRequestParser m_parser;
    QByteArray m_lastPath;    // the last plain path asked for, and its text
    QString m_lastPathText;
    // The request or idle clock: its deadline, and a timer due at or before it.
    enum class Clock { None, Idle, Request };
    QTimer m_clock;
    Clock m_clockKind = Clock::None;
    qint64 m_deadlineMs = 0;
    qint64 m_timerDueMs = 0;
    Mode m_mode = Mode::Reading;
    quint64 m_serial = 0;     // the request being answered
    bool m_driving = false;   // drive() is on the stack: an answer made now lets it go on
    bool m_continued = false; // "100 Continue" sent for the request in progress
    bool m_sendingShutDown = false;
    bool m_drivePosted = false;
    bool m_readable = false;  // the kernel may hold bytes we have not read (the notifier said so)
    bool m_eof = false;       // the client shut down its sending side
    bool m_ended = false;     // the poller saw the end coming: read until recv returns it
    bool m_needBytes = false; // the parser holds part of a request and waits for the rest
    bool m_relayHeld = false; // relaying, and the client sent more (pipelined): it waits in the kernel
    std::function<void()> m_drained;
    qsizetype m_maxHeld;      // kMaxHeldBytes, or more for a large-body prefix (ConnectionLimits)
};

} // namespace sluice
