// SPDX-License-Identifier: Apache-2.0
#include "engine/windowrules.h"

#include "windowkey.h"

#include <algorithm>
#include <cmath>

namespace sluice::window {

namespace {
qint64 bucketBase(const KeyState &state, qint64 nowUs) { return std::max(state.oldestUs, nowUs); }
} // namespace

WindowSpec specFor(const PolicyDto &policy, const QByteArray &scopeKey, qint64 cost)
{
    WindowSpec spec;
    spec.kind = windowKindOf(policy.unit, policy.algorithm);
    const WindowKindInfo &k = kindInfo(spec.kind);
    spec.key = scopeKey + windowKeySuffix(k.unit, k.algorithm);
    spec.windowUs = k.lease ? 0 : policy.windowSeconds * 1000000;
    spec.limit = policy.limit;
    spec.weight = k.unit == Unit::Tokens ? cost : 1;
    spec.burst = k.bucket ? policy.capacity() : 0;
    spec.shadow = policy.shadow;
    return spec;
}

qint64 capacity(const WindowSpec &spec) { return spec.isBucket() ? spec.burst : spec.limit; }

bool fits(const WindowSpec &spec, const KeyState &state)
{
    if (spec.isBucket())
        return spec.limit > 0 && spec.weight <= spec.burst && state.used + spec.weight <= spec.burst;
    return state.used + spec.weight <= spec.limit && !state.full;
}

qint64 waitUs(const WindowSpec &spec, const KeyState &state, qint64 nowUs)
{
    if (spec.isLease())
        return 1000000;
    if (spec.isBucket()) {
        if (spec.limit <= 0 || spec.weight > spec.burst)
            return spec.windowUs;
        const double t = spec.usPerToken();
        return static_cast<qint64>(std::ceil(static_cast<double>(bucketBase(state, nowUs) - nowUs)
                                             + static_cast<double>(spec.weight) * t - static_cast<double>(spec.burst) * t));
    }
    return state.oldestUs >= 0 ? state.oldestUs + spec.windowUs - nowUs : spec.windowUs;
}

qint64 resetUs(const WindowSpec &spec, const KeyState &state, bool charged, qint64 nowUs, qint64 leaseUs)
{
    if (spec.isBucket()) {
        const qint64 base = bucketBase(state, nowUs);
        const qint64 full = charged ? base + static_cast<qint64>(std::ceil(static_cast<double>(spec.weight) * spec.usPerToken())) : base;
        return full - nowUs;
    }
    // A lease's entry is its expiry; a log's entry leaves a window after its time.
    const qint64 windowUs = spec.isLease() ? 0 : spec.windowUs;
    const qint64 oldest = state.oldestUs >= 0 ? state.oldestUs : charged ? nowUs + (spec.isLease() ? leaseUs : 0) : -1;
    return oldest >= 0 ? oldest + windowUs - nowUs : windowUs;
}

qint64 remaining(const WindowSpec &spec, const KeyState &state, bool charged)
{
    return std::max<qint64>(0, capacity(spec) - (charged ? state.used + spec.weight : state.used));
}

KeyState bucketState(const WindowSpec &spec, double tatUs, qint64 nowUs)
{
    const double base = std::max(tatUs, static_cast<double>(nowUs));
    const double drained = (base - static_cast<double>(nowUs)) / spec.usPerToken();
    KeyState s;
    s.used = static_cast<qint64>(std::ceil(drained - 1e-9));
    s.oldestUs = static_cast<qint64>(std::ceil(base));
    return s;
}

} // namespace sluice::window
