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

} // namespace sluice
