// SPDX-License-Identifier: Apache-2.0
// Our own value type for a Redis reply, converted from hiredis's redisReply at once, so nothing
// outside the connection ever touches hiredis memory (it is freed when the callback returns).
#pragma once

#include "redis/layer.h"

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

// Our value from a hiredis `redisReply *` (passed as void * so that this header needs no hiredis).
RedisReply redisReplyFromHiredis(const void *hiredisReply);

// hiredis 0.14 allocates a reply array up front from the count the server sends ("*222222222\r\n"
// makes it calloc 1.7 GB before a single element arrives: found by fuzz/fuzz_redisreply.cpp). Our
// replies never hold more than kMaxReplyElements elements, so a larger count is refused: the
// reader fails and the connection is dropped, instead of the process being killed for its memory.
constexpr int kMaxReplyElements = 1 << 20;
// Installs the bounded reply functions on a hiredis redisReader (passed as void *); they also keep
// the reader thread's freed reply objects for its next replies (redisreply.cpp).
void boundReplyReader(void *hiredisReader);

// hiredis's RESP reader behind our types: bytes in, RedisReply values out. The connection's
// replies go through the same reader; this door exists for tests and the fuzzer.
class RedisReplyReader
{
public:
    enum class Next { Reply, NeedMore, ProtocolError };
    RedisReplyReader();
    ~RedisReplyReader();
    RedisReplyReader(const RedisReplyReader &) = delete;
    RedisReplyReader &operator=(const RedisReplyReader &) = delete;

    void feed(const QByteArray &bytes);
    // The next whole reply, if the bytes fed so far hold one; ProtocolError for bytes that are not
    // RESP (the reader is unusable after that).
    Next next(RedisReply *reply, QString *error = nullptr);

private:
    void *m_reader; // redisReader
};

// A call's outcome: a reply (which may itself be a Redis error), or why there is none.
struct RedisResult
{
    bool ok = false;      // false: no reply (not connected, connection lost, timeout)
    QString error;        // when !ok
    RedisReply reply;
};

} // namespace sluice
