// SPDX-License-Identifier: Apache-2.0
#include "engine/windowkind.h"

namespace sluice {

//                                kind                        unit              algorithm                code  log    lease  bucket reweighable
const WindowKindInfo kWindowKinds[5] = {
    {WindowKind::RequestLog,    Unit::Requests,   Algorithm::SlidingLog,  'r', true,  false, false, false},
    {WindowKind::TokenLog,      Unit::Tokens,     Algorithm::SlidingLog,  't', true,  false, false, true},
    {WindowKind::Leases,        Unit::Concurrent, Algorithm::SlidingLog,  'c', false, true,  false, false},
    {WindowKind::RequestBucket, Unit::Requests,   Algorithm::TokenBucket, 'b', false, false, true,  false},
    {WindowKind::TokenBucket,   Unit::Tokens,     Algorithm::TokenBucket, 'B', false, false, true,  true},
};

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
