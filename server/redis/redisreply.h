// SPDX-License-Identifier: Apache-2.0
// Our own value type for a Redis reply, converted from hiredis's redisReply at once, so nothing
// outside the connection ever touches hiredis memory (it is freed when the callback returns).
#pragma once

#include <QByteArray>
#include <QString>
#include <vector>

namespace sluice {

struct RedisReply
{
    enum class Type { Nil, Status, Error, Integer, String, Array };
    Type type = Type::Nil;
    qint64 integer = 0;
    QByteArray str; // String, Status, Error
    std::vector<RedisReply> elements;

    bool isError() const { return type == Type::Error; }
};

// A call's outcome: a reply (which may itself be a Redis error), or why there is none.
struct RedisResult
{
    bool ok = false;      // false: no reply (not connected, connection lost, timeout)
    QString error;        // when !ok
    RedisReply reply;
};

} // namespace sluice
