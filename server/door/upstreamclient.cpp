// SPDX-License-Identifier: Apache-2.0
#include "door/upstreamclient.h"

#include <QTcpSocket>
#include <algorithm>

namespace sluice {

namespace {

QString hostKey(const QString &host, quint16 port)
{
    return host + QLatin1Char(':') + QString::number(port);
}

} // namespace

UpstreamPool::~UpstreamPool()
{
    for (auto &entry : m_idle)
        for (QTcpSocket *socket : entry.second)
            delete socket;
}

QTcpSocket *UpstreamPool::take(const QString &host, quint16 port)
{
    auto it = m_idle.find(hostKey(host, port));
    while (it != m_idle.end() && !it->second.empty()) {
        QTcpSocket *socket = it->second.back(); // the most recently used: the least likely closed
        it->second.pop_back();
        socket->disconnect(this);
        if (socket->state() == QAbstractSocket::ConnectedState && socket->bytesAvailable() == 0)
            return socket;
        socket->deleteLater();
    }
    return nullptr;
}

void UpstreamPool::give(const QString &host, quint16 port, QTcpSocket *socket)
{
    std::vector<QTcpSocket *> &idle = m_idle[hostKey(host, port)];
    if (static_cast<int>(idle.size()) >= kMaxIdlePerHost || socket->state() != QAbstractSocket::ConnectedState) {
        socket->deleteLater();
        return;
    }
    socket->setParent(this);
    idle.push_back(socket);
    // Idle, an upstream says nothing: anything (or the close) means the connection is done for.
    auto drop = [this, socket, key = hostKey(host, port)] {
        auto it = m_idle.find(key);
        if (it == m_idle.end())
            return;
        auto pos = std::find(it->second.begin(), it->second.end(), socket);
        if (pos == it->second.end())
            return;
        it->second.erase(pos);
        socket->disconnect(this);
        socket->deleteLater();
    };
    connect(socket, &QTcpSocket::readyRead, this, drop);
    connect(socket, &QTcpSocket::disconnected, this, drop);
    connect(socket, &QTcpSocket::errorOccurred, this, drop);
}

int UpstreamPool::idleCount() const
{
    int n = 0;
    for (const auto &entry : m_idle)
        n += static_cast<int>(entry.second.size());
    return n;
}

QByteArray UpstreamCall::Head::header(const QByteArray &lowerName) const
{
    return findHeader(headers, lowerName);
}

UpstreamCall::UpstreamCall(UpstreamPool *pool, QObject *parent) : QObject(parent), m_pool(pool)
{
    m_clock.setSingleShot(true);
    connect(&m_clock, &QTimer::timeout, this, &UpstreamCall::onTimeout);
}

UpstreamCall::~UpstreamCall()
{
    detachSocket(false);
}

QString UpstreamCall::describe(Failure failure)
{
    switch (failure) {
    case Failure::Connect: return QStringLiteral("cannot connect");
    case Failure::ConnectTimeout: return QStringLiteral("connect timed out");
    case Failure::FirstByteTimeout: return QStringLiteral("no answer in time");
    case Failure::IdleTimeout: return QStringLiteral("the answer stalled");
    case Failure::Closed: return QStringLiteral("closed before the answer was whole");
    case Failure::Protocol: return QStringLiteral("not a valid HTTP answer");
    case Failure::TooLarge: return QStringLiteral("the answer's head is too large");
    }
    return QString();
}

void UpstreamCall::start(const QUrl &url, const QByteArray &method, const HttpHeaders &headers, const QByteArray &body,
                         UpstreamTimeouts timeouts)
{
    m_timeouts = timeouts;
    m_host = url.host();
    m_port = static_cast<quint16>(url.port(80));
    m_headRequest = method == "HEAD";
    QByteArray target = url.path(QUrl::FullyEncoded).toUtf8();
    if (target.isEmpty())
        target = "/";
    if (url.hasQuery())
        target += '?' + url.query(QUrl::FullyEncoded).toUtf8();
    m_request.reserve(256 + body.size());
    m_request = method + ' ' + target + " HTTP/1.1\r\nHost: " + url.authority(QUrl::FullyEncoded).toUtf8() + "\r\n";
    for (const auto &h : headers)
        m_request += h.first + ": " + h.second + "\r\n";
    m_request += "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n";
    m_request += body;
    m_elapsed.start();
    QTcpSocket *reused = m_pool ? m_pool->take(m_host, m_port) : nullptr;
    if (reused) {
        m_socket = reused;
        m_socket->setParent(this);
        m_reused = true;
        connectSocket(true);
        sendRequest();
    } else {
        connectSocket(false);
    }
}

void UpstreamCall::connectSocket(bool reuse)
{
    if (!reuse) {
        m_socket = new QTcpSocket(this);
        m_reused = false;
    }
    m_socket->setReadBufferSize(kReadBufferBytes);
    connect(m_socket, &QTcpSocket::readyRead, this, &UpstreamCall::onReadyRead);
    connect(m_socket, &QTcpSocket::disconnected, this, &UpstreamCall::onDisconnected);
    connect(m_socket, &QTcpSocket::errorOccurred, this, &UpstreamCall::onSocketError);
    if (!reuse) {
        connect(m_socket, &QTcpSocket::connected, this, &UpstreamCall::sendRequest);
        m_phase = Phase::Connecting;
        armClock(m_timeouts.connectMs);
        m_socket->connectToHost(m_host, m_port);
    }
}

void UpstreamCall::sendRequest()
{
    if (!m_socket)
        return;
    m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_phase = Phase::Waiting;
    armClock(m_timeouts.firstByteMs);
    m_socket->write(m_request);
    m_sent = true;
}

void UpstreamCall::armClock(int ms)
{
    m_clock.start(std::max(1, ms));
}

void UpstreamCall::setPaused(bool paused)
{
    if (m_paused == paused)
        return;
    m_paused = paused;
    if (paused)
        return;
    // The pause was the client's, not a stall of the upstream: the idle clock starts again.
    m_lastReadMs = m_elapsed.elapsed();
    if (m_socket && (m_upstreamClosed || m_socket->bytesAvailable() > 0 || !m_buffer.isEmpty()))
        QMetaObject::invokeMethod(this, &UpstreamCall::onReadyRead, Qt::QueuedConnection);
}

void UpstreamCall::onReadyRead()
{
    if (!m_socket || m_paused || m_phase == Phase::Done)
        return;
    const QByteArray bytes = m_socket->readAll();
    if (!bytes.isEmpty()) {
        if (!m_gotBytes) {
            m_gotBytes = true;
            m_firstByteMs = m_elapsed.elapsed();
        }
        m_buffer += bytes;
        // The idle clock from this read: not restarted per read (a timer per token costs more than
        // the token); when it fires early it waits for what is left (onTimeout).
        m_lastReadMs = m_elapsed.elapsed();
        if (m_phase == Phase::Waiting)
            armClock(m_timeouts.idleMs);
    }
    if (m_phase == Phase::Waiting)
        m_phase = Phase::Head;
    if (m_phase == Phase::Head)
        parseHead(); // (may end the call: a bad head)
    if (m_phase == Phase::Body)
        parseBody();
    // The upstream has closed and everything it sent is parsed: the close ends the answer (one
    // delimited by it), or cuts it.
    if (m_upstreamClosed && !m_paused && m_phase != Phase::Done && m_socket && m_socket->bytesAvailable() == 0) {
        if (m_phase == Phase::Body && m_framing == Framing::UntilClose && m_buffer.isEmpty()) {
            m_keepAlive = false;
            finish();
        } else {
            fail(Failure::Closed, QStringLiteral("the upstream closed the connection before the answer was whole"));
        }
    }
}

bool UpstreamCall::parseHead()
{
    // (1xx interim answers are skipped: the final one follows.)
    for (;;) {
        const qsizetype end = m_buffer.indexOf("\r\n\r\n");
        if (end < 0) {
            if (m_buffer.size() > kMaxHeadBytes)
                fail(Failure::TooLarge, QStringLiteral("more than %1 bytes without the end of the head").arg(kMaxHeadBytes));
            return false;
        }
        const QList<QByteArray> lines = m_buffer.left(end).split('\n');
        m_buffer.remove(0, end + 4);
        const QByteArray status = lines.first().trimmed();
        if (!status.startsWith("HTTP/1.") || status.size() < 12 || status.at(8) != ' ') {
            fail(Failure::Protocol, QStringLiteral("the answer does not start with an HTTP/1.x status line"));
            return false;
        }
        bool ok = false;
        const int code = status.mid(9, 3).toInt(&ok);
        if (!ok || code < 100 || code > 599) {
            fail(Failure::Protocol, QStringLiteral("the status code is not a number"));
            return false;
        }
        Head head;
        head.status = code;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines.at(i).trimmed();
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0) {
                fail(Failure::Protocol, QStringLiteral("a header line without a name"));
                return false;
            }
            head.headers.append({line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed()});
        }
        if (code < 200)
            continue;
        const bool http10 = status.startsWith("HTTP/1.0");
        const QByteArray connection = head.header("connection");
        m_keepAlive = http10 ? headerHasToken(connection, "keep-alive") : !headerHasToken(connection, "close");
        const QByteArray te = head.header("transfer-encoding").toLower();
        const QByteArray length = head.header("content-length");
        if (m_headRequest || code == 204 || code == 304) {
            m_framing = Framing::None;
        } else if (!te.isEmpty()) {
            if (!te.trimmed().endsWith("chunked")) {
                fail(Failure::Protocol, QStringLiteral("Transfer-Encoding %1 is not chunked").arg(QString::fromLatin1(te)));
                return false;
            }
            m_framing = Framing::Chunked;
            m_chunkState = ChunkState::Size;
        } else if (!length.isEmpty()) {
            m_left = length.toLongLong(&ok);
            if (!ok || m_left < 0) {
                fail(Failure::Protocol, QStringLiteral("Content-Length is not a number"));
                return false;
            }
            m_framing = Framing::Length;
        } else {
            m_framing = Framing::UntilClose;
            m_keepAlive = false;
        }
        m_phase = Phase::Body;
        if (onHead)
            onHead(head);
        return m_phase == Phase::Body; // (the callback may have aborted the call)
    }
}

bool UpstreamCall::parseBody()
{
    while (m_phase == Phase::Body && !m_paused) {
        switch (m_framing) {
        case Framing::None:
            finish();
            return true;
        case Framing::UntilClose:
            if (!m_buffer.isEmpty()) {
                const QByteArray part = std::exchange(m_buffer, QByteArray());
                if (onBody)
                    onBody(part);
            }
            return true; // the end is the close
        case Framing::Length: {
            const qint64 take = std::min<qint64>(m_left, m_buffer.size());
            if (take > 0) {
                const QByteArray part = m_buffer.left(take);
                m_buffer.remove(0, take);
                m_left -= take;
                if (onBody)
                    onBody(part);
                if (m_phase != Phase::Body)
                    return true;
            }
            if (m_left == 0)
                finish();
            return true;
        }
        case Framing::Chunked:
            switch (m_chunkState) {
            case ChunkState::Size: {
                const qsizetype eol = m_buffer.indexOf("\r\n");
                if (eol < 0) {
                    if (m_buffer.size() > 1024)
                        fail(Failure::Protocol, QStringLiteral("a chunk size line is too long"));
                    return true;
                }
                QByteArray size = m_buffer.left(eol);
                if (const qsizetype semi = size.indexOf(';'); semi >= 0)
                    size.truncate(semi);
                bool ok = false;
                m_left = size.trimmed().toLongLong(&ok, 16);
                if (!ok || m_left < 0) {
                    fail(Failure::Protocol, QStringLiteral("a chunk size is not a hexadecimal number"));
                    return true;
                }
                m_buffer.remove(0, eol + 2);
                m_chunkState = m_left == 0 ? ChunkState::Trailer : ChunkState::Data;
                break;
            }
            case ChunkState::Data: {
                if (m_buffer.isEmpty())
                    return true;
                const qint64 take = std::min<qint64>(m_left, m_buffer.size());
                const QByteArray part = m_buffer.left(take);
                m_buffer.remove(0, take);
                m_left -= take;
                if (m_left == 0)
                    m_chunkState = ChunkState::DataEnd;
                if (onBody)
                    onBody(part);
                break;
            }
            case ChunkState::DataEnd:
                if (m_buffer.size() < 2)
                    return true;
                if (!m_buffer.startsWith("\r\n")) {
                    fail(Failure::Protocol, QStringLiteral("a chunk does not end with CRLF"));
                    return true;
                }
                m_buffer.remove(0, 2);
                m_chunkState = ChunkState::Size;
                break;
            case ChunkState::Trailer: {
                const qsizetype eol = m_buffer.indexOf("\r\n");
                if (eol < 0) {
                    if (m_buffer.size() > kMaxHeadBytes)
                        fail(Failure::TooLarge, QStringLiteral("the trailer is too large"));
                    return true;
                }
                const bool last = eol == 0;
                m_buffer.remove(0, eol + 2);
                if (last)
                    finish();
                break;
            }
            }
            break;
        }
    }
    return true;
}

void UpstreamCall::onDisconnected()
{
    if (m_phase == Phase::Done || !m_socket)
        return;
    // A reused connection the upstream had closed meanwhile: once more on a fresh one.
    if (m_reused && !m_gotBytes && !m_retried && m_socket->bytesAvailable() == 0
        && (m_phase == Phase::Waiting || m_phase == Phase::Head)) {
        m_retried = true;
        detachSocket(false);
        m_buffer.clear();
        return connectSocket(false);
    }
    // What it sent before closing is still to be read (and may be the whole answer): read now,
    // or when the relay resumes; onReadyRead() acts on the close once it is all parsed.
    m_upstreamClosed = true;
    if (!m_paused)
        onReadyRead();
}

void UpstreamCall::onSocketError()
{
    if (m_phase == Phase::Done || !m_socket)
        return;
    if (m_socket->error() == QAbstractSocket::RemoteHostClosedError)
        return onDisconnected();
    if (m_phase == Phase::Connecting)
        return fail(Failure::Connect, m_socket->errorString());
    if (m_reused && !m_gotBytes && !m_retried && (m_phase == Phase::Waiting || m_phase == Phase::Head)) {
        m_retried = true;
        detachSocket(false);
        m_buffer.clear();
        return connectSocket(false);
    }
    fail(Failure::Closed, m_socket->errorString());
}

void UpstreamCall::onTimeout()
{
    switch (m_phase) {
    case Phase::Connecting:
        return fail(Failure::ConnectTimeout, QStringLiteral("no connection within %1 ms").arg(m_timeouts.connectMs));
    case Phase::Waiting:
        return fail(Failure::FirstByteTimeout, QStringLiteral("no answer within %1 ms").arg(m_timeouts.firstByteMs));
    case Phase::Head:
    case Phase::Body: {
        const qint64 left = m_lastReadMs + m_timeouts.idleMs - m_elapsed.elapsed();
        if (left > 0)
            return armClock(static_cast<int>(left));
        return fail(Failure::IdleTimeout, QStringLiteral("nothing for %1 ms").arg(m_timeouts.idleMs));
    }
    case Phase::Idle:
    case Phase::Done: return;
    }
}

void UpstreamCall::fail(Failure failure, const QString &message)
{
    if (m_phase == Phase::Done)
        return;
    m_phase = Phase::Done;
    m_clock.stop();
    detachSocket(false);
    if (onFailure)
        onFailure(failure, message);
}

void UpstreamCall::finish()
{
    if (m_phase == Phase::Done)
        return;
    m_phase = Phase::Done;
    m_clock.stop();
    // Reused only when the answer ended exactly where its framing said, nothing more came, and both sides keep it.
    detachSocket(m_keepAlive && m_buffer.isEmpty() && m_framing != Framing::UntilClose);
    if (onEnd)
        onEnd();
}

void UpstreamCall::abort()
{
    // (The callbacks stay: abort() may be called from inside one of them. None runs once Done.)
    m_phase = Phase::Done;
    m_clock.stop();
    detachSocket(false);
}

void UpstreamCall::detachSocket(bool keep)
{
    if (!m_socket)
        return;
    QTcpSocket *socket = std::exchange(m_socket, nullptr);
    socket->disconnect(this);
    if (keep && m_pool && socket->bytesAvailable() == 0 && socket->bytesToWrite() == 0) {
        socket->setReadBufferSize(0);
        m_pool->give(m_host, m_port, socket);
        return;
    }
    socket->abort();
    socket->deleteLater();
}

} // namespace sluice
