// SPDX-License-Identifier: Apache-2.0
// Redis replies: hiredis's RESP reader (behind RedisReplyReader) and our decoding of the check
// script's reply, over bytes a broken or hostile server could send. Decoding either succeeds with
// one state per key or says no; it never reads past what it was given.
#include "redis/redisreply.h"
#include "redis/checkbatcher.h"

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
        // batches of one to three checks of up to six keys each
        for (size_t keys = 0; keys <= 6; ++keys) {
            for (const std::vector<size_t> &perCheck : {std::vector<size_t>{keys}, std::vector<size_t>{keys, 1},
                                                         std::vector<size_t>{1, keys, 2}}) {
                qint64 now = 0;
                std::vector<bool> admitted;
                std::vector<std::vector<sluice::KeyState>> states;
                if (!sluice::decodeBatchReply(reply, perCheck, &now, &admitted, &states))
                    continue;
                if (states.size() != perCheck.size() || admitted.size() != perCheck.size())
                    std::abort();
                for (size_t c = 0; c < perCheck.size(); ++c) {
                    if (states[c].size() != perCheck[c])
                        std::abort();
                }
            }
        }
    }
    return 0;
}
