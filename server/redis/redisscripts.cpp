// SPDX-License-Identifier: Apache-2.0
#include "redis/redisscripts.h"

#include <QCryptographicHash>
#include <QFile>
#include <QRandomGenerator>

namespace sluice {

namespace {
RedisScript load(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("the Lua script %s is missing from the resources", qPrintable(path));
    RedisScript s;
    s.source = f.readAll();
    s.sha1 = QCryptographicHash::hash(s.source, QCryptographicHash::Sha1).toHex();
    return s;
}
} // namespace

const RedisScript &RedisScript::check()
{
    static const RedisScript s = load(QStringLiteral(":/lua/window_check.lua"));
    return s;
}

const RedisScript &RedisScript::usage()
{
    static const RedisScript s = load(QStringLiteral(":/lua/window_usage.lua"));
    return s;
}

MemberIds::MemberIds()
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 8; ++i)
        m_prefix.append(alphabet[QRandomGenerator::system()->bounded(62)]);
}

QByteArray MemberIds::next(qint64 weight)
{
    QByteArray m = m_prefix + QByteArray::number(++m_counter, 36);
    if (weight != 1)
        m += '*' + QByteArray::number(weight);
    return m;
}

QList<QByteArray> checkArgv(const QByteArray &sha, const std::vector<const WindowSpec *> &specs, const QByteArray &member,
                            qint64 cost, bool allOldest)
{
    QList<QByteArray> argv;
    argv.reserve(6 + 3 * static_cast<qsizetype>(specs.size()));
    argv << QByteArrayLiteral("EVALSHA") << sha << QByteArray::number(static_cast<qsizetype>(specs.size()));
    for (const WindowSpec *s : specs)
        argv << s->key;
    argv << member << QByteArray::number(cost) << (allOldest ? QByteArrayLiteral("all") : QByteArrayLiteral("decision"));
    for (const WindowSpec *s : specs)
        argv << QByteArray::number(s->windowUs) << QByteArray::number(s->limit);
    return argv;
}

bool decodeCheckReply(const RedisReply &reply, size_t keys, qint64 *now, bool *admitted, std::vector<KeyState> *states)
{
    if (reply.type != RedisReply::Type::Array || reply.elements.size() != 2 + 2 * keys)
        return false;
    for (const RedisReply &e : reply.elements) {
        if (e.type != RedisReply::Type::Integer)
            return false;
    }
    *now = reply.elements[0].integer;
    *admitted = reply.elements[1].integer == 1;
    states->resize(keys);
    for (size_t i = 0; i < keys; ++i)
        (*states)[i] = {reply.elements[2 + 2 * i].integer, reply.elements[3 + 2 * i].integer};
    return true;
}

bool isNoScript(const RedisReply &reply)
{
    return reply.isError() && reply.str.startsWith("NOSCRIPT");
}

} // namespace sluice
