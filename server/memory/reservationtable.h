// SPDX-License-Identifier: Apache-2.0
// The memory store's reservations (design §10): what a completion or an extension must find again
// in the logs. A record lives until its leases expire (expiry = admission + lease time, renewed
// by extend), completed or not, so a second completion can say "already completed" and an
// expired id is unknown. No locking here: the store holds its reservation lock around every call,
// and takes shard locks only after it (never the other way round).
#pragma once

#include "memory/layer.h"

#include "engine/fasthash.h"

#include <QByteArray>
#include <QString>
#include <deque>
#include <unordered_map>
#include <vector>

namespace sluice {

struct MemoryReservation
{
    struct Key
    {
        QByteArray key;
        quint64 hash = 0;
        bool lease = false; // else a reweighable (token) entry
        bool bucket = false; // a tokens token bucket: completion moves its TAT
        double nsPerToken = 0;
    };
    qint64 admittedUs = 0; // the token entries' time
    qint64 estimate = 0;   // the token entries' weight now (the estimate, then the actual count)
    qint64 expiresUs = 0;  // the leases' time (their expiry) and the record's
    bool completed = false;
    std::vector<Key> keys;
};

class ReservationTable
{
public:
    // Null when unknown or expired.
    MemoryReservation *find(const QByteArray &id, qint64 nowUs);
    void insert(const QByteArray &id, MemoryReservation reservation);
    // Moves a record's expiry later. The record keeps its one entry in the expiry queue: when it
    // comes up there renewed, it goes to the back (so extending in a loop grows nothing).
    void renew(MemoryReservation &reservation, qint64 expiresUs);
    // Looks at most `max` entries of the expiry queue that are due (a renewed one counts too) and
    // frees the expired records among them; returns how many it freed.
    int expireSome(qint64 nowUs, int max, int *visited = nullptr);
    size_t size() const { return m_records.size(); }

private:
    std::unordered_map<QByteArray, MemoryReservation, FastHash> m_records; // ids are ours: no chosen collisions
    std::deque<std::pair<qint64, QByteArray>> m_expiries; // (expiresUs, id): one per record
};

} // namespace sluice
