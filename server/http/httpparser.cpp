// SPDX-License-Identifier: Apache-2.0
#include "http/httpparser.h"

#include <algorithm>
#include <cstring>

namespace sluice {

namespace {

// RFC 9110 token characters (method, header name), as a table: every header name's every byte
// is looked up.
struct TokenTable
{
    bool token[256] = {};
    constexpr TokenTable()
    {
        for (int c = 'a'; c <= 'z'; ++c)
            token[c] = token[c - 'a' + 'A'] = true;
        for (int c = '0'; c <= '9'; ++c)
            token[c] = true;
        for (const char *p = "!#$%&'*+-.^_`|~"; *p; ++p)
            token[static_cast<unsigned char>(*p)] = true;
    }
};
constexpr TokenTable kTokens;

bool isTokenChar(unsigned char c)
{
    return kTokens.token[c];
}

bool isToken(const char *begin, const char *end)
{
    if (begin == end)
        return false;
    for (const char *p = begin; p != end; ++p) {
        if (!isTokenChar(static_cast<unsigned char>(*p)))
            return false;
    }
    return true;
}

// A field value's bytes: visible ASCII, blanks and obs-text; no other control character.
bool isFieldValue(const char *begin, const char *end)
{
    for (const char *p = begin; p != end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

bool equalsLower(QByteArrayView text, QByteArrayView lower)
{
    if (text.size() != lower.size())
        return false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        if (c != lower[i])
            return false;
    }
    return true;
}

bool equalsLower(const char *begin, const char *end, const char *lower)
{
    return equalsLower(QByteArrayView(begin, end - begin), QByteArrayView(lower));
}


// The methods every client sends, shared rather than allocated per request.
QByteArray methodOf(const char *begin, const char *end)
{
    static const QByteArray known[] = {QByteArrayLiteral("GET"), QByteArrayLiteral("POST"), QByteArrayLiteral("HEAD"),
                                       QByteArrayLiteral("PUT"), QByteArrayLiteral("DELETE"), QByteArrayLiteral("OPTIONS")};
    for (const QByteArray &m : known) {
        if (end - begin == m.size() && std::memcmp(begin, m.constData(), static_cast<size_t>(m.size())) == 0)
            return m;
    }
    return QByteArray(begin, end - begin);
}

ApiError tooLargeHeader() { return ApiError(431, QStringLiteral("header_too_large"), QStringLiteral("the request header block is larger than 32 KiB")); }
ApiError tooLongUri() { return ApiError(414, QStringLiteral("uri_too_long"), QStringLiteral("the request line is longer than 8 KiB")); }

} // namespace

void HttpRequestParser::append(const char *data, qsizetype size)
{
    if (size <= 0)
        return;
    std::memcpy(reserve(size), data, static_cast<size_t>(size));
    commit(size);
}

char *HttpRequestParser::reserve(qsizetype size)
{
    // What was consumed goes first, so that a connection's buffer stays the size of one request.
    if (m_pos > 0 && (m_pos == m_buffer.size() || m_pos >= 4096)) {
        m_buffer.remove(0, m_pos);
        m_scanned -= m_pos;
        m_pos = 0;
    }
    m_reservedAt = m_buffer.size();
    m_buffer.resize(m_reservedAt + size);
    return m_buffer.data() + m_reservedAt;
}

void HttpRequestParser::commit(qsizetype written)
{
    m_buffer.resize(m_reservedAt + std::max<qsizetype>(0, written));
}

HttpRequestParser::Step HttpRequestParser::refuse(ApiError error)
{
    m_refusal = std::move(error);
    m_buffer.clear();
    m_pos = m_scanned = 0;
    return Step::Refused;
}

HttpRequestParser::Step HttpRequestParser::next(ParsedRequest *out)
{
    if (m_refusal)
        return Step::Refused;
    const char *data = m_buffer.constData();
    const qsizetype size = m_buffer.size();
    if (!m_bodyPending) {
        // Empty lines before a request line are ignored (RFC 9112 §2.2).
        while (m_pos < size && (data[m_pos] == '\n' || (data[m_pos] == '\r' && m_pos + 1 < size && data[m_pos + 1] == '\n')))
            m_pos += data[m_pos] == '\n' ? 1 : 2;
        if (m_scanned < m_pos)
            m_scanned = m_pos;
        // The header block ends at the first empty line: LF CRLF or LF LF. m_scanned: no end
        // starts before it (an LF at the very end is looked at again with the next bytes).
        qsizetype end = -1, endLength = 0;
        for (qsizetype i = m_scanned;;) {
            const void *lf = std::memchr(data + i, '\n', static_cast<size_t>(size - i));
            if (!lf) {
                m_scanned = size;
                break;
            }
            i = static_cast<const char *>(lf) - data;
            if (i + 1 >= size || (data[i + 1] == '\r' && i + 2 >= size)) {
                m_scanned = i;
                break;
            }
            if (data[i + 1] == '\n' || (data[i + 1] == '\r' && data[i + 2] == '\n')) {
                end = i + 1;
                endLength = data[i + 1] == '\n' ? 1 : 2;
                break;
            }
            ++i;
        }
        if (end < 0) {
            if (!std::memchr(data + m_pos, '\n', static_cast<size_t>(size - m_pos)) && size - m_pos > kMaxRequestLineBytes)
                return refuse(tooLongUri());
            if (size - m_pos > kMaxHeaderBytes)
                return refuse(tooLargeHeader());
            return Step::NeedMore;
        }
        if (end - m_pos > kMaxHeaderBytes)
            return refuse(tooLargeHeader());
        m_current = ParsedRequest();
        if (auto error = parseHead(data + m_pos, data + end))
            return refuse(*error);
        m_pos = end + endLength;
        m_scanned = m_pos;
        m_bodyPending = true;
    }
    if (size - m_pos < m_bodyLength)
        return Step::NeedMore;
    m_current.body = m_buffer.mid(m_pos, m_bodyLength);
    m_pos += m_bodyLength;
    m_scanned = m_pos;
    m_bodyPending = false;
    m_bodyLength = 0;
    *out = std::move(m_current);
    m_current = ParsedRequest();
    ++m_completed;
    return Step::Request;
}

void HttpRequestParser::keepHeader(qsizetype index, QByteArrayView name, QByteArrayView value)
{
    // A header line as the previous request's at the same place shares its bytes (no copy); the
    // list itself is made only when a line differs.
    const bool sameName = index < m_previousHeaders.size() && equalsLower(name, m_previousHeaders.at(index).first);
    if (m_sameHeaders && sameName && value == QByteArrayView(m_previousHeaders.at(index).second))
        return;
    if (m_sameHeaders) {
        m_sameHeaders = false;
        m_current.headers = m_previousHeaders.first(index);
        m_current.headers.reserve(index + 8);
    }
    QByteArray lower;
    if (sameName) {
        lower = m_previousHeaders.at(index).first;
    } else {
        lower = QByteArray(name.size(), Qt::Uninitialized);
        for (qsizetype i = 0; i < name.size(); ++i) {
            const char c = name[i];
            lower.data()[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        }
    }
    m_current.headers.append({std::move(lower), value.toByteArray()});
}

std::optional<ApiError> HttpRequestParser::parseHead(const char *begin, const char *end)
{
    // [begin, end): the request line and the header lines, each ending in LF (CRLF).
    int lineNumber = 0;
    std::optional<qint64> length;
    QByteArray connection;
    int hosts = 0;
    qsizetype headerIndex = 0;
    m_sameHeaders = true;
    for (const char *line = begin; line < end; ++lineNumber) {
        const char *lf = static_cast<const char *>(std::memchr(line, '\n', static_cast<size_t>(end - line)));
        const char *lineEnd = lf ? lf : end;
        const char *next = lf ? lf + 1 : end;
        if (lineEnd > line && lineEnd[-1] == '\r')
            --lineEnd;
        if (std::memchr(line, '\r', static_cast<size_t>(lineEnd - line)))
            return ApiError::badRequest(QStringLiteral("a bare CR in the request header"));
        if (lineNumber == 0) {
            if (lineEnd - line > kMaxRequestLineBytes)
                return tooLongUri();
            const char *sp1 = static_cast<const char *>(std::memchr(line, ' ', static_cast<size_t>(lineEnd - line)));
            const char *sp2 = sp1 ? static_cast<const char *>(std::memchr(sp1 + 1, ' ', static_cast<size_t>(lineEnd - sp1 - 1))) : nullptr;
            if (!sp1 || !sp2 || !isToken(line, sp1) || sp2 == sp1 + 1)
                return ApiError::badRequest(QStringLiteral("the request line is not \"METHOD target HTTP/1.1\""));
            for (const char *p = sp1 + 1; p != sp2; ++p) {
                const auto c = static_cast<unsigned char>(*p);
                if (c <= 0x20 || c == 0x7f)
                    return ApiError::badRequest(QStringLiteral("the request target holds a control character"));
            }
            const QByteArrayView version(sp2 + 1, lineEnd - sp2 - 1);
            if (version == "HTTP/1.1") {
                m_current.minorVersion = 1;
            } else if (version == "HTTP/1.0") {
                m_current.minorVersion = 0;
            } else if (version.size() == 8 && version.startsWith("HTTP/") && version.at(6) == '.'
                       && version.at(5) >= '0' && version.at(5) <= '9' && version.at(7) >= '0' && version.at(7) <= '9') {
                return ApiError(505, QStringLiteral("http_version_not_supported"),
                                QStringLiteral("HTTP/1.0 and HTTP/1.1 only, not %1").arg(QString::fromLatin1(version)));
            } else {
                return ApiError::badRequest(QStringLiteral("the request line is not \"METHOD target HTTP/1.1\""));
            }
            m_current.method = methodOf(line, sp1);
            const QByteArrayView target(sp1 + 1, sp2 - sp1 - 1);
            // (A keep-alive client asks for the same target again and again: shared, not copied.)
            m_current.target = target == QByteArrayView(m_previousTarget) ? m_previousTarget : target.toByteArray();
            m_previousTarget = m_current.target;
            if (m_current.target.at(0) != '/' && !m_current.target.startsWith("http://")
                && !m_current.target.startsWith("https://") && m_current.target != "*")
                return ApiError::badRequest(QStringLiteral("the request target is neither a path nor an absolute URL"));
            line = next;
            continue;
        }
        if (lineNumber > kMaxHeaderLines)
            return ApiError(431, QStringLiteral("header_too_large"),
                            QStringLiteral("the request has more than %1 header lines").arg(kMaxHeaderLines));
        if (line < lineEnd && (*line == ' ' || *line == '\t'))
            return ApiError::badRequest(QStringLiteral("a folded header line (obsolete line folding is not accepted)"));
        const char *colon = static_cast<const char *>(std::memchr(line, ':', static_cast<size_t>(lineEnd - line)));
        if (!colon)
            return ApiError::badRequest(QStringLiteral("a header line without a colon"));
        if (!isToken(line, colon))
            return ApiError::badRequest(QStringLiteral("a header name that is not a token (a blank before the colon?)"));
        const char *v = colon + 1, *ve = lineEnd;
        while (v < ve && (*v == ' ' || *v == '\t'))
            ++v;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            --ve;
        if (!isFieldValue(v, ve))
            return ApiError::badRequest(QStringLiteral("a header value holds a control character"));
        const QByteArrayView name(line, colon - line), value(v, ve - v);
        if (equalsLower(name, "transfer-encoding")) {
            if (!equalsLower(value, "identity"))
                return ApiError(411, QStringLiteral("length_required"),
                                QStringLiteral("Transfer-Encoding (%1) is not accepted: send the body with Content-Length")
                                    .arg(QString::fromLatin1(value.first(std::min<qsizetype>(value.size(), 64)))));
        } else if (equalsLower(name, "content-length")) {
            if (value.isEmpty() || !std::all_of(value.cbegin(), value.cend(), [](char c) { return c >= '0' && c <= '9'; }))
                return ApiError::badRequest(QStringLiteral("Content-Length is not a number"));
            const qint64 max = !m_largePrefix.isEmpty() && m_current.target.startsWith(m_largePrefix) ? std::max(m_largeMax, m_maxBody)
                                                                                                      : m_maxBody;
            bool ok = false;
            const qint64 n = value.toLongLong(&ok);
            if (!ok || n > max)
                return ApiError::payloadTooLarge(QStringLiteral("the request body is larger than %1 bytes").arg(max));
            if (length && *length != n)
                return ApiError::badRequest(QStringLiteral("two Content-Length headers disagree"));
            length = n;
        } else if (equalsLower(name, "connection")) {
            connection += (connection.isEmpty() ? "" : ",") + value.toByteArray();
        } else if (equalsLower(name, "expect")) {
            m_current.expectsContinue = m_current.minorVersion >= 1 && equalsLower(value, "100-continue");
        } else if (equalsLower(name, "host")) {
            if (++hosts > 1)
                return ApiError::badRequest(QStringLiteral("two Host headers"));
        }
        keepHeader(headerIndex++, name, value);
        line = next;
    }
    // The same header lines as the previous request's (a keep-alive client's, nearly always): its list, shared.
    if (m_sameHeaders)
        m_current.headers = headerIndex == m_previousHeaders.size() ? m_previousHeaders : m_previousHeaders.first(headerIndex);
    m_previousHeaders = m_current.headers;
    if (m_current.minorVersion >= 1 && hosts == 0)
        return ApiError::badRequest(QStringLiteral("an HTTP/1.1 request needs a Host header"));
    m_current.keepAlive = m_current.minorVersion >= 1 ? !headerHasToken(connection, "close") : headerHasToken(connection, "keep-alive");
    m_bodyLength = length.value_or(0);
    if (m_bodyLength == 0)
        m_current.expectsContinue = false;
    return std::nullopt;
}

bool headerHasToken(const QByteArray &commaList, const char *lowerToken)
{
    // The comma-separated elements, blanks around each ignored, any case (no copies: every
    // request passes here).
    const char *p = commaList.constData(), *end = p + commaList.size();
    while (p < end) {
        const char *comma = static_cast<const char *>(std::memchr(p, ',', static_cast<size_t>(end - p)));
        const char *b = p, *e = comma ? comma : end;
        while (b < e && (*b == ' ' || *b == '\t'))
            ++b;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            --e;
        if (equalsLower(b, e, lowerToken))
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

QByteArray findHeader(const HttpHeaders &headers, QByteArrayView lowerName)
{
    for (const auto &h : headers) {
        if (QByteArrayView(h.first) == lowerName)
            return h.second;
    }
    return {};
}

} // namespace sluice
