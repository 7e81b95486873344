// SPDX-License-Identifier: Apache-2.0
#include "redis/redisscripts.h"

#include <QCryptographicHash>
#include <QFile>

namespace sluice {

namespace {
QByteArray read(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("the Lua script %s is missing from the resources", qPrintable(path));
    return f.readAll();
}

// `library` goes in front of the script (Redis scripts cannot call one another).
RedisScript load(const QString &path, const QString &library = QString())
{
    RedisScript s;
    s.source = (library.isEmpty() ? QByteArray() : read(library) + '\n') + read(path);
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

const RedisScript &RedisScript::reservation()
{
    static const RedisScript s = load(QStringLiteral(":/lua/reservation.lua"), QStringLiteral(":/lua/reservation_lib.lua"));
    return s;
}

const RedisScript &RedisScript::reservationApply()
{
    static const RedisScript s = load(QStringLiteral(":/lua/reservation_apply.lua"), QStringLiteral(":/lua/reservation_lib.lua"));
    return s;
}

const RedisScript &RedisScript::rollback()
{
    static const RedisScript s = load(QStringLiteral(":/lua/window_rollback.lua"), QStringLiteral(":/lua/reservation_lib.lua"));
    return s;
}

QByteArray scriptKind(const WindowSpec &spec)
{
    if (spec.lease)
        return QByteArrayLiteral("c");
    if (spec.bucket)
        return spec.reweighable ? QByteArrayLiteral("B") : QByteArrayLiteral("b");
    return spec.reweighable ? QByteArrayLiteral("t") : QByteArrayLiteral("r");
}

QByteArray memberOf(const QByteArray &id, qint64 weight)
{
    return weight == 1 ? id : id + '*' + QByteArray::number(weight);
}

QByteArray reservationKey(const QByteArray &id) { return QByteArrayLiteral("sluice:{res:") + id + '}'; }

QList<QByteArray> checkArgv(const std::vector<const WindowSpec *> &specs, const QByteArray &id, qint64 leaseUs,
                            const QByteArray &recordKey)
{
    QList<QByteArray> argv;
    argv.reserve(8 + 7 * static_cast<qsizetype>(specs.size()));
    argv << QByteArrayLiteral("EVALSHA") << RedisScript::check().sha1
         << QByteArray::number(static_cast<qsizetype>(specs.size()) + (recordKey.isEmpty() ? 0 : 1));
    for (const WindowSpec *s : specs)
        argv << s->key;
    if (!recordKey.isEmpty())
        argv << recordKey;
    argv << id << QByteArray::number(leaseUs)
         << (recordKey.isEmpty() ? QByteArrayLiteral("0") : QByteArrayLiteral("1"));
    for (const WindowSpec *s : specs) {
        argv << QByteArray::number(s->windowUs) << QByteArray::number(s->limit) << QByteArray::number(s->weight)
             << scriptKind(*s) << QByteArray::number(s->burst) << (s->shadow ? QByteArrayLiteral("1") : QByteArrayLiteral("0"));
    }
    return argv;
}

ReservationReply decodeReservationReply(const RedisResult &r)
{
    ReservationReply out;
    const auto &e = r.reply.elements;
    if (!r.ok || r.reply.type != RedisReply::Type::Array || e.size() != 4) {
        out.outcome.status = ReservationOutcome::Status::Unavailable;
        out.outcome.error = r.ok ? QStringLiteral("unexpected reply from Redis: %1").arg(QString::fromUtf8(r.reply.str)) : r.error;
        return out;
    }
    const QByteArray status = e[0].str;
    out.outcome.status = status == "ok"     ? ReservationOutcome::Status::Done
                       : status == "done" ? ReservationOutcome::Status::AlreadyCompleted
                                          : ReservationOutcome::Status::NotFound;
    out.estimate = e[1].type == RedisReply::Type::Integer ? e[1].integer : e[1].str.toLongLong();
    out.outcome.leaseExpiresInUs = e[2].type == RedisReply::Type::Integer ? e[2].integer : e[2].str.toLongLong();
    out.keysJson = e[3].str;
    return out;
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
