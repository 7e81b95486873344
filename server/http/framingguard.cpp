// SPDX-License-Identifier: Apache-2.0
#include "http/framingguard.h"

#include "apipaths.h"
#include "http/httpresponder.h"

#include <QTcpSocket>
#include <algorithm>

namespace sluice {

namespace {
bool allDigits(const QByteArray &v)
{
    return !v.isEmpty() && std::all_of(v.cbegin(), v.cend(), [](char c) { return c >= '0' && c <= '9'; });
}
} // namespace

std::optional<ApiError> HttpFraming::headerBlock(const QByteArray &head)
{
    std::optional<qint64> length;
    const QList<QByteArray> lines = head.split('\n');
    for (qsizetype i = 1; i < lines.size(); ++i) { // line 0 is the request line
        const QByteArray &line = lines.at(i);
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            continue; // not a header line (Qt's parser judges the rest)
        const QByteArray name = line.left(colon).trimmed().toLower();
        const QByteArray value = line.mid(colon + 1).trimmed();
        if (name == "transfer-encoding") {
            if (value.toLower() == "identity")
                continue;
            return ApiError(411, QStringLiteral("length_required"),
                            QStringLiteral("Transfer-Encoding (%1) is not accepted: send the body with Content-Length")
                                .arg(QString::fromLatin1(value.left(64))));
        }
        if (name == "content-length") {
            if (!allDigits(value))
                return ApiError::badRequest(QStringLiteral("Content-Length is not a number"));
            bool ok = false;
            const qint64 n = value.toLongLong(&ok);
            if (!ok || n > m_maxBody)
                return ApiError::payloadTooLarge(QStringLiteral("the request body is larger than %1 bytes").arg(m_maxBody));
            if (length && *length != n)
                return ApiError::badRequest(QStringLiteral("two Content-Length headers disagree"));
            length = n;
        }
    }
    m_bodyRemaining = length.value_or(0);
    return std::nullopt;
}

std::optional<ApiError> HttpFraming::feed(const QByteArray &bytes)
{
    if (m_rejected)
        return m_rejected;
    QByteArray pending = bytes;
    while (!pending.isEmpty()) {
        if (m_bodyRemaining > 0) {
            const qsizetype take = static_cast<qsizetype>(std::min<qint64>(m_bodyRemaining, pending.size()));
            m_bodyRemaining -= take;
            pending.remove(0, take);
            if (m_bodyRemaining == 0)
                ++m_completed;
            continue;
        }
        const qsizetype scanFrom = std::max<qsizetype>(0, m_head.size() - 3);
        m_head.append(pending);
        pending.clear();
        // The header block ends at the first empty line: CRLF CRLF, or bare LF LF (Qt's parser
        // accepts both, so the guard must see both).
        qsizetype end = -1, endLength = 0;
        for (qsizetype i = m_head.indexOf('\n', scanFrom); i >= 0; i = m_head.indexOf('\n', i + 1)) {
            if (i + 1 < m_head.size() && m_head.at(i + 1) == '\n') {
                end = i;
                endLength = 2;
                break;
            }
            if (i + 2 < m_head.size() && m_head.at(i + 1) == '\r' && m_head.at(i + 2) == '\n') {
                end = i;
                endLength = 3;
                break;
            }
        }
        if (end < 0) {
            if (m_head.size() > kMaxHeaderBytes)
                m_rejected = ApiError(431, QStringLiteral("header_too_large"),
                                      QStringLiteral("the request header block is larger than 32 KiB"));
            return m_rejected;
        }
        if (end > kMaxHeaderBytes)
            return m_rejected = ApiError(431, QStringLiteral("header_too_large"),
                                         QStringLiteral("the request header block is larger than 32 KiB"));
        pending = m_head.mid(end + endLength); // body bytes, or the next pipelined request
        const QByteArray head = m_head.left(end);
        m_head.clear();
        if (auto error = headerBlock(head))
            return m_rejected = error;
        if (m_bodyRemaining == 0)
            ++m_completed;
    }
    return std::nullopt;
}

FramingGuard::FramingGuard(QTcpSocket *socket, QObject *httpServer, ConnectionTimeouts timeouts)
    : QObject(socket), m_socket(socket), m_server(httpServer), m_timeouts(timeouts), m_framing(api::kMaxBodyBytes)
{
    setObjectName(QStringLiteral("sluice-framing-guard"));
    m_clock.setSingleShot(true);
    connect(&m_clock, &QTimer::timeout, this, &FramingGuard::onTimeout);
    connect(socket, &QTcpSocket::readyRead, this, &FramingGuard::onReadyRead);
    armClock();
}

FramingGuard *FramingGuard::of(QTcpSocket *socket)
{
    return socket ? socket->findChild<FramingGuard *>(QStringLiteral("sluice-framing-guard"), Qt::FindDirectChildrenOnly)
                  : nullptr;
}

void FramingGuard::setStreaming()
{
    m_streaming = true;
    m_clock.stop();
}

void FramingGuard::armClock()
{
    if (m_streaming || m_rejected)
        return;
    // A request under way runs on the request clock from its first byte; between requests the
    // idle clock runs from the end of the last one.
    if (m_framing.inRequest()) {
        if (!m_clock.isActive() || m_clock.interval() != m_timeouts.requestMs)
            m_clock.start(m_timeouts.requestMs);
    } else {
        m_clock.start(m_timeouts.idleMs);
    }
}

void FramingGuard::onReadyRead()
{
    if (m_rejected) {
        m_socket->readAll(); // drain and drop until the close completes
        return;
    }
    const bool wasInRequest = m_framing.inRequest();
    const qint64 completedBefore = m_framing.completedRequests();
    if (auto error = m_framing.feed(m_socket->peek(m_socket->bytesAvailable())))
        return reject(*error);
    // A new request began (after idling, or pipelined right behind one that just completed): its
    // own clock, from now.
    if (m_framing.inRequest() && (!wasInRequest || m_framing.completedRequests() > completedBefore))
        m_clock.stop();
    armClock();
}

void FramingGuard::onTimeout()
{
    if (m_streaming || m_rejected)
        return;
    if (m_framing.inRequest())
        return reject(ApiError(408, QStringLiteral("request_timeout"),
                               QStringLiteral("the request was not complete within %1 ms").arg(m_timeouts.requestMs)));
    m_socket->disconnectFromHost(); // idle keep-alive connection
}

void FramingGuard::reject(const ApiError &error)
{
    m_rejected = true;
    m_clock.stop();
    QObject::disconnect(m_socket, &QTcpSocket::readyRead, m_server, nullptr);
    m_socket->readAll();
    m_socket->write(buildHttpResponse(error.status(), "application/json", error.toJson(), {}, true));
    m_socket->disconnectFromHost();
}

} // namespace sluice
