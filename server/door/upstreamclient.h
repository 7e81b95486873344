// SPDX-License-Identifier: Apache-2.0
// The inference door's HTTP/1.1 client to its upstream (a model router, vLLM, TGI): one call at a
// time per connection, the answer's body handed on as it arrives (Content-Length, chunked or
// delimited by the close), bounded by three clocks — connect, first byte, idle between bytes — and
// paused while the client it feeds reads slowly (flow control: the socket's buffer is bounded, so
// the kernel holds the rest and TCP slows the upstream down).
//
// Not QNetworkAccessManager: Qt 6.4's opens at most six connections per host (the knob came in
// 6.5), which would queue the seventh concurrent stream behind a six-minute answer; and its
// buffering is not ours to bound. Connections are kept alive and reused per thread
// (UpstreamPool); a call on a reused connection that the upstream had closed meanwhile is sent
// again once on a fresh one, when nothing of its answer came.
//
// One thread: a call, its pool and their sockets live on the thread that made them (an HTTP thread).
#pragma once

#include "door/layer.h"

#include "http/httpparser.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>
#include <functional>
#include <unordered_map>
#include <vector>

class QTcpSocket;

namespace sluice {

struct UpstreamTimeouts
{
    int connectMs = 5000;    // the TCP connection
    int firstByteMs = 60000; // from the request sent to the answer's first byte (a model's queue and prefill)
    int idleMs = 60000;      // between two reads of the answer (a stalled stream)
};

// Idle keep-alive connections of one thread, per host:port. A connection that says anything or
// closes while idle is dropped.
class UpstreamPool : public QObject
{
public:
    static constexpr int kMaxIdlePerHost = 64;
    explicit UpstreamPool(QObject *parent = nullptr) : QObject(parent) {}
    ~UpstreamPool() override;
    QTcpSocket *take(const QString &host, quint16 port);
    void give(const QString &host, quint16 port, QTcpSocket *socket);
    int idleCount() const;

private:
    std::unordered_map<QString, std::vector<QTcpSocket *>> m_idle;
};

class UpstreamCall : public QObject
{
public:
    enum class Failure {
        Connect,          // refused, unreachable
        ConnectTimeout,
        FirstByteTimeout,
        IdleTimeout,
        Closed,           // the upstream closed before its answer was whole
        Protocol,         // not HTTP, or a framing error
        TooLarge,         // an answer head above kMaxHeadBytes
    };
    static constexpr qsizetype kMaxHeadBytes = 64 * 1024;
    static constexpr qint64 kReadBufferBytes = 64 * 1024;

    struct Head
    {
        int status = 0;
        HttpHeaders headers; // names lower-case
        QByteArray header(const QByteArray &lowerName) const;
    };

    UpstreamCall(UpstreamPool *pool, QObject *parent = nullptr);
    ~UpstreamCall() override;

    // Callbacks, on this thread; after abort() none runs. onEnd or onFailure ends a call.
    std::function<void(const Head &)> onHead;
    std::function<void(const QByteArray &)> onBody; // the body's bytes (transfer coding removed)
    std::function<void()> onEnd;
    std::function<void(Failure, const QString &)> onFailure;

    // url: http://host:port/path (https is not spoken here: a TLS sidecar in front of the upstream).
    void start(const QUrl &url, const QByteArray &method, const HttpHeaders &headers, const QByteArray &body,
               UpstreamTimeouts timeouts);
    // Reads nothing while paused. The idle clock still runs (a client that takes none of the
    // answer for the idle time ends the call with IdleTimeout) and starts again on resuming.
    void setPaused(bool paused);
    // Ends the call without a further callback (the client left; or from inside a callback): the
    // connection is closed, not reused.
    void abort();
    bool gotFirstByte() const { return m_gotBytes; }
    // The request has been handed to a connected socket (the upstream may be working on it).
    bool requestSent() const { return m_sent; }
    qint64 elapsedMs() const { return m_elapsed.elapsed(); }
    qint64 firstByteMs() const { return m_firstByteMs; }

    static QString describe(Failure failure);

private:
    void connectSocket(bool reuse);
    void sendRequest();
    void onReadyRead();
    void onDisconnected();
    void onSocketError();
    void onTimeout();
    void fail(Failure failure, const QString &message);
    void finish();
    void detachSocket(bool keep);
    bool parseHead();
    bool parseBody();
    void armClock(int ms);

    enum class Phase { Idle, Connecting, Waiting, Head, Body, Done };
    enum class Framing { Length, Chunked, UntilClose, None };
    enum class ChunkState { Size, Data, DataEnd, Trailer };

    QPointer<UpstreamPool> m_pool;
    QTcpSocket *m_socket = nullptr;
    QTimer m_clock;
    QElapsedTimer m_elapsed;
    qint64 m_firstByteMs = -1;
    qint64 m_lastReadMs = 0;     // (m_elapsed) the idle clock runs from here
    UpstreamTimeouts m_timeouts;
    QString m_host;
    quint16 m_port = 0;
    QByteArray m_request;
    Phase m_phase = Phase::Idle;
    Framing m_framing = Framing::None;
    ChunkState m_chunkState = ChunkState::Size;
    qint64 m_left = 0;           // of the body (Length) or of the chunk (Chunked/Data)
    QByteArray m_buffer;         // read and not consumed yet
    bool m_reused = false;       // the connection came from the pool
    bool m_retried = false;
    bool m_gotBytes = false;
    bool m_sent = false;
    bool m_paused = false;
    bool m_upstreamClosed = false; // its end of the connection is closed (what it sent may still be unread)
    bool m_keepAlive = true;
    bool m_headRequest = false;
};

} // namespace sluice
