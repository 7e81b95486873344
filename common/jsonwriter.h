// SPDX-License-Identifier: Apache-2.0
// A tiny append-only JSON writer for the hot path (the check answer is written ~10^5 times a
// second; QJsonDocument would cost more than the rate-limit decision itself). It writes into a
// TextBuffer (one buffer, handed over without a copy); a QString goes in as UTF-8 without a
// temporary when it is ASCII (the common case), through QString::toUtf8 otherwise.
// Callers keep the structure valid; the writer only escapes strings and places commas.
#pragma once

#include "textbuffer.h"

#include <QByteArray>
#include <QString>

namespace sluice {

class JsonWriter
{
public:
    explicit JsonWriter(qsizetype reserve = 512) : m_own(reserve), m_out(m_own) {}
    // Writes at the end of `into` (a caller's reused buffer) instead of a buffer of its own.
    explicit JsonWriter(TextBuffer &into) : m_own(0), m_out(into) {}
    JsonWriter(const JsonWriter &) = delete;
    JsonWriter &operator=(const JsonWriter &) = delete;

    JsonWriter &beginObject() { comma(); m_out.put('{'); m_first = true; return *this; }
    JsonWriter &endObject() { m_out.put('}'); m_first = false; return *this; }
    JsonWriter &beginArray() { comma(); m_out.put('['); m_first = true; return *this; }
    JsonWriter &endArray() { m_out.put(']'); m_first = false; return *this; }
    // A key is a name the program spells (not escaped): "name":
    JsonWriter &key(const char *k)
    {
        const auto n = static_cast<qsizetype>(std::strlen(k)); // (a literal's length, folded)
        char *p = m_out.room(n + 4);
        if (!m_first)
            *p++ = ',';
        *p++ = '"';
        std::memcpy(p, k, static_cast<size_t>(n));
        p += n;
        *p++ = '"';
        *p++ = ':';
        m_out.setEnd(p);
        m_first = true; // the value follows without a comma
        return *this;
    }
    JsonWriter &value(qint64 v) { comma(); m_out.number(v); return *this; }
    JsonWriter &value(int v) { return value(static_cast<qint64>(v)); }
    JsonWriter &value(bool v) { comma(); m_out.append(v ? "true" : "false", v ? 4 : 5); return *this; }
    // A ratio for people and charts: at most 4 decimals, no exponent, "0" for anything not finite.
    JsonWriter &number(double v);
    JsonWriter &null() { comma(); m_out.append("null", 4); return *this; }
    JsonWriter &value(const QString &s);
    JsonWriter &value(const QByteArray &utf8) { return value(utf8.constData(), static_cast<size_t>(utf8.size())); }
    JsonWriter &value(const char *utf8, size_t size);
    JsonWriter &raw(const QByteArray &json) { comma(); m_out.append(json); return *this; }

    // The buffer, for a caller that writes a run of members itself (after a value: the writer's
    // next value or key still gets its comma).
    TextBuffer &buffer() { return m_out; }

    // What was written (the writer is empty afterwards).
    QByteArray take() { m_first = true; return m_out.take(); }

private:
    static char *escapeBytes(const char *p, const char *end, char *out);
    JsonWriter &slowString(const QString &s, qsizetype done, char *out);
    char *room(char *at, qsizetype n);
    void comma()
    {
        if (!m_first)
            m_out.put(',');
        m_first = false;
    }

    TextBuffer m_own;
    TextBuffer &m_out;
    bool m_first = true;
};

} // namespace sluice
