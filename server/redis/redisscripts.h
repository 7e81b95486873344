// SPDX-License-Identifier: Apache-2.0
// The Lua scripts of the Redis stores (compiled in from resources/lua/) with their SHA-1, the
// member format, and the decoding of their replies. Shared by the single-node and Cluster stores.
#pragma once

#include "redis/layer.h"

#include "redis/redisconnection.h"
#include "redis/redisreply.h"
#include "engine/windowstore.h"

#include <QByteArray>
#include <QList>

namespace sluice {

struct RedisScript
{
    QByteArray source;
    QByteArray sha1; // lower-case hex, as EVALSHA wants it
    static const RedisScript &check();
    static const RedisScript &usage();
    static const RedisScript &reservation();      // complete / extend / claim / renew by the record
    static const RedisScript &reservationApply(); // complete / extend in one Cluster slot group
    static const RedisScript &rollback();         // takes a Cluster slot group's admission back
    static const RedisScript &poolStep();         // a GPU pool's load controller (poolrules.h)
};

// Every check's id (a lease's member; the reservation id when it reserves). "r" tells them from the memory store's.
inline constexpr char kRedisIdTag = 'r';
// The kind of a key in the scripts: its code in the kinds' table (windowkind.h: 'r', 't', 'c',
// 'b' or 'B'), and a bucket's us per token as the scripts read it ("0" for other kinds).
QByteArray scriptKind(const WindowSpec &spec);
inline char scriptKindCode(const WindowSpec &spec) { return spec.info().code; } // (the same, as a byte)
QByteArray scriptUsPerToken(const WindowSpec &spec);
// One key's arguments of window_rollback.lua (weight, kind, us per token) and of window_usage.lua
// (kind, window us, us per token): each layout written in one place.
void appendTakeBackArgs(QList<QByteArray> &argv, const WindowSpec &spec);
void appendUsageArgs(QList<QByteArray> &argv, const WindowSpec &spec);
// window_usage.lua's reply {now, used_1, oldest_1, …} for `keys`: false when it is not one.
bool decodeUsageReply(const RedisResult &r, const std::vector<WindowSpec> &keys, std::vector<KeyUsage> *out);
// The reservation record of an id: "sluice:{res:<id>}" (its own slot in a Cluster).
QByteArray reservationKey(const QByteArray &id);

// The reply of reservation.lua: status, the estimate (before this call), lease left, keys JSON.
struct ReservationReply
{
    ReservationOutcome outcome;
    qint64 estimate = 0;
    QByteArray keysJson; // [[key, kind], …]
};
ReservationReply decodeReservationReply(const RedisResult &r);
// A pool's controller state: "sluice:{pool:<name>}" (its own slot in a Cluster), the EVALSHA of
// pool_step.lua for this instance's reading, and its reply (nullopt with *error when not one).
QByteArray poolKey(const QString &pool);
QList<QByteArray> poolStepArgs(const QString &pool, const PoolReading &reading, const PoolStepParams &params);
std::optional<PoolState> decodePoolStepReply(const RedisResult &r, QString *error);
bool isNoScript(const RedisReply &reply);

} // namespace sluice
