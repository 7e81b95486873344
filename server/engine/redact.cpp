// SPDX-License-Identifier: Apache-2.0
#include "engine/redact.h"

#include <QRegularExpression>
#include <QUrl>

namespace sluice {

namespace {
bool isUri(const QString &s)
{
    return s.startsWith(QStringLiteral("postgres://")) || s.startsWith(QStringLiteral("postgresql://"))
        || s.startsWith(QStringLiteral("redis://")) || s.startsWith(QStringLiteral("rediss://"));
}

// key=value conninfo: password = 'quoted \' value' or a bare word.
const QRegularExpression &passwordPair()
{
    static const QRegularExpression re(QStringLiteral(R"((\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*))"),
                                       QRegularExpression::CaseInsensitiveOption);
    return re;
}

// A URI's userinfo password: scheme://user:PASSWORD@host (before the first @ after the scheme).
const QRegularExpression &uriPassword()
{
    static const QRegularExpression re(QStringLiteral(R"(^([a-z][a-z0-9+.-]*://[^:/@]*:)([^@]*)(@))"),
                                       QRegularExpression::CaseInsensitiveOption);
    return re;
}

// ?password=… in a URI's query.
const QRegularExpression &queryPassword()
{
    static const QRegularExpression re(QStringLiteral(R"(([?&]password=)([^&]*))"), QRegularExpression::CaseInsensitiveOption);
    return re;
}
} // namespace

QString redactConninfo(const QString &conninfo)
{
    QString out = conninfo;
    if (isUri(out)) {
        out.replace(uriPassword(), QStringLiteral("\\1****\\3"));
        out.replace(queryPassword(), QStringLiteral("\\1****"));
        return out;
    }
    out.replace(passwordPair(), QStringLiteral("\\1****"));
    return out;
}

QString redactUrl(const QString &url) { return redactConninfo(url); }

QString secretOf(const QString &s)
{
    if (isUri(s)) {
        const auto m = uriPassword().match(s);
        if (m.hasMatch() && !m.captured(2).isEmpty())
            return m.captured(2);
        const auto q = queryPassword().match(s);
        return q.hasMatch() ? q.captured(2) : QString();
    }
    const auto m = passwordPair().match(s);
    if (!m.hasMatch())
        return QString();
    QString v = m.captured(2);
    if (v.startsWith(QLatin1Char('\'')) && v.endsWith(QLatin1Char('\'')) && v.size() >= 2)
        v = v.mid(1, v.size() - 2).replace(QStringLiteral("\\'"), QStringLiteral("'")).replace(QStringLiteral("\\\\"), QStringLiteral("\\"));
    return v;
}

QString redactSecrets(QString text, const QStringList &secrets)
{
    for (const QString &s : secrets) {
        if (s.size() >= 3) // a one- or two-letter "secret" would mask half the message
            text.replace(s, kMasked);
        else if (!s.isEmpty())
            text.replace(QRegularExpression(QStringLiteral("\\b") + QRegularExpression::escape(s) + QStringLiteral("\\b")), kMasked);
    }
    return text;
}

} // namespace sluice
