// SPDX-License-Identifier: Apache-2.0
// The one HTTP/1.1 request parser of the server (RFC 9112). Pure: no I/O, no Qt objects, fuzzed by
// fuzz/fuzz_framing.cpp. A connection appends its bytes in order and takes complete requests out
// one at a time; whatever the split of the bytes, the same requests (or the same refusal) come out.
//
// It is strict where leniency lets a request be framed two ways (request smuggling) or makes memory
// grow with what a client sends:
// - a body only by Content-Length (digits only; two that disagree: 400; over the limit: 413 before
//   a byte of it is held); any Transfer-Encoding but identity: 411;
// - a header line without a colon, a space before the colon, a name that is not a token, a folded
//   line, a control character or a bare CR: 400;
// - a request line over 8 KiB: 414; a header block over 32 KiB or 100 lines: 431;
// - HTTP/1.0 and 1.1 only (another version: 505); HTTP/1.1 with one Host header (none, or two: 400).
// After a refusal the parser stays refused: the connection answers it and closes.
#pragma once

#include "http/layer.h"

#include "apierror.h"

#include <QByteArray>
#include <QList>
#include <QPair>
#include <optional>

namespace sluice {

using HttpHeaders = QList<QPair<QByteArray, QByteArray>>;

struct ParsedRequest
{
    QByteArray method;
    QByteArray target;     // as sent: origin form ("/path?query") or absolute form
    int minorVersion = 1;  // HTTP/1.<minor>
    HttpHeaders headers;   // names lower-case, values without surrounding blanks, in order
    QByteArray body;
    bool keepAlive = true; // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with keep-alive
    bool expectsContinue = false;
};

// A header whose value is a comma-separated list (Connection) holds the token (any case, blanks ignored).
bool headerHasToken(const QByteArray &commaList, const char *lowerToken);
// The first header of that (lower-case) name, empty when none.
QByteArray findHeader(const HttpHeaders &headers, QByteArrayView lowerName);

class HttpRequestParser
{
public:
    static constexpr qsizetype kMaxRequestLineBytes = 8 * 1024;
    static constexpr qsizetype kMaxHeaderBytes = 32 * 1024;
    static constexpr int kMaxHeaderLines = 100;

    explicit HttpRequestParser(qint64 maxBodyBytes) : m_maxBody(maxBodyBytes) {}
    // Requests whose target starts with `prefix` may have bodies up to `maxBodyBytes` instead.
    void setLargeBodies(const QByteArray &prefix, qint64 maxBodyBytes)
    {
        m_largePrefix = prefix;
        m_largeMax = maxBodyBytes;
    }

    enum class Step { NeedMore, Request, Refused };

    void append(const char *data, qsizetype size);
    void append(const QByteArray &bytes) { append(bytes.constData(), bytes.size()); }
    // Room for up to `size` bytes at the end of what is held: write into it, then commit(n) the
    // n bytes written (a socket reads straight into the parser's buffer, no copy in between).
    // Nothing else may be called between the two.
    char *reserve(qsizetype size);
    void commit(qsizetype written);

    // Takes the next complete request out of what was appended.
    Step next(ParsedRequest *out);
    // The refusal (after Step::Refused; stays refused).
    const std::optional<ApiError> &refusal() const { return m_refusal; }

    // Bytes of an unfinished request are held (header or body).
    bool inRequest() const { return m_bodyPending || m_pos < m_buffer.size(); }
    // The request in progress has its header parsed and waits for a body it announced with
    // "Expect: 100-continue" (the connection answers "100 Continue" once).
    bool awaitsContinue() const { return m_bodyPending && m_current.expectsContinue; }
    qsizetype buffered() const { return m_buffer.size() - m_pos; }
    qint64 completedRequests() const { return m_completed; }

private:
    Step refuse(ApiError error);
    std::optional<ApiError> parseHead(const char *begin, const char *end);
    void keepHeader(qsizetype index, QByteArrayView name, QByteArrayView value);

    qint64 m_maxBody;
    QByteArray m_largePrefix;
    qint64 m_largeMax = 0;
    QByteArray m_buffer;
    qsizetype m_pos = 0;      // start of what is not consumed yet
    qsizetype m_scanned = 0;  // the header block's end is not before this offset
    qsizetype m_reservedAt = 0;
    bool m_bodyPending = false;
    qint64 m_bodyLength = 0;
    ParsedRequest m_current;
    // The previous request's target and header lines: a keep-alive client's next request, the
    // same lines again, shares them instead of copying (the hot path's allocations).
    QByteArray m_previousTarget;
    HttpHeaders m_previousHeaders;
    bool m_sameHeaders = true;
    qint64 m_completed = 0;
    std::optional<ApiError> m_refusal;
};

} // namespace sluice
