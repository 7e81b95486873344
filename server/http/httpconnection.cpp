// SPDX-License-Identifier: Apache-2.0
#include "http/httpconnection.h"

#include "apipaths.h"
#include "http/httpapi.h"
#include "http/httpresponder.h"

#include <QTcpSocket>
#include <QUrl>
#include <sys/socket.h>

namespace sluice {

HttpConnection::HttpConnection(QTcpSocket *socket, HttpApi *api, ConnectionTimeouts timeouts)
    : QObject(socket), m_socket(socket), m_api(api), m_timeouts(timeouts), m_parser(api::kMaxBodyBytes)
{
    // Qt reads no more than this ahead of us; while a request waits for its answer, the rest
    // waits in the kernel (TCP flow control), not in memory.
    socket->setReadBufferSize(kReadBufferBytes);
    m_clock.setSingleShot(true);
    connect(&m_clock, &QTimer::timeout, this, &HttpConnection::onTimeout);
    connect(socket, &QTcpSocket::readyRead, this, &HttpConnection::onReadyRead);
    connect(socket, &QTcpSocket::bytesWritten, this, &HttpConnection::onBytesWritten);
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    armClock();
}

bool HttpConnection::isOpen() const
{
    return m_socket->state() == QAbstractSocket::ConnectedState && m_mode != Mode::Closing;
}

void HttpConnection::armClock()
{
    if (m_mode != Mode::Reading)
        return m_clock.stop();
    // A request under way runs on the request clock from its first byte; between requests the
    // idle clock runs from the end of the last one (more empty lines do not restart it).
    if (m_parser.inRequest()) {
        if (!m_clock.isActive() || m_clock.interval() != m_timeouts.requestMs)
            m_clock.start(m_timeouts.requestMs);
    } else if (!m_clock.isActive() || m_clock.interval() != m_timeouts.idleMs) {
        m_clock.start(m_timeouts.idleMs);
    }
}

void HttpConnection::onTimeout()
{
    if (m_mode == Mode::Closing)
        return m_socket->abort(); // lingered long enough
    if (m_mode != Mode::Reading)
        return;
    if (m_parser.inRequest())
        return refuse(ApiError(408, QStringLiteral("request_timeout"),
                               QStringLiteral("the request was not complete within %1 ms").arg(m_timeouts.requestMs)));
    m_mode = Mode::Closing;
    m_socket->disconnectFromHost(); // an idle keep-alive connection
}

void HttpConnection::discardInput()
{
    m_socket->skip(m_socket->bytesAvailable());
}

void HttpConnection::onReadyRead()
{
    switch (m_mode) {
    case Mode::Reading: return drive();
    case Mode::Answering: return; // read after the answer: the bytes wait (bounded) where they are
    case Mode::Streaming:
    case Mode::Closing: return discardInput();
    }
}

void HttpConnection::drive()
{
    if (m_driving)
        return;
    m_driving = true;
    while (m_mode == Mode::Reading && m_socket->bytesToWrite() <= kMaxUnsentBytes) {
        // Straight from Qt's buffer into the parser's, no more than one request's worth held.
        const qint64 room = kMaxHeldBytes - m_parser.buffered();
        const qint64 available = m_socket->bytesAvailable();
        if (room > 0 && available > 0) {
            const qint64 n = std::min(room, available);
            char *to = m_parser.reserve(n);
            m_parser.commit(m_socket->read(to, n));
        }
        ParsedRequest parsed;
        const HttpRequestParser::Step step = m_parser.next(&parsed);
        if (step == HttpRequestParser::Step::Refused) {
            refuse(*m_parser.refusal());
            break;
        }
        if (step == HttpRequestParser::Step::NeedMore) {
            if (m_parser.awaitsContinue() && !m_continued) {
                m_continued = true;
                m_socket->write("HTTP/1.1 100 Continue\r\n\r\n");
            }
            // More bytes may be waiting than were taken (room), but then the parser holds a
            // whole request's worth and has said what it makes of it.
            if (available > room && room > 0)
                continue;
            armClock();
            break;
        }
        m_continued = false;
        m_mode = Mode::Answering;
        m_clock.stop();
        dispatch(std::move(parsed)); // an answer made at once sets m_mode back to Reading
    }
    m_driving = false;
    if (m_socket->bytesToWrite() > 0)
        m_socket->flush(); // the answers of this turn in one write, now (not at the next turn)
}

void HttpConnection::dispatch(ParsedRequest &&parsed)
{
    HttpRequest r;
    r.method = std::move(parsed.method);
    if (parsed.target.startsWith('/')) {
        // Origin form: the path is what comes before '?', whatever it looks like ("//x/admin" is a
        // path, not an authority and a path, as QUrl would read it).
        const qsizetype q = parsed.target.indexOf('?');
        r.path = QUrl::fromPercentEncoding(q < 0 ? parsed.target : parsed.target.left(q));
        r.query = QUrlQuery(q < 0 ? QString() : QString::fromUtf8(parsed.target.mid(q + 1)));
    } else {
        const QUrl url = QUrl::fromEncoded(parsed.target); // absolute form (or "*")
        r.path = url.path();
        r.query = QUrlQuery(url);
    }
    r.body = std::move(parsed.body);
    r.headers = std::move(parsed.headers);
    r.peer = m_socket->peerAddress();
    const HttpResponder::Framing framing = !parsed.keepAlive ? HttpResponder::Framing::Close
                                           : parsed.minorVersion == 0 ? HttpResponder::Framing::KeepAlive10
                                                                      : HttpResponder::Framing::KeepAlive;
    m_api->dispatch(r, HttpResponder(this, ++m_serial, framing, r.method == "HEAD"));
}

void HttpConnection::answer(quint64 serial, const QByteArray &bytes, bool close)
{
    if (serial != m_serial || m_mode != Mode::Answering)
        return;
    m_socket->write(bytes);
    if (close)
        return this->close();
    m_mode = Mode::Reading;
    if (m_driving)
        return; // drive() goes on with the next request and writes once at the end
    m_socket->flush();
    // Answered later (a store's callback): a pipelined request that waited goes next, from the
    // event loop (not inside the store's callback).
    if (m_parser.buffered() > 0 || m_socket->bytesAvailable() > 0)
        driveLater();
    else
        armClock();
}

bool HttpConnection::beginStream(quint64 serial, const QByteArray &head)
{
    if (serial != m_serial || m_mode != Mode::Answering || m_socket->state() != QAbstractSocket::ConnectedState)
        return false;
    m_mode = Mode::Streaming;
    m_clock.stop();
    discardInput();
    m_socket->write(head);
    m_socket->flush();
    return true;
}

bool HttpConnection::writeStream(const QByteArray &chunk)
{
    if (m_mode != Mode::Streaming || m_socket->state() != QAbstractSocket::ConnectedState)
        return false;
    if (m_socket->bytesToWrite() > kMaxUnsentStreamBytes) {
        m_socket->abort(); // it reads slower than events come: gone, rather than held in memory
        return false;
    }
    m_socket->write(chunk);
    return true;
}

void HttpConnection::refuse(const ApiError &error)
{
    m_socket->write(buildHttpResponse(error.status(), "application/json", error.toJson(), {}, HttpResponder::Framing::Close));
    close();
}

void HttpConnection::close()
{
    m_mode = Mode::Closing;
    discardInput();
    m_socket->flush();
    onBytesWritten();
    // The answer, then the linger, within kLingerMs: a client that reads nothing cannot hold the socket.
    m_clock.start(kLingerMs);
}

void HttpConnection::onBytesWritten()
{
    if (m_mode == Mode::Closing) {
        if (m_sendingShutDown || m_socket->bytesToWrite() > 0 || m_socket->state() != QAbstractSocket::ConnectedState)
            return;
        m_sendingShutDown = true;
        ::shutdown(static_cast<int>(m_socket->socketDescriptor()), SHUT_WR); // the client reads the answer, then EOF
        return;
    }
    // Answers went out: requests that waited behind them may go on (from the event loop: this
    // runs inside flush() too).
    if (m_mode == Mode::Reading && m_socket->bytesToWrite() <= kMaxUnsentBytes
        && (m_parser.buffered() > 0 || m_socket->bytesAvailable() > 0))
        driveLater();
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
