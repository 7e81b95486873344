// SPDX-License-Identifier: Apache-2.0
// Redis replies: hiredis's RESP reader (behind RedisReplyReader) and our decoding of the check
// script's reply, over bytes a broken or hostile server could send. Decoding either succeeds with
// one state per key or says no; it never reads past what it was given.
#include "redis/redisreply.h"
#include "redis/redisscripts.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sluice::RedisReplyReader reader;
    // Fed in two parts (a reply split across reads), at a point the input chooses.
    const size_t cut = size ? data[0] % (size + 1) : 0;
    reader.feed(QByteArray(reinterpret_cast<const char *>(data), static_cast<qsizetype>(cut)));
    reader.feed(QByteArray(reinterpret_cast<const char *>(data + cut), static_cast<qsizetype>(size - cut)));
    sluice::RedisReply reply;
    for (int n = 0; n < 64; ++n) {
        const auto next = reader.next(&reply);
        if (next != sluice::RedisReplyReader::Next::Reply)
            break;
        for (size_t keys = 0; keys <= 6; ++keys) {
            qint64 now = 0;
            bool admitted = false;
            std::vector<sluice::KeyState> states;
            if (sluice::decodeCheckReply(reply, keys, &now, &admitted, &states) && states.size() != keys)
                std::abort();
        }
    }
    return 0;
}
