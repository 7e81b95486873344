// SPDX-License-Identifier: Apache-2.0
// What a policy counts (design §10): requests (each admitted request weighs 1), tokens (it weighs
// its token cost, reconciled at completion) or concurrent (it holds one lease until it completes;
// no window, the limit is the number of leases held at once).
#pragma once

#include <QByteArray>
#include <QString>
#include <array>
#include <optional>

namespace sluice {

enum class Unit : int { Requests = 0, Tokens = 1, Concurrent = 2 };

inline constexpr int kUnitCount = 3;
inline constexpr std::array<Unit, kUnitCount> kUnits = {Unit::Requests, Unit::Tokens, Unit::Concurrent};
inline int unitIndex(Unit u) { return static_cast<int>(u); }

// "requests", "tokens", "concurrent" (the wire, database and metric label name)
QString unitName(Unit u);
std::optional<Unit> unitFromName(const QString &name);
// The suffix of a window key for this unit: "" for requests (the seed's keys stay as they were),
// ":tokens" and ":leases" after the hash tag (same Cluster slot as the requests key).
QByteArray unitKeySuffix(Unit u);

// How a policy counts (design §11): an exact sliding-window log, or a token bucket of `burst`
// refilled continuously at `limit` per window (GCRA: one theoretical arrival time per key).
enum class Algorithm : int { SlidingLog = 0, TokenBucket = 1 };
QString algorithmName(Algorithm a); // "sliding_log", "token_bucket"
std::optional<Algorithm> algorithmFromName(const QString &name);
// A token bucket keeps a time, not a log: its key is apart (":bucket" after the unit's suffix), so
// switching a policy's algorithm never finds the other kind of value under its key.
inline QByteArray algorithmKeySuffix(Algorithm a) { return a == Algorithm::TokenBucket ? QByteArrayLiteral(":bucket") : QByteArray(); }

// Windows from a second to 31 days (design §11).
inline constexpr qint64 kMaxWindowSeconds = 31LL * 24 * 3600;
// A sliding log keeps one entry per admitted request (a lease one per holder): at most this many per
// key, whatever the limit, so memory per key and work per call are bounded in every store (~16 MiB
// in memory, ~10 MB in Redis). A requests or concurrent policy may not ask for more; a tokens log
// refuses a request that would make it hold more (token_bucket: one number per key, any rate).
inline constexpr qint64 kMaxLogEntries = 1'000'000;
// "1 s", "90 s", "1 min", "2 h", "1 day", "31 days": what a person reads in the console.
QString readableWindow(qint64 seconds);

} // namespace sluice
