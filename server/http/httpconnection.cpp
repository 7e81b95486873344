// SPDX-License-Identifier: Apache-2.0
#include "http/httpconnection.h"

#include "apipaths.h"
#include "http/httpapi.h"
#include "http/httpresponder.h"

#include <QUrl>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace sluice {

HttpConnection::HttpConnection(qintptr fd, HttpApi *api, ConnectionLimits limits, ConnectionPoller *poller, QObject *parent)
    : QObject(parent),
      m_fd(static_cast<int>(fd)),
      m_poller(poller),
      m_api(api),
      m_limits(limits),
      m_parser(api::kMaxBodyBytes),
      m_maxHeld(kMaxHeldBytes)
{
    if (m_limits.largeBodyBytes > 0 && !m_limits.largeBodyPrefix.isEmpty()) {
        m_parser.setLargeBodies(m_limits.largeBodyPrefix, m_limits.largeBodyBytes);
        m_maxHeld = std::max<qsizetype>(kMaxHeldBytes, m_limits.largeBodyBytes + HttpRequestParser::kMaxRequestLineBytes
                                                           + HttpRequestParser::kMaxHeaderBytes);
    }
    const int flags = ::fcntl(m_fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK))
        ::fcntl(m_fd, F_SETFL, flags | O_NONBLOCK);
    const int one = 1;
    ::setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (::getpeername(m_fd, reinterpret_cast<sockaddr *>(&peer), &length) == 0)
        m_peer.setAddress(reinterpret_cast<const sockaddr *>(&peer));
    watch(true, false);
    m_clock.setSingleShot(true);
    connect(&m_clock, &QTimer::timeout, this, &HttpConnection::onTimeout);
    armClock();
}

HttpConnection::~HttpConnection()
{
    // The poller stops watching before the descriptor goes (a reused number must not wake it).
    if (m_fd >= 0) {
        watch(false, false);
        ::close(m_fd);
    }
    m_poller->forget(this);
}

void HttpConnection::watch(bool read, bool write)
{
    const bool inSet = m_watchRead || m_watchWrite;
    if (m_poller->watch(m_fd, this, read, write, m_watchRead, m_watchWrite)) {
        m_watchRead = read;
        m_watchWrite = write;
        return;
    }
    if (!read && !write)
        return; // (leaving the set failed: the descriptor is closed next, which leaves it too)
    // Not watched, never woken: given up rather than left to its idle timeout. A refused change
    // leaves the socket in the set with its old interest: it leaves it first.
    if (inSet)
        m_poller->watch(m_fd, this, false, false, m_watchRead, m_watchWrite);
    m_watchRead = m_watchWrite = false;
    abort();
}

void HttpConnection::socketReadable()
{
    if (m_fd >= 0 && m_watchRead)
        onReadable();
}

void HttpConnection::socketWritable()
{
    if (m_fd >= 0 && m_watchWrite)
        onWritable();
}

bool HttpConnection::isOpen() const
{
    return m_fd >= 0 && m_mode != Mode::Closing;
}

namespace {

qint64 monotonicMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace

void HttpConnection::armClock()
{
    if (m_mode != Mode::Reading) {
        m_clockKind = Clock::None; // (a timer still due finds nothing to do)
        return;
    }
    // A request under way runs on the request clock from its first byte; between requests the
    // idle clock runs from the end of the last one (more empty lines do not restart it).
    const Clock kind = m_parser.inRequest() ? Clock::Request : Clock::Idle;
    if (kind == m_clockKind)
        return;
    m_clockKind = kind;
    const int ms = kind == Clock::Request ? m_limits.requestMs : m_limits.idleMs;
    m_deadlineMs = monotonicMs() + ms;
    // The timer is restarted only when it would fire too late: a keep-alive connection's requests
    // move the deadline, and the timer, when it fires early, waits for what is left (a timer
    // restarted per request cost more than parsing the request).
    if (!m_clock.isActive() || m_timerDueMs > m_deadlineMs) {
        m_clock.start(ms);
        m_timerDueMs = m_deadlineMs;
    }
}

void HttpConnection::onTimeout()
{
    if (m_mode == Mode::Closing)
        return abort(); // lingered long enough
    if (m_mode != Mode::Reading || m_clockKind == Clock::None)
        return;
    const qint64 left = m_deadlineMs - monotonicMs();
    if (left > 0) {
        m_clock.start(static_cast<int>(left));
        m_timerDueMs = m_deadlineMs;
        return;
    }
    if (m_parser.inRequest())
        return refuse(ApiError(408, QStringLiteral("request_timeout"),
                               QStringLiteral("the request was not complete within %1 ms").arg(m_limits.requestMs)));
    close(); // an idle keep-alive connection
}

void HttpConnection::updateWatch()
{
    if (m_fd < 0)
        return;
    // Read while a request may come (and its answers before it have mostly gone), or to drop what
    // comes and see the end while streaming or closing; write while the kernel refused some.
    // While an answer is awaited (a store's reply), the watch stays until the socket says bytes
    // came (a pipelining client: they wait in the kernel): a watch dropped and set again around
    // every awaited answer would cost two epoll_ctl calls per request.
    const bool read = !m_eof
                      && (m_mode == Mode::Streaming || m_mode == Mode::Closing || (m_mode == Mode::Relaying && !m_relayHeld)
                          || (m_mode == Mode::Answering && !m_readable)
                          || (m_mode == Mode::Reading && unsent() <= kMaxUnsentBytes && m_parser.buffered() < m_maxHeld));
    watch(read, unsent() > 0);
}

void HttpConnection::onReadable()
{
    m_readable = true;
    switch (m_mode) {
    case Mode::Reading: return drive();
    case Mode::Answering: return updateWatch(); // the bytes wait in the kernel
    case Mode::Relaying: return watchRelayedClient();
    case Mode::Streaming:
    case Mode::Closing: return discardInput();
    }
}

void HttpConnection::discardInput()
{
    char sink[16 * 1024];
    while (m_fd >= 0 && m_readable && !m_eof) {
        const ssize_t n = ::recv(m_fd, sink, sizeof sink, 0);
        if (n > 0) {
            m_readable = n == static_cast<ssize_t>(sizeof sink) || m_ended;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        m_readable = false;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        m_eof = true; // the client is gone, or done sending
    }
    if (m_fd < 0)
        return;
    // A stream ends with its client; a lingering close is over once the answer has gone.
    if (m_eof && (m_mode == Mode::Streaming || (m_mode == Mode::Closing && m_sendingShutDown)))
        return abort();
    updateWatch();
}

void HttpConnection::drive()
{
    if (m_driving || m_fd < 0)
        return;
    m_driving = true;
    while (m_mode == Mode::Reading && unsent() <= kMaxUnsentBytes) {
        // Straight from the kernel into the parser's buffer, no more than one request's worth held.
        // (Through a chunk on the stack: the parser's buffer grows only to what came, not to the
        // most it may hold, so an idle connection keeps a request's worth of memory, not 64 KiB.)
        const qsizetype room = m_maxHeld - m_parser.buffered();
        if (m_readable && !m_eof && room > 0) {
            char chunk[16 * 1024];
            const size_t want = static_cast<size_t>(std::min<qsizetype>(room, sizeof chunk));
            const ssize_t n = ::recv(m_fd, chunk, want, 0);
            const int error = errno;
            if (n > 0) {
                m_parser.append(chunk, n);
                m_needBytes = false;
                // Less than asked for: the kernel had no more (unless its end is still to come).
                m_readable = static_cast<size_t>(n) == want || m_ended;
            } else if (n == 0) {
                m_readable = false;
                m_eof = true; // a half-close: what came before it is still answered
            } else if (error == EAGAIN || error == EWOULDBLOCK) {
                m_readable = false;
            } else if (error != EINTR) {
                m_driving = false;
                return abort(); // reset by the client
            }
        }
        ParsedRequest parsed;
        const HttpRequestParser::Step step = m_parser.next(&parsed);
        if (step == HttpRequestParser::Step::Refused) {
            refuse(*m_parser.refusal());
            break;
        }
        if (step == HttpRequestParser::Step::NeedMore) {
            if (m_eof) {
                // Nothing more will come: an unfinished request is dropped, and the connection
                // closes once the answers before it have gone.
                close();
                break;
            }
            if (m_parser.awaitsContinue() && !m_continued) {
                m_continued = true;
                write("HTTP/1.1 100 Continue\r\n\r\n");
            }
            // More bytes may wait than there was room for, but then the parser holds a whole
            // request's worth and has said what it makes of it.
            if (m_readable && room > 0)
                continue;
            m_needBytes = true; // nothing to do until the socket says more came
            armClock();
            break;
        }
        m_continued = false;
        m_needBytes = false;
        m_mode = Mode::Answering;
        m_clockKind = Clock::None; // (answering is not idle: the clock starts again after the answer)
        dispatch(std::move(parsed)); // an answer made at once sets m_mode back to Reading
    }
    m_driving = false;
    // (Stopped on answers the client has not taken: the clock still runs, or a client that reads
    // nothing would hold the connection for ever.)
    if (m_mode == Mode::Reading)
        armClock();
    flushOut(); // the answers of this turn in one write, now (not at the next turn)
}

void HttpConnection::dispatch(ParsedRequest &&parsed)
{
    HttpRequest r{std::move(parsed.method), QString(), QString(), QUrlQuery(), QByteArray(), HttpHeaders(), m_peer};
    if (parsed.target.startsWith('/')) {
        // Origin form: the path is what comes before '?', whatever it looks like ("//x/admin" is a
        // path, not an authority and a path, as QUrl would read it).
        const qsizetype q = parsed.target.indexOf('?');
        const QByteArrayView path = QByteArrayView(parsed.target).first(q < 0 ? parsed.target.size() : q);
        // (No '%' and nothing beyond ASCII, as every route's path: the bytes are the path.)
        const bool plain = std::all_of(path.begin(), path.end(), [](char c) { return c != '%' && static_cast<unsigned char>(c) < 0x80; });
        if (!plain) {
            r.path = QUrl::fromPercentEncoding(path.toByteArray());
        } else if (path == QByteArrayView(m_lastPath)) {
            r.path = m_lastPathText; // (a keep-alive client's next request to the same route: shared)
        } else {
            r.path = QString::fromLatin1(path);
            m_lastPath = path.toByteArray();
            m_lastPathText = r.path;
        }
        if (q >= 0)
            r.query = QUrlQuery(QString::fromUtf8(parsed.target.mid(q + 1)));
    } else {
        const QUrl url = QUrl::fromEncoded(parsed.target); // absolute form (or "*")
        r.path = url.path();
        r.query = QUrlQuery(url);
    }
    r.body = std::move(parsed.body);
    r.headers = std::move(parsed.headers);
    const HttpResponder::Framing framing = !parsed.keepAlive ? HttpResponder::Framing::Close
                                           : parsed.minorVersion == 0 ? HttpResponder::Framing::KeepAlive10
                                                                      : HttpResponder::Framing::KeepAlive;
    m_api->dispatch(r, HttpResponder(this, ++m_serial, framing, r.method == "HEAD", parsed.minorVersion == 0));
}

void HttpConnection::answer(quint64 serial, const QByteArray &bytes, bool close)
{
    deliver(serial, &bytes, bytes, close);
}

void HttpConnection::answer(quint64 serial, QByteArrayView bytes, bool close)
{
    deliver(serial, nullptr, bytes, close);
}

void HttpConnection::deliver(quint64 serial, const QByteArray *shared, QByteArrayView bytes, bool close)
{
    if (serial != m_serial || (m_mode != Mode::Answering && m_mode != Mode::Relaying) || m_fd < 0)
        return;
    if (m_mode == Mode::Relaying) {
        m_drained = nullptr;
        if (m_relayHeld) {
            m_relayHeld = false;
            m_readable = true; // the pipelined request that waited in the kernel
        }
    }
    // Nothing before it waits to go and no request after it is at hand (pipelined answers leave
    // together, in one write at the end of the turn): to the kernel at once, from the caller's
    // buffer; what the kernel does not take waits in m_out (a failure is flushOut's to see).
    if (unsent() == 0 && !m_readable && m_parser.buffered() == 0 && !bytes.isEmpty()) {
        const ssize_t n = ::send(m_fd, bytes.data(), static_cast<size_t>(bytes.size()), MSG_NOSIGNAL);
        if (n > 0) {
            bytes = bytes.sliced(n);
            shared = nullptr;
        }
    }
    if (shared)
        write(*shared); // (shared, not copied)
    else if (!bytes.isEmpty())
        m_out.append(bytes.data(), bytes.size());
    if (close)
        return this->close();
    m_mode = Mode::Reading;
    if (m_driving)
        return; // drive() goes on with the next request and writes once at the end
    flushOut();
    if (m_fd < 0 || m_mode != Mode::Reading)
        return;
    // Answered later (a store's callback): a pipelined request that waited goes next, from the
    // event loop (not inside the store's callback).
    if (moreToDo())
        driveLater();
    else
        armClock();
}

bool HttpConnection::moreToDo() const
{
    // Bytes the kernel may hold, the end to act on, or a request the parser holds whole (a part
    // of one waits for the read notifier: driving it again would spin).
    return m_readable || m_eof || (m_parser.buffered() > 0 && !m_needBytes);
}

bool HttpConnection::beginStream(quint64 serial, const QByteArray &head)
{
    if (serial != m_serial || m_mode != Mode::Answering || m_fd < 0)
        return false;
    m_mode = Mode::Streaming;
    m_clock.stop();
    discardInput();
    if (m_fd < 0)
        return false;
    write(head);
    flushOut();
    return m_fd >= 0;
}

bool HttpConnection::writeStream(const QByteArray &chunk)
{
    if (m_mode != Mode::Streaming || m_fd < 0)
        return false;
    if (unsent() > kMaxUnsentStreamBytes) {
        abort(); // it reads slower than events come: gone, rather than held in memory
        return false;
    }
    write(chunk);
    flushOut();
    return m_fd >= 0;
}

bool HttpConnection::beginRelay(quint64 serial, const QByteArray &head)
{
    if (serial != m_serial || m_mode != Mode::Answering || m_fd < 0)
        return false;
    m_mode = Mode::Relaying;
    if (!head.isEmpty()) {
        write(head);
        flushOut();
    } else {
        updateWatch();
    }
    return m_fd >= 0;
}

bool HttpConnection::writeRelay(const QByteArray &bytes)
{
    if (m_mode != Mode::Relaying || m_fd < 0)
        return false;
    write(bytes);
    flushOut();
    return m_fd >= 0;
}

void HttpConnection::whenDrained(std::function<void()> drained)
{
    m_drained = std::move(drained);
    if (unsent() == 0)
        afterFlush();
}

void HttpConnection::watchRelayedClient()
{
    // A look without taking: the end (or a reset) means the client left; bytes mean it pipelined
    // its next request, which waits in the kernel until this answer has ended.
    char byte;
    const ssize_t n = ::recv(m_fd, &byte, 1, MSG_PEEK);
    if (n > 0) {
        m_relayHeld = true;
        m_readable = true;
        return updateWatch();
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    abort(); // gone: whoever relays learns it from this connection's destruction
}

void HttpConnection::refuse(const ApiError &error)
{
    write(buildHttpResponse(error.status(), "application/json", error.toJson(), {}, HttpResponder::Framing::Close));
    close();
}

void HttpConnection::write(const QByteArray &bytes)
{
    if (m_outPos == m_out.size()) {
        m_out = bytes; // (shared, not copied)
        m_outPos = 0;
    } else {
        m_out.append(bytes);
    }
}

void HttpConnection::flushOut()
{
    while (m_fd >= 0 && unsent() > 0) {
        const ssize_t n = ::send(m_fd, m_out.constData() + m_outPos, static_cast<size_t>(unsent()), MSG_NOSIGNAL);
        if (n > 0) {
            m_outPos += n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break; // the kernel's buffer is full: the write notifier says when it has room
        return abort(); // the client is gone
    }
    if (m_fd < 0)
        return;
    if (unsent() == 0) {
        m_out.clear();
        m_outPos = 0;
    } else if (m_outPos >= 64 * 1024) {
        m_out.remove(0, m_outPos); // (what is left of a large backlog moves to the front)
        m_outPos = 0;
    }
    afterFlush();
}

void HttpConnection::onWritable()
{
    flushOut();
}

void HttpConnection::afterFlush()
{
    if (m_mode == Mode::Closing) {
        if (!m_sendingShutDown && unsent() == 0) {
            m_sendingShutDown = true;
            ::shutdown(m_fd, SHUT_WR); // the client reads the answer, then EOF
            if (m_eof)
                return abort(); // and it had already said it was done
        }
    } else if (m_mode == Mode::Relaying && unsent() == 0 && m_drained) {
        // Once, queued: the relay writes again, which flushes, which would come back here.
        QMetaObject::invokeMethod(this, [drained = std::exchange(m_drained, nullptr)] { drained(); }, Qt::QueuedConnection);
    } else if (m_mode == Mode::Reading && !m_driving && unsent() <= kMaxUnsentBytes) {
        // Answers went out: requests that waited behind them go on (from the event loop).
        if (moreToDo())
            driveLater();
        else
            armClock();
    }
    updateWatch();
}

void HttpConnection::close()
{
    if (m_fd < 0 || m_mode == Mode::Closing)
        return;
    m_mode = Mode::Closing;
    // The answer, then the linger, within kLingerMs: a client that reads nothing cannot hold the socket.
    m_clock.start(kLingerMs);
    if (!m_driving)
        flushOut(); // (inside drive(), its own flush at the end sends it)
    discardInput();
}

void HttpConnection::abort()
{
    if (m_fd < 0)
        return;
    watch(false, false);
    ::close(m_fd);
    m_fd = -1;
    m_mode = Mode::Closing;
    m_clock.stop();
    m_out.clear();
    m_outPos = 0;
    deleteLater();
}

void HttpConnection::driveLater()
{
    if (m_drivePosted)
        return;
    m_drivePosted = true;
    QMetaObject::invokeMethod(this, [this] {
        m_drivePosted = false;
        drive();
    }, Qt::QueuedConnection);
}

} // namespace sluice
