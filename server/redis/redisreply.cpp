// SPDX-License-Identifier: Apache-2.0
#include "redis/redisreply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

namespace sluice {

RedisReply redisReplyFromHiredis(const void *hiredisReply)
{
    const auto *r = static_cast<const redisReply *>(hiredisReply);
    RedisReply out;
    switch (r->type) {
    case REDIS_REPLY_STRING:
        out.type = RedisReply::Type::String;
        out.str = QByteArray(r->str, static_cast<qsizetype>(r->len));
        break;
    case REDIS_REPLY_STATUS:
        out.type = RedisReply::Type::Status;
        out.str = QByteArray(r->str, static_cast<qsizetype>(r->len));
        break;
    case REDIS_REPLY_ERROR:
        out.type = RedisReply::Type::Error;
        out.str = QByteArray(r->str, static_cast<qsizetype>(r->len));
        break;
    case REDIS_REPLY_INTEGER:
        out.type = RedisReply::Type::Integer;
        out.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.type = RedisReply::Type::Array;
        out.elements.reserve(r->elements);
        for (size_t i = 0; i < r->elements; ++i)
            out.elements.push_back(redisReplyFromHiredis(r->element[i]));
        break;
    default:
        out.type = RedisReply::Type::Nil;
    }
    return out;
}

namespace {
// hiredis's own reply functions (a static table inside hiredis), and ours: the same, but an array
// larger than kMaxReplyElements is refused (NULL: the reader reports out of memory and stops).
const redisReplyObjectFunctions &hiredisFunctions()
{
    static const redisReplyObjectFunctions functions = [] {
        redisReader *probe = redisReaderCreate();
        const redisReplyObjectFunctions copy = *probe->fn;
        redisReaderFree(probe);
        return copy;
    }();
    return functions;
}

void *createBoundedArray(const redisReadTask *task, int elements)
{
    if (elements > kMaxReplyElements)
        return nullptr;
    return hiredisFunctions().createArray(task, elements);
}

redisReplyObjectFunctions *boundedFunctions()
{
    static redisReplyObjectFunctions functions = [] {
        redisReplyObjectFunctions f = hiredisFunctions();
        f.createArray = &createBoundedArray;
        return f;
    }();
    return &functions;
}
} // namespace

void boundReplyReader(void *hiredisReader)
{
    static_cast<redisReader *>(hiredisReader)->fn = boundedFunctions();
}

RedisReplyReader::RedisReplyReader() : m_reader(redisReaderCreate())
{
    boundReplyReader(m_reader);
}

RedisReplyReader::~RedisReplyReader() { redisReaderFree(static_cast<redisReader *>(m_reader)); }

void RedisReplyReader::feed(const QByteArray &bytes)
{
    redisReaderFeed(static_cast<redisReader *>(m_reader), bytes.constData(), static_cast<size_t>(bytes.size()));
}

RedisReplyReader::Next RedisReplyReader::next(RedisReply *reply, QString *error)
{
    auto *reader = static_cast<redisReader *>(m_reader);
    void *raw = nullptr;
    if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
        if (error)
            *error = reader->err == REDIS_ERR_OOM
                ? QStringLiteral("a reply array larger than %1 elements (or out of memory)").arg(kMaxReplyElements)
                : QString::fromLocal8Bit(reader->errstr);
        return Next::ProtocolError;
    }
    if (!raw)
        return Next::NeedMore;
    *reply = redisReplyFromHiredis(raw);
    freeReplyObject(raw);
    return Next::Reply;
}

} // namespace sluice
