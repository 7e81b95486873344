// SPDX-License-Identifier: Apache-2.0
#include "priority.h"

namespace sluice {

QString priorityName(Priority p)
{
    switch (p) {
    case Priority::Critical: return QStringLiteral("critical");
    case Priority::Standard: return QStringLiteral("standard");
    case Priority::Sheddable: return QStringLiteral("sheddable");
    }
    return QStringLiteral("standard");
}

std::optional<Priority> priorityFromName(const QString &name)
{
    for (Priority p : kPriorities) {
        if (name == priorityName(p))
            return p;
    }
    return std::nullopt;
}

} // namespace sluice
