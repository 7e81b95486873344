// SPDX-License-Identifier: Apache-2.0
// The kinds of window a policy makes (design §4, §10, §11), each defined once: the unit and
// algorithm that make it, the code the Redis scripts know it by, and its rules — what a key holds,
// whether a request fits, how long until it would, when the key is whole again. The memory store
// executes these rules; the Lua scripts (resources/lua/) implement the same ones for Redis, atomic
// in one script, and name this file; CheckService judges every store's facts with them.
//
// Adding a kind: one row in kWindowKinds (below), its branch in each function below, its
// branch in window_check.lua and window_usage.lua (they receive the row's code), and its rows in
// tests/tst_windowstores.cpp (which runs every kind on every store).
#pragma once

#include "engine/layer.h"

#include "unit.h"

#include <QtGlobal>

namespace sluice {

enum class WindowKind : quint8 {
    RequestLog,    // requests, sliding_log: an entry of weight 1 per request
    TokenLog,      // tokens, sliding_log: an entry of the request's cost, reweighed at completion
    Leases,        // concurrent: an entry per lease held, stamped with its expiry
    RequestBucket, // requests, token_bucket: one TAT per key (GCRA)
    TokenBucket,   // tokens, token_bucket: the same, drained by the cost, given back at completion
};

struct WindowKindInfo
{
    WindowKind kind;
    Unit unit;
    Algorithm algorithm;
    char code;          // what the Lua scripts are told: 'r', 't', 'c', 'b', 'B'
    bool log;           // a log of timed entries, counted over the window (RequestLog, TokenLog)
    bool lease;         // entries are leases, counted while held (no window)
    bool bucket;        // one TAT: capacity `burst`, refilled at limit per window
    bool reweighable;   // a completion's tokens replace the estimate (a reservation is made)
};

// Every kind, in WindowKind order: the one table (Lua gets the codes from it).
//                                           unit              algorithm                code  log    lease  bucket reweighable
inline constexpr WindowKindInfo kWindowKinds[5] = {
    {WindowKind::RequestLog,    Unit::Requests,   Algorithm::SlidingLog,  'r', true,  false, false, false},
    {WindowKind::TokenLog,      Unit::Tokens,     Algorithm::SlidingLog,  't', true,  false, false, true},
    {WindowKind::Leases,        Unit::Concurrent, Algorithm::SlidingLog,  'c', false, true,  false, false},
    {WindowKind::RequestBucket, Unit::Requests,   Algorithm::TokenBucket, 'b', false, false, true,  false},
    {WindowKind::TokenBucket,   Unit::Tokens,     Algorithm::TokenBucket, 'B', false, false, true,  true},
};

constexpr const WindowKindInfo &kindInfo(WindowKind kind) { return kWindowKinds[static_cast<int>(kind)]; }
static_assert(kindInfo(WindowKind::RequestLog).kind == WindowKind::RequestLog && kindInfo(WindowKind::TokenLog).kind == WindowKind::TokenLog
                  && kindInfo(WindowKind::Leases).kind == WindowKind::Leases
                  && kindInfo(WindowKind::RequestBucket).kind == WindowKind::RequestBucket
                  && kindInfo(WindowKind::TokenBucket).kind == WindowKind::TokenBucket,
              "kWindowKinds is in WindowKind order");
// The kind a policy of this unit and algorithm makes (a concurrent policy is Leases whatever its
// algorithm: validation refuses a concurrent token bucket before it gets here).
WindowKind windowKindOf(Unit unit, Algorithm algorithm);

} // namespace sluice
