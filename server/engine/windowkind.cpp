// SPDX-License-Identifier: Apache-2.0
#include "engine/windowkind.h"

namespace sluice {

WindowKind windowKindOf(Unit unit, Algorithm algorithm)
{
    if (unit == Unit::Concurrent)
        return WindowKind::Leases;
    for (const WindowKindInfo &k : kWindowKinds) {
        if (k.unit == unit && k.algorithm == algorithm)
            return k.kind;
    }
    return WindowKind::RequestLog;
}

} // namespace sluice
