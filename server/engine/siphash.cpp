// SPDX-License-Identifier: Apache-2.0
#include "engine/siphash.h"

#include <QRandomGenerator>
#include <cstring>

namespace sluice {

namespace {

inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct State
{
    uint64_t v0, v1, v2, v3;
    void round()
    {
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
    }
};

inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    std::memcpy(&v, p, 8);
#if Q_BYTE_ORDER == Q_BIG_ENDIAN
    v = __builtin_bswap64(v);
#endif
    return v;
}

} // namespace

uint64_t sipHash(int c, int d, const SipKey &key, const void *data, size_t size)
{
    const auto *p = static_cast<const unsigned char *>(data);
    State s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL, key.k0 ^ 0x6c7967656e657261ULL,
            key.k1 ^ 0x7465646279746573ULL};
    const size_t whole = size & ~size_t(7);
    for (size_t i = 0; i < whole; i += 8) {
        const uint64_t m = load64(p + i);
        s.v3 ^= m;
        for (int r = 0; r < c; ++r)
            s.round();
        s.v0 ^= m;
    }
    uint64_t last = uint64_t(size & 0xff) << 56;
    for (size_t i = 0; i < (size & 7); ++i)
        last |= uint64_t(p[whole + i]) << (8 * i);
    s.v3 ^= last;
    for (int r = 0; r < c; ++r)
        s.round();
    s.v0 ^= last;
    s.v2 ^= 0xff;
    for (int r = 0; r < d; ++r)
        s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

const SipKey &processSipKey()
{
    static const SipKey key{QRandomGenerator::system()->generate64(), QRandomGenerator::system()->generate64()};
    return key;
}

} // namespace sluice
