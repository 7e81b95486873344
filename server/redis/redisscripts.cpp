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

const RedisScript &RedisScript::poolStep()
{
    static const RedisScript s = load(QStringLiteral(":/lua/pool_step.lua"));
    return s;
}

QByteArray poolKey(const QString &pool) { return QByteArrayLiteral("sluice:{pool:") + pool.toUtf8() + '}'; }

QList<QByteArray> poolStepArgs(const QString &pool, const PoolReading &reading, const PoolStepParams &params)
{
    auto num = [](double v) { return QByteArray::number(v, 'g', 17); };
    return {QByteArrayLiteral("EVALSHA"), RedisScript::poolStep().sha1, QByteArrayLiteral("1"), poolKey(pool),
            num(reading.valid() ? reading.queue : -1), num(reading.valid() ? reading.kvCache : -1),
            QByteArray::number(reading.valid() ? reading.ageMs : -1), reading.source.toUtf8(), num(params.queueThreshold),
            num(params.kvCacheThreshold), QByteArray::number(params.staleMs), num(params.decrease), num(params.increase),
            num(params.minFactor), num(params.maxFactor), QByteArray::number(params.stepMs)};
}

std::optional<PoolState> decodePoolStepReply(const RedisResult &r, QString *error)
{
    const auto &e = r.reply.elements;
    if (!r.ok || r.reply.type != RedisReply::Type::Array || e.size() != 7) {
        *error = r.ok ? QStringLiteral("unexpected reply from Redis: %1").arg(QString::fromUtf8(r.reply.str)) : r.error;
        return std::nullopt;
    }
    PoolState s;
    s.factor = e[0].str.toDouble();
    s.saturation = e[1].str.toDouble();
    s.queue = e[2].str.toDouble();
    s.kvCache = e[3].str.toDouble();
    s.signalAgeMs = e[4].str.toLongLong();
    s.source = QString::fromUtf8(e[5].str);
    s.stale = e[6].str == "1";
    return s;
}

QByteArray scriptKind(const WindowSpec &spec) { return QByteArray(1, scriptKindCode(spec)); }

QByteArray scriptUsPerToken(const WindowSpec &spec)
{
    return spec.isBucket() ? QByteArray::number(spec.usPerToken(), 'g', 17) : QByteArrayLiteral("0");
}

void appendTakeBackArgs(QList<QByteArray> &argv, const WindowSpec &spec)
{
    argv << QByteArray::number(spec.weight) << scriptKind(spec) << scriptUsPerToken(spec);
}

void appendUsageArgs(QList<QByteArray> &argv, const WindowSpec &spec)
{
    argv << scriptKind(spec) << QByteArray::number(spec.isLog() ? spec.windowUs : 0) << scriptUsPerToken(spec);
}

bool decodeUsageReply(const RedisResult &r, const std::vector<WindowSpec> &keys, std::vector<KeyUsage> *out)
{
    if (!r.ok || r.reply.type != RedisReply::Type::Array || r.reply.elements.size() != 1 + 2 * keys.size())
        return false;
    const qint64 now = r.reply.elements[0].integer;
    out->clear();
    for (size_t i = 0; i < keys.size(); ++i)
        out->push_back({keys[i].key, r.reply.elements[1 + 2 * i].integer, r.reply.elements[2 + 2 * i].integer, now});
    return true;
}

QByteArray reservationKey(const QByteArray &id) { return QByteArrayLiteral("sluice:{res:") + id + '}'; }

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

bool isNoScript(const RedisReply &reply)
{
    return reply.isError() && reply.str.startsWith("NOSCRIPT");
}

} // namespace sluice
