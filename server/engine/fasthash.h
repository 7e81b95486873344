// SPDX-License-Identifier: Apache-2.0
// A fast hash for the policy snapshot's indexes. Qt 6.4's qHash for strings is SipHash on CPUs
// without the AES path: ~60 ns for a short id, and a check does a dozen lookups. This mixes 8
// bytes at a time and is seeded per process. It is NOT a keyed PRF and makes no claim against
// chosen collisions: it is only used for tables whose keys come from the registry (operators'
// entities and policies), where a caller's id is looked up but never inserted, so a caller cannot
// grow a probe chain. Tables that insert caller-chosen ids (the memory store) use SipHash-1-3 with
// a per-process key (siphash.h).
#pragma once

#include "engine/layer.h"

#include <QByteArray>
#include <QRandomGenerator>
#include <QString>
#include <cstdint>
#include <cstring>

namespace sluice {

inline uint64_t hashSeed()
{
    static const uint64_t seed = QRandomGenerator::system()->generate64() | 1;
    return seed;
}

inline uint64_t fastHashBytes(const void *data, size_t size)
{
    const auto *p = static_cast<const unsigned char *>(data);
    uint64_t h = hashSeed() ^ (size * 0x9E3779B97F4A7C15ULL);
    while (size >= 8) {
        uint64_t chunk;
        std::memcpy(&chunk, p, 8);
        h = (h ^ chunk) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 29;
        p += 8;
        size -= 8;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p, size);
    h = (h ^ tail) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 32;
    return h;
}

struct FastHash
{
    size_t operator()(const QString &s) const noexcept
    {
        return fastHashBytes(s.constData(), static_cast<size_t>(s.size()) * sizeof(QChar));
    }
    size_t operator()(const QByteArray &b) const noexcept
    {
        return fastHashBytes(b.constData(), static_cast<size_t>(b.size()));
    }
    size_t operator()(const std::pair<QString, QString> &p) const noexcept
    {
        return (*this)(p.first) * 31 + (*this)(p.second);
    }
};

} // namespace sluice
