// SPDX-License-Identifier: Apache-2.0
// The rules of each window kind (windowkind.h), stated once. A store reports facts about a key as
// it found it before the request — a KeyState: what it holds (used), its oldest entry (a log), its
// earliest lease expiry (leases) or its TAT (a bucket), and whether the request fits — and
// everything else is judged here, the same for every store: the capacity a count is compared with,
// whether a request of the spec's weight fits, how long until it would, when the key is whole
// again, what is left. The memory store decides admission with fits(); window_check.lua states the
// same rule in Lua (it must be atomic in Redis) and names this file.
#pragma once

#include "engine/layer.h"

#include "engine/windowstore.h"
#include "policydto.h"

#include <algorithm>
#include <cmath>

namespace sluice::window {

// The window a policy makes for a request: its key (the scope's key + the kind's suffix), kind,
// window, limit, burst and the weight the request adds (1, its token cost, or 1 lease). The one
// factory from a policy to a spec: the resolver (checks) and the admin routes (usage) alike.
WindowSpec specFor(const PolicyDto &policy, const QByteArray &scopeKey, qint64 cost = 1);

// What a count is compared with: the limit, or a bucket's capacity (burst).
inline qint64 capacity(const WindowSpec &spec) { return spec.isBucket() ? spec.burst : spec.limit; }

// A request of spec.weight fits what the key holds. Logs and leases: used + weight <= limit, and
// the log is not at kMaxLogEntries (state.full). Buckets (state.used = tokens drained, rounded up):
// a limit above 0, and used + weight <= burst — which for integer weights is the exact GCRA test
// drained + weight <= burst. A weight of 0 asks whether the key is within its limit now (a look).
inline bool fits(const WindowSpec &spec, const KeyState &state)
{
    if (spec.isBucket())
        return spec.limit > 0 && spec.weight <= spec.burst && state.used + spec.weight <= spec.burst;
    return state.used + spec.weight <= spec.limit && !state.full;
}

// Microseconds until a refused request would fit (Retry-After): a log's oldest counted entry
// leaving its window; a bucket's drip of enough tokens (exact; never for a weight above the burst
// or a limit of 0: one window); a lease: one second (a completion cannot be foreseen).
inline qint64 waitUs(const WindowSpec &spec, const KeyState &state, qint64 nowUs)
{
    if (spec.isLease())
        return 1000000;
    if (spec.isBucket()) {
        if (spec.limit <= 0 || spec.weight > spec.burst)
            return spec.windowUs;
        const double t = spec.usPerToken();
        return static_cast<qint64>(std::ceil(static_cast<double>(std::max(state.oldestUs, nowUs) - nowUs)
                                             + static_cast<double>(spec.weight) * t - static_cast<double>(spec.burst) * t));
    }
    return state.oldestUs >= 0 ? state.oldestUs + spec.windowUs - nowUs : spec.windowUs;
}

// Microseconds until the key is whole again (resetSeconds): a log empty, every lease expired, a
// bucket full. `charged`: the request was added to it; leaseUs: how long its lease lives.
inline qint64 resetUs(const WindowSpec &spec, const KeyState &state, bool charged, qint64 nowUs, qint64 leaseUs)
{
    if (spec.isBucket()) {
        const qint64 base = std::max(state.oldestUs, nowUs);
        const qint64 full = charged ? base + static_cast<qint64>(std::ceil(static_cast<double>(spec.weight) * spec.usPerToken())) : base;
        return full - nowUs;
    }
    // A lease's entry is its expiry; a log's entry leaves a window after its time.
    const qint64 windowUs = spec.isLease() ? 0 : spec.windowUs;
    const qint64 oldest = state.oldestUs >= 0 ? state.oldestUs : charged ? nowUs + (spec.isLease() ? leaseUs : 0) : -1;
    return oldest >= 0 ? oldest + windowUs - nowUs : windowUs;
}

// What is left of the capacity, after the request when it was charged.
inline qint64 remaining(const WindowSpec &spec, const KeyState &state, bool charged)
{
    return std::max<qint64>(0, capacity(spec) - (charged ? state.used + spec.weight : state.used));
}

} // namespace sluice::window
