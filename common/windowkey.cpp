// SPDX-License-Identifier: Apache-2.0
#include "windowkey.h"

#include <QByteArrayList>
#include <cstring>
#include <string>

namespace sluice {

namespace {

void appendEscaped(std::string &out, const QString &id)
{
    const QByteArray utf8 = id.toUtf8();
    const char *p = utf8.constData();
    const char *end = p + utf8.size();
    const char *run = p;
    for (; p != end; ++p) {
        const char c = *p;
        if (c != '%' && c != ':' && c != '{' && c != '}')
            continue;
        out.append(run, static_cast<size_t>(p - run));
        run = p + 1;
        switch (c) {
        case '%': out.append("%25", 3); break;
        case ':': out.append("%3A", 3); break;
        case '{': out.append("%7B", 3); break;
        default: out.append("%7D", 3); break;
        }
    }
    out.append(run, static_cast<size_t>(end - run));
}

} // namespace

void appendEscapedId(QByteArray &out, const QString &id)
{
    std::string s;
    appendEscaped(s, id);
    out.append(s.data(), static_cast<qsizetype>(s.size()));
}

namespace {

// ASCII ids without a character to escape (the common case) are copied in one pass into one
// allocation; anything else takes the general path.
bool plainAscii(const QString &s)
{
    for (QChar c : s) {
        const char16_t u = c.unicode();
        if (u >= 0x80 || u == '%' || u == ':' || u == '{' || u == '}')
            return false;
    }
    return true;
}

} // namespace

QByteArray windowKey(Scope scope, const QString &id1, const QString &id2)
{
    if (plainAscii(id1) && plainAscii(id2)) {
        const QByteArray token = scopeToken(scope);
        const qsizetype size = 8 + token.size() + (id1.isNull() ? 0 : 1 + id1.size()) + (id2.isNull() ? 0 : 1 + id2.size()) + 1;
        QByteArray key(size, Qt::Uninitialized);
        char *out = key.data();
        std::memcpy(out, "sluice:{", 8);
        out += 8;
        std::memcpy(out, token.constData(), static_cast<size_t>(token.size()));
        out += token.size();
        for (const QString *id : {&id1, &id2}) {
            if (id->isNull())
                continue;
            *out++ = ':';
            for (QChar c : *id)
                *out++ = static_cast<char>(c.unicode());
        }
        *out = '}';
        return key;
    }
    std::string key;
    key.reserve(24 + 3 * static_cast<size_t>(id1.size() + id2.size()));
    key.append("sluice:{", 8);
    const QByteArray token = scopeToken(scope);
    key.append(token.constData(), static_cast<size_t>(token.size()));
    if (!id1.isNull()) {
        key.push_back(':');
        appendEscaped(key, id1);
    }
    if (!id2.isNull()) {
        key.push_back(':');
        appendEscaped(key, id2);
    }
    key.push_back('}');
    return QByteArray(key.data(), static_cast<qsizetype>(key.size()));
}

} // namespace sluice

namespace sluice {

namespace {
std::optional<QString> unescape(const QByteArray &part)
{
    QByteArray out;
    out.reserve(part.size());
    for (qsizetype i = 0; i < part.size(); ++i) {
        const char c = part.at(i);
        if (c == ':' || c == '{' || c == '}')
            return std::nullopt;
        if (c != '%') {
            out.append(c);
            continue;
        }
        const QByteArray code = part.mid(i + 1, 2);
        if (code == "25") out.append('%');
        else if (code == "3A") out.append(':');
        else if (code == "7B") out.append('{');
        else if (code == "7D") out.append('}');
        else return std::nullopt;
        i += 2;
    }
    return QString::fromUtf8(out);
}
} // namespace

QByteArray windowKeySuffix(Unit unit, Algorithm algorithm)
{
    // (literals: no allocation on the check path)
    switch (unit) {
    case Unit::Concurrent: return QByteArrayLiteral(":leases"); // (leases have no algorithm)
    case Unit::Tokens: return algorithm == Algorithm::TokenBucket ? QByteArrayLiteral(":tokens:bucket") : QByteArrayLiteral(":tokens");
    case Unit::Requests: break;
    }
    return algorithm == Algorithm::TokenBucket ? QByteArrayLiteral(":bucket") : QByteArray();
}

std::optional<ParsedWindowKey> parseWindowKey(const QByteArray &key)
{
    ParsedWindowKey k;
    QByteArray base = key;
    // The longest suffix that matches (":tokens:bucket" before ":bucket"); none: requests.
    qsizetype matched = 0;
    for (Unit u : {Unit::Requests, Unit::Tokens, Unit::Concurrent}) {
        for (Algorithm a : {Algorithm::SlidingLog, Algorithm::TokenBucket}) {
            const QByteArray suffix = windowKeySuffix(u, a);
            if (suffix.size() > matched && key.endsWith(suffix)) {
                matched = suffix.size();
                k.unit = u;
                k.algorithm = a;
            }
        }
    }
    base.chop(matched);
    k.scopeKey = base;
    if (!base.startsWith("sluice:{") || !base.endsWith('}'))
        return std::nullopt;
    const QList<QByteArray> parts = base.mid(8, base.size() - 9).split(':');
    bool known = false;
    for (Scope s : kScopesBySpecificity) {
        if (scopeToken(s) == parts.first()) {
            k.scope = s;
            known = true;
        }
    }
    const int ids = k.scope == Scope::Global ? 0 : k.scope == Scope::UserModel ? 2 : 1;
    if (!known || parts.size() != ids + 1)
        return std::nullopt;
    if (ids >= 1) {
        auto a = unescape(parts.at(1));
        if (!a)
            return std::nullopt;
        k.id1 = *a;
    }
    if (ids == 2) {
        auto b = unescape(parts.at(2));
        if (!b)
            return std::nullopt;
        k.id2 = *b;
    }
    return k;
}

} // namespace sluice
