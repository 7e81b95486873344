// SPDX-License-Identifier: Apache-2.0
#include "jsonwriter.h"

#include <cmath>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace sluice {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// A byte that goes into a JSON string as it is (not a control, '"' nor '\\').
constexpr bool isPlain(unsigned u) { return u >= 0x20 && u != '"' && u != '\\'; }

// The escape of a byte that JSON does not allow raw in a string (controls, '"', '\\'), or 0 for
// one it does.
inline int escapeOf(unsigned u, char *out)
{
    if (isPlain(u))
        return 0;
    out[0] = '\\';
    switch (u) {
    case '"': out[1] = '"'; return 2;
    case '\\': out[1] = '\\'; return 2;
    case '\n': out[1] = 'n'; return 2;
    case '\r': out[1] = 'r'; return 2;
    case '\t': out[1] = 't'; return 2;
    default:
        out[1] = 'u';
        out[2] = '0';
        out[3] = '0';
        out[4] = kHex[u >> 4];
        out[5] = kHex[u & 15];
        return 6;
    }
}

// isPlain() of every ASCII character, as a table (the short-string loop looks each one up).
struct PlainTable
{
    bool plain[128] = {};
    constexpr PlainTable()
    {
        for (unsigned c = 0; c < 128; ++c)
            plain[c] = isPlain(c);
    }
};
constexpr PlainTable kPlain;

#ifdef __SSE2__
// Of 16 bytes, those that need an escape in a JSON string: below 0x20, '"' or '\\'.
inline int escapeMask(__m128i bytes)
{
    const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(bytes, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
    const __m128i quote = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('"'));
    const __m128i backslash = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'));
    return _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash)));
}
#endif

} // namespace

JsonWriter &JsonWriter::value(const char *p, size_t size)
{
    comma();
    // Worst case: every byte a \u00XX escape, and the quotes.
    char *out = m_out.room(static_cast<qsizetype>(size) * 6 + 2);
    *out++ = '"';
    const char *end = p + size;
#ifdef __SSE2__
    // Sixteen bytes at a time while none needs an escape (ids and labels, nearly always); the
    // last sixteen overlap what went before rather than a byte at a time.
    if (size >= 16) {
        bool clean = true;
        for (; end - p > 16; p += 16, out += 16) {
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
            if (escapeMask(bytes)) {
                clean = false;
                break;
            }
            _mm_storeu_si128(reinterpret_cast<__m128i *>(out), bytes);
        }
        if (clean) {
            const __m128i last = _mm_loadu_si128(reinterpret_cast<const __m128i *>(end - 16));
            if (!escapeMask(last)) {
                _mm_storeu_si128(reinterpret_cast<__m128i *>(out + (end - p) - 16), last);
                out += end - p;
                *out++ = '"';
                m_out.setEnd(out);
                return *this;
            }
        }
    }
#endif
    out = escapeBytes(p, end, out);
    *out++ = '"';
    m_out.setEnd(out);
    return *this;
}

char *JsonWriter::escapeBytes(const char *p, const char *end, char *out)
{
    const char *run = p; // start of the pending run that needs no escaping
    for (; p != end; ++p) {
        char escape[6];
        const int n = escapeOf(static_cast<unsigned char>(*p), escape);
        if (!n)
            continue;
        std::memcpy(out, run, static_cast<size_t>(p - run));
        out += p - run;
        std::memcpy(out, escape, static_cast<size_t>(n));
        out += n;
        run = p + 1;
    }
    std::memcpy(out, run, static_cast<size_t>(end - run));
    return out + (end - run);
}

JsonWriter &JsonWriter::value(const QString &s)
{
    if (s.isNull())
        return null();
    const auto *p = reinterpret_cast<const char16_t *>(s.constData());
    const auto *end = p + s.size();
    char *out = m_out.room(static_cast<qsizetype>(end - p) * 6 + 3);
    if (!m_first)
        *out++ = ',';
    *out++ = '"';
#ifdef __SSE2__
    // Eight characters at a time while all are printable ASCII without '"' or '\\': narrowed to
    // bytes with unsigned saturation (anything above 0xff becomes 0xff, above 0x7fff 0: both
    // caught, as "not ASCII" and "control"); the last eight overlap what went before.
    if (end - p >= 8) {
        const auto *const start = p;
        for (;; p += 8, out += 8) {
            const bool last = end - p <= 8;
            if (last) {
                out -= 8 - (end - p);
                p = end - 8;
            }
            const __m128i wide = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
            const __m128i bytes = _mm_packus_epi16(wide, wide);
            if ((escapeMask(bytes) | _mm_movemask_epi8(bytes)) & 0xff)
                return slowString(s, p - start, out);
            _mm_storel_epi64(reinterpret_cast<__m128i *>(out), bytes);
            if (last) {
                out += 8;
                break;
            }
        }
        *out++ = '"';
        m_out.setEnd(out);
        m_first = false;
        return *this;
    }
#endif
    for (const auto *q = p; q != end; ++q) {
        if (*q >= 0x80 || !kPlain.plain[*q])
            return slowString(s, q - p, out + (q - p));
        out[q - p] = static_cast<char>(*q);
    }
    out += end - p;
    *out++ = '"';
    m_out.setEnd(out);
    m_first = false;
    return *this;
}

JsonWriter &JsonWriter::slowString(const QString &s, qsizetype done, char *out)
{
    // `done` characters (plain ASCII) are written up to `out`; the rest needs escapes, or is beyond ASCII.
    const auto *p = reinterpret_cast<const char16_t *>(s.constData()) + done;
    const auto *end = reinterpret_cast<const char16_t *>(s.constData()) + s.size();
    char *const quote = out - done - 1;
    for (; p != end; ++p) {
        if (*p >= 0x80) {
            // Beyond ASCII: Qt's encoder, and the bytes escaped as bytes (from the quote on).
            out = quote;
            const QByteArray utf8 = s.toUtf8();
            *out++ = '"';
            out = escapeBytes(utf8.constData(), utf8.constData() + utf8.size(), room(out, utf8.size() * 6 + 1));
            *out++ = '"';
            m_out.setEnd(out);
            m_first = false;
            return *this;
        }
        const auto u = static_cast<unsigned>(*p);
        const int n = escapeOf(u, out);
        if (n)
            out += n;
        else
            *out++ = static_cast<char>(u);
    }
    *out++ = '"';
    m_out.setEnd(out);
    m_first = false;
    return *this;
}

char *JsonWriter::room(char *at, qsizetype n)
{
    // More room from `at` on (a string longer in UTF-8 than its characters' guess).
    m_out.setEnd(at);
    return m_out.room(n);
}

JsonWriter &JsonWriter::number(double v)
{
    comma();
    if (!std::isfinite(v))
        v = 0;
    QByteArray text = QByteArray::number(v, 'f', 4);
    while (text.contains('.') && (text.endsWith('0') || text.endsWith('.')))
        text.chop(1);
    if (text == "-0")
        text = "0";
    m_out.append(text);
    return *this;
}

} // namespace sluice
