// SPDX-License-Identifier: Apache-2.0
#include "engine/windowrules.h"

#include "windowkey.h"


namespace sluice::window {

WindowSpec specFor(const PolicyDto &policy, const QByteArray &scopeKey, qint64 cost)
{
    WindowSpec spec;
    spec.kind = windowKindOf(policy.unit, policy.algorithm);
    const WindowKindInfo &k = kindInfo(spec.kind);
    const QByteArray suffix = windowKeySuffix(k.unit, k.algorithm);
    if (suffix.isEmpty()) {
        spec.key = scopeKey; // (shared: no copy)
    } else {
        spec.key.reserve(scopeKey.size() + suffix.size()); // one allocation
        spec.key.append(scopeKey).append(suffix);
    }
    spec.windowUs = k.lease ? 0 : policy.windowSeconds * 1000000;
    spec.limit = policy.limit;
    spec.weight = k.unit == Unit::Tokens ? cost : 1;
    spec.burst = k.bucket ? policy.capacity() : 0;
    spec.shadow = policy.shadow;
    return spec;
}

} // namespace sluice::window
