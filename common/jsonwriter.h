// SPDX-License-Identifier: Apache-2.0
// A tiny append-only JSON writer for the hot path (the check answer is written ~10^5 times a
// second; QJsonDocument, and even QByteArray::append in Qt 6.4, would cost more than the
// rate-limit decision itself). It appends to a std::string and hands over one QByteArray.
// Callers keep the structure valid; the writer only escapes strings and places commas.
#pragma once

#include <QByteArray>
#include <QString>
#include <charconv>
#include <string>

namespace sluice {

class JsonWriter
{
public:
    explicit JsonWriter(size_t reserve = 512) { m_out.reserve(reserve); }

    JsonWriter &beginObject() { comma(); m_out.push_back('{'); m_first = true; return *this; }
    JsonWriter &endObject() { m_out.push_back('}'); m_first = false; return *this; }
    JsonWriter &beginArray() { comma(); m_out.push_back('['); m_first = true; return *this; }
    JsonWriter &endArray() { m_out.push_back(']'); m_first = false; return *this; }
    JsonWriter &key(const char *k)
    {
        comma();
        m_out.push_back('"');
        m_out.append(k);
        m_out.append("\":", 2);
        m_first = true; // the value follows without a comma
        return *this;
    }
    JsonWriter &value(qint64 v)
    {
        comma();
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        m_out.append(buf, static_cast<size_t>(r.ptr - buf));
        return *this;
    }
    JsonWriter &value(int v) { return value(static_cast<qint64>(v)); }
    JsonWriter &value(bool v) { comma(); m_out.append(v ? "true" : "false"); return *this; }
    JsonWriter &null() { comma(); m_out.append("null", 4); return *this; }
    JsonWriter &value(const QString &s) { return s.isNull() ? null() : value(s.toUtf8()); }
    JsonWriter &value(const QByteArray &utf8) { return value(utf8.constData(), static_cast<size_t>(utf8.size())); }
    JsonWriter &value(const char *utf8, size_t size);
    JsonWriter &raw(const QByteArray &json) { comma(); m_out.append(json.constData(), static_cast<size_t>(json.size())); return *this; }

    QByteArray take() const { return QByteArray(m_out.data(), static_cast<qsizetype>(m_out.size())); }

private:
    void comma()
    {
        if (!m_first)
            m_out.push_back(',');
        m_first = false;
    }
    std::string m_out;
    bool m_first = true;
};

inline JsonWriter &JsonWriter::value(const char *p, size_t size)
{
    comma();
    m_out.push_back('"');
    static const char hex[] = "0123456789abcdef";
    const char *end = p + size;
    const char *run = p; // start of the pending run that needs no escaping
    for (; p != end; ++p) {
        const auto u = static_cast<unsigned char>(*p);
        if (u >= 0x20 && u != '"' && u != '\\')
            continue;
        m_out.append(run, static_cast<size_t>(p - run));
        run = p + 1;
        switch (u) {
        case '"': m_out.append("\\\"", 2); break;
        case '\\': m_out.append("\\\\", 2); break;
        case '\n': m_out.append("\\n", 2); break;
        case '\r': m_out.append("\\r", 2); break;
        case '\t': m_out.append("\\t", 2); break;
        default: {
            const char esc[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15]};
            m_out.append(esc, 6);
        }
        }
    }
    m_out.append(run, static_cast<size_t>(end - run));
    m_out.push_back('"');
    return *this;
}

} // namespace sluice
