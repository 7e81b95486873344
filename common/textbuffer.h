// SPDX-License-Identifier: Apache-2.0
// The hot path's output buffer: bytes appended straight into the QByteArray it hands over (one
// allocation when the first guess of the size is right, doubling otherwise; no std::string and no
// copy at the end). Qt 6.4's QByteArray::append and std::string's out-of-line append cost more per
// piece than a check answer can afford (issue 24's profile); here a piece is a bounds check and a
// memcpy. The JSON writer, the rate-limit header lines and the HTTP answer are written with it.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QStringView>
#include <charconv>
#include <cstring>

namespace sluice {

class TextBuffer
{
public:
    // (reserve 0: nothing allocated until the first byte.)
    explicit TextBuffer(qsizetype reserve = 256)
    {
        if (reserve > 0) {
            m_out = QByteArray(reserve, Qt::Uninitialized);
            m_data = m_out.data();
            m_capacity = m_out.size();
        }
    }

    // Room for n more bytes at end(); write them, then advance(n).
    char *room(qsizetype n)
    {
        if (m_capacity - m_size < n)
            grow(n);
        return m_data + m_size;
    }
    void advance(qsizetype n) { m_size += n; }
    char *begin() { return m_data; }
    char *end() { return m_data + m_size; }
    void setEnd(char *p) { m_size = p - m_data; }

    void put(char c) { *room(1) = c; ++m_size; }
    void append(const char *p, qsizetype n)
    {
        if (n <= 0)
            return; // (an empty view's data may be null: memcpy must not see it)
        std::memcpy(room(n), p, static_cast<size_t>(n));
        m_size += n;
    }
    void append(const char *text) { append(text, static_cast<qsizetype>(std::strlen(text))); } // (literals: folded)
    void append(QByteArrayView b) { append(b.data(), b.size()); }
    void append(const QByteArray &b) { append(b.constData(), b.size()); }
    // A string as UTF-8: ASCII byte by byte, anything else through Qt's encoder.
    void appendUtf8(QStringView s)
    {
        char *p = room(s.size());
        for (qsizetype i = 0; i < s.size(); ++i) {
            const char16_t c = s[i].unicode();
            if (c >= 0x80)
                return append(s.toUtf8());
            p[i] = static_cast<char>(c);
        }
        m_size += s.size();
    }
    void number(qint64 v)
    {
        char *p = room(21); // "-9223372036854775808" is 20
        m_size = decimal(p, v) - m_data;
    }
    // v's decimal digits at p (room for 20 and a sign), and where they end.
    static char *decimal(char *p, qint64 v)
    {
        // One and two digits (flags, small counts) without to_chars' length computation.
        if (static_cast<quint64>(v) < 10) {
            *p = static_cast<char>('0' + v);
            return p + 1;
        }
        if (static_cast<quint64>(v) < 100) {
            p[0] = static_cast<char>('0' + v / 10);
            p[1] = static_cast<char>('0' + v % 10);
            return p + 2;
        }
        return std::to_chars(p, p + 21, v).ptr;
    }
    // b's bytes at p, and where they end.
    static char *copy(char *p, const QByteArray &b)
    {
        std::memcpy(p, b.constData(), static_cast<size_t>(b.size()));
        return p + b.size();
    }
    // A literal's bytes at p, and where they end (the length folds).
    template <size_t N>
    static char *literal(char *p, const char (&text)[N])
    {
        std::memcpy(p, text, N - 1);
        return p + N - 1;
    }
    qsizetype size() const { return m_size; }
    // What was written so far, without handing it over; clear() empties it and keeps the room
    // (a buffer reused for every answer allocates nothing once it has grown to one).
    QByteArrayView view() const { return QByteArrayView(m_data, m_size); }
    void clear() { m_size = 0; }
    // What was written (the buffer is empty afterwards).
    QByteArray take()
    {
        m_out.truncate(m_size);
        QByteArray out = std::move(m_out);
        m_out = QByteArray();
        m_data = nullptr;
        m_size = m_capacity = 0;
        return out;
    }

private:
    void grow(qsizetype n)
    {
        qsizetype capacity = m_capacity > 0 ? m_capacity : 64;
        while (capacity - m_size < n)
            capacity *= 2;
        m_out.resize(capacity);
        m_data = m_out.data();
        m_capacity = capacity;
    }

    QByteArray m_out; // its size is the capacity; the first m_size bytes are written
    char *m_data = nullptr;
    qsizetype m_size = 0;
    qsizetype m_capacity = 0;
};

// A number's decimal digits as a QByteArray: one allocation (Qt 6.4's QByteArray::number goes
// through setNum and insert, several times the cost, on the Redis check path's every argument).
inline QByteArray decimal(qint64 v)
{
    char buf[24];
    return QByteArray(buf, std::to_chars(buf, buf + sizeof buf, v).ptr - buf);
}

} // namespace sluice
