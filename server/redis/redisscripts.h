// SPDX-License-Identifier: Apache-2.0
// The Lua scripts of the Redis stores (compiled in from resources/lua/) with their SHA-1, the
// member format, and the decoding of their replies. Shared by the single-node and Cluster stores.
#pragma once

#include "redis/layer.h"

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
};

// Unique, compact members: a random per-store prefix and a base-36 counter (+ "*w" when w != 1).
class MemberIds
{
public:
    MemberIds();
    QByteArray next(qint64 weight);

private:
    QByteArray m_prefix;
    quint64 m_counter = 0;
};

// EVALSHA argv for window_check.lua over `specs`. allOldest: return every key's oldest entry
// (a Cluster slot group cannot tell which key will be the primary); otherwise only the ones the
// decision needs.
QList<QByteArray> checkArgv(const QByteArray &sha, const std::vector<const WindowSpec *> &specs,
                            const QByteArray &member, qint64 cost, bool allOldest);
// Decodes {now, admitted, used_1, oldest_1, …}: false when the reply is not of that shape.
bool decodeCheckReply(const RedisReply &reply, size_t keys, qint64 *now, bool *admitted, std::vector<KeyState> *states);
bool isNoScript(const RedisReply &reply);

} // namespace sluice
