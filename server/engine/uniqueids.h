// SPDX-License-Identifier: Apache-2.0
// Unique, compact ids for log members and reservations: a random per-generator prefix (8 of 62
// characters: two generators in a fleet collide with odds of 1 in 2×10^14) and a base-36 counter.
// One generator per store, used on its thread.
#pragma once

#include "engine/layer.h"

#include <QByteArray>

namespace sluice {

class UniqueIds
{
public:
    // `tag` starts every id (the memory store's "m" tells its reservations from Redis's).
    explicit UniqueIds(QByteArray tag = QByteArray());
    QByteArray next();

private:
    QByteArray m_prefix;
    quint64 m_counter = 0;
};

} // namespace sluice
