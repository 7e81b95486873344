// SPDX-License-Identifier: Apache-2.0
#include "memory/reservationtable.h"

namespace sluice {

MemoryReservation *ReservationTable::find(const QByteArray &id, qint64 nowUs)
{
    const auto it = m_records.find(id);
    if (it == m_records.end() || it->second.expiresUs <= nowUs)
        return nullptr;
    return &it->second;
}

void ReservationTable::insert(const QByteArray &id, MemoryReservation reservation)
{
    m_expiries.emplace_back(reservation.expiresUs, id);
    m_records.insert_or_assign(id, std::move(reservation));
}

void ReservationTable::renew(MemoryReservation &reservation, qint64 expiresUs)
{
    reservation.expiresUs = expiresUs; // its queue entry goes to the back when it comes up
}

int ReservationTable::expireSome(qint64 nowUs, int max, int *visited)
{
    int freed = 0, seen = 0;
    while (seen < max && !m_expiries.empty() && m_expiries.front().first <= nowUs) {
        ++seen;
        auto entry = std::move(m_expiries.front());
        m_expiries.pop_front();
        const auto it = m_records.find(entry.second);
        if (it == m_records.end())
            continue;
        if (it->second.expiresUs > nowUs) { // renewed since it was queued: one entry per record, requeued
            entry.first = it->second.expiresUs;
            m_expiries.push_back(std::move(entry));
            continue;
        }
        m_records.erase(it);
        ++freed;
    }
    if (visited)
        *visited = seen;
    return freed;
}

} // namespace sluice
