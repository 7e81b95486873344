// SPDX-License-Identifier: Apache-2.0
// Priority classes (design §14): who keeps being served when a GPU pool is saturated. Set on
// tenants, model tiers and API keys in the registry (API key > tenant > tier), never by the caller.
//   critical   meets only its static limits, never shed
//   standard   the default: meets the adaptive limits, scaled by the pool's factor
//   sheddable  refused while its pool is saturated
#pragma once

#include <QString>
#include <array>
#include <optional>

namespace sluice {

enum class Priority : int { Critical = 0, Standard = 1, Sheddable = 2 };

inline constexpr int kPriorityCount = 3;
inline constexpr std::array<Priority, kPriorityCount> kPriorities = {Priority::Critical, Priority::Standard, Priority::Sheddable};
inline int priorityIndex(Priority p) { return static_cast<int>(p); }

// "critical", "standard", "sheddable" (the wire, database and metric label name)
QString priorityName(Priority p);
std::optional<Priority> priorityFromName(const QString &name);

} // namespace sluice
