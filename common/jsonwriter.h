// SPDX-License-Identifier: Apache-2.0
// A tiny append-only JSON writer for the hot path (the check answer is written ~10^5 times a
// second; QJsonDocument would cost more than the rate-limit decision itself). Callers keep the
// structure valid; the writer only escapes strings and places commas.
#pragma once

#include <QByteArray>
#include <QString>

namespace sluice {

class JsonWriter
{
public:
    explicit JsonWriter(int reserve = 512) { m_out.reserve(reserve); }

    JsonWriter &beginObject() { comma(); m_out.append('{'); m_first = true; return *this; }
    JsonWriter &endObject() { m_out.append('}'); m_first = false; return *this; }
    JsonWriter &beginArray() { comma(); m_out.append('['); m_first = true; return *this; }
    JsonWriter &endArray() { m_out.append(']'); m_first = false; return *this; }
    JsonWriter &key(const char *k)
    {
        comma();
        m_out.append('"').append(k).append("\":");
        m_first = true; // the value follows without a comma
        return *this;
    }
    JsonWriter &value(qint64 v) { comma(); m_out.append(QByteArray::number(v)); return *this; }
    JsonWriter &value(int v) { return value(static_cast<qint64>(v)); }
    JsonWriter &value(bool v) { comma(); m_out.append(v ? "true" : "false"); return *this; }
    JsonWriter &null() { comma(); m_out.append("null"); return *this; }
    JsonWriter &value(const QString &s) { return s.isNull() ? null() : value(s.toUtf8()); }
    JsonWriter &value(const QByteArray &utf8);
    JsonWriter &raw(const QByteArray &json) { comma(); m_out.append(json); return *this; }

    const QByteArray &bytes() const { return m_out; }
    QByteArray take() { return std::move(m_out); }

private:
    void comma()
    {
        if (!m_first)
            m_out.append(',');
        m_first = false;
    }
    QByteArray m_out;
    bool m_first = true;
};

inline JsonWriter &JsonWriter::value(const QByteArray &utf8)
{
    comma();
    m_out.append('"');
    static const char hex[] = "0123456789abcdef";
    for (char c : utf8) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '"': m_out.append("\\\"", 2); break;
        case '\\': m_out.append("\\\\", 2); break;
        case '\n': m_out.append("\\n", 2); break;
        case '\r': m_out.append("\\r", 2); break;
        case '\t': m_out.append("\\t", 2); break;
        default:
            if (u < 0x20) {
                const char esc[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15]};
                m_out.append(esc, 6);
            } else {
                m_out.append(c);
            }
        }
    }
    m_out.append('"');
    return *this;
}

} // namespace sluice
