// SPDX-License-Identifier: Apache-2.0
// SipHash-1-3 (Aumasson & Bernstein; the variant Rust's HashMap and Python use): a keyed PRF for
// hash tables whose keys callers choose. With a per-process random key nobody outside can compute
// which ids collide, so a flood of chosen ids cannot turn a table into a long probe chain.
#pragma once

#include "engine/layer.h"

#include <QtGlobal>
#include <cstddef>
#include <cstdint>

namespace sluice {

struct SipKey
{
    uint64_t k0 = 0;
    uint64_t k1 = 0;
};

// SipHash-c-d; sipHash13 is what the tables use, sipHash24 is the reference (the paper's vectors).
uint64_t sipHash(int compressionRounds, int finalRounds, const SipKey &key, const void *data, size_t size);
inline uint64_t sipHash13(const SipKey &key, const void *data, size_t size) { return sipHash(1, 3, key, data, size); }
inline uint64_t sipHash24(const SipKey &key, const void *data, size_t size) { return sipHash(2, 4, key, data, size); }
// The process's key, drawn once from the system's random source.
const SipKey &processSipKey();

} // namespace sluice
