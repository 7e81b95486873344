// SPDX-License-Identifier: Apache-2.0
#include "redis/redisreply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <cstdlib>
#include <cstring>

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

// Reply objects of the reader's thread kept for the next reply: a check call's reply is an array
// of ~11 integers per check, and hiredis callocs and frees each (10 % of a Redis-mode check's
// instructions in the server). Every object is still one malloc'd redisReply, made like hiredis
// makes it, so hiredis's own freeReplyObject may free any of them; only ours keeps them.
struct ReplyPool
{
    redisReply *head = nullptr; // linked through `element`
    int count = 0;
    ~ReplyPool();
};
constexpr int kPooledReplies = 1024;
thread_local ReplyPool replyPool;
thread_local bool replyPoolGone = false; // (trivially destroyed: readable after the pool's end)

ReplyPool::~ReplyPool()
{
    replyPoolGone = true;
    while (head) {
        redisReply *next = reinterpret_cast<redisReply *>(head->element);
        std::free(head);
        head = next;
    }
}

redisReply *newReply(const redisReadTask *task, int type)
{
    redisReply *r;
    if (!replyPoolGone && replyPool.head) {
        r = replyPool.head;
        replyPool.head = reinterpret_cast<redisReply *>(r->element);
        --replyPool.count;
        std::memset(r, 0, sizeof *r);
    } else {
        r = static_cast<redisReply *>(std::calloc(1, sizeof(redisReply)));
        if (!r)
            return nullptr;
    }
    r->type = type;
    if (task->parent) // (hiredis's rule: the parent is an array with room at idx)
        static_cast<redisReply *>(task->parent->obj)->element[task->idx] = r;
    return r;
}

void freePooled(void *object)
{
    auto *r = static_cast<redisReply *>(object);
    if (!r)
        return;
    switch (r->type) {
    case REDIS_REPLY_ARRAY:
        for (size_t i = 0; i < r->elements; ++i)
            freePooled(r->element[i]);
        std::free(r->element);
        break;
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_STRING:
        std::free(r->str);
        break;
    default:
        break;
    }
    if (replyPoolGone || replyPool.count >= kPooledReplies) {
        std::free(r);
        return;
    }
    r->element = reinterpret_cast<redisReply **>(replyPool.head);
    replyPool.head = r;
    ++replyPool.count;
}

void *createPooledInteger(const redisReadTask *task, long long value)
{
    redisReply *r = newReply(task, REDIS_REPLY_INTEGER);
    if (r)
        r->integer = value;
    return r;
}

void *createBoundedArray(const redisReadTask *task, int elements)
{
    if (elements > kMaxReplyElements)
        return nullptr;
    redisReply *r = newReply(task, REDIS_REPLY_ARRAY);
    if (r && elements > 0) {
        r->element = static_cast<redisReply **>(std::calloc(static_cast<size_t>(elements), sizeof(redisReply *)));
        if (!r->element) {
            if (task->parent)
                static_cast<redisReply *>(task->parent->obj)->element[task->idx] = nullptr;
            freePooled(r);
            return nullptr;
        }
        r->elements = static_cast<size_t>(elements);
    }
    return r;
}

redisReplyObjectFunctions *boundedFunctions()
{
    static redisReplyObjectFunctions functions = [] {
        redisReplyObjectFunctions f = hiredisFunctions(); // (strings and nil: hiredis's own, rare here)
        f.createArray = &createBoundedArray;
        f.createInteger = &createPooledInteger;
        f.freeObject = &freePooled;
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
    reader->fn->freeObject(raw);
    return Next::Reply;
}

} // namespace sluice
