// SPDX-License-Identifier: Apache-2.0
#include "windowkey.h"

namespace sluice {

void appendEscapedId(QByteArray &out, const QString &id)
{
    const QByteArray utf8 = id.toUtf8();
    for (char c : utf8) {
        switch (c) {
        case '%': out.append("%25", 3); break;
        case ':': out.append("%3A", 3); break;
        case '{': out.append("%7B", 3); break;
        case '}': out.append("%7D", 3); break;
        default: out.append(c);
        }
    }
}

QByteArray windowKey(Scope scope, const QString &id1, const QString &id2)
{
    QByteArray key;
    key.reserve(24 + id1.size() + id2.size());
    key.append("sluice:{", 8);
    key.append(scopeToken(scope));
    if (!id1.isNull()) {
        key.append(':');
        appendEscapedId(key, id1);
    }
    if (!id2.isNull()) {
        key.append(':');
        appendEscapedId(key, id2);
    }
    key.append('}');
    return key;
}

} // namespace sluice
