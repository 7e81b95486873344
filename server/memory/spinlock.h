// SPDX-License-Identifier: Apache-2.0
// A test-and-test-and-set spin lock for the memory store's shards. Critical sections there are a
// few hundred nanoseconds and bounded (no sweep ever runs under one): spinning, then yielding,
// beats parking a thread in the kernel, and an uncontended lock is one atomic exchange.
#pragma once

#include "memory/layer.h"

#include <atomic>
#include <thread>

namespace sluice {

class SpinLock
{
public:
    void lock()
    {
        for (int spins = 0; m_locked.exchange(true, std::memory_order_acquire); ++spins) {
            while (m_locked.load(std::memory_order_relaxed)) {
                if (++spins > 64)
                    std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
                else
                    __builtin_ia32_pause();
#endif
            }
        }
    }
    void unlock() { m_locked.store(false, std::memory_order_release); }

private:
    std::atomic<bool> m_locked{false};
};

} // namespace sluice
