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

void ReservationTable::renew(const QByteArray &id, MemoryReservation &reservation, qint64 expiresUs)
{
    reservation.expiresUs = expiresUs;
    m_expiries.emplace_back(expiresUs, id);
}

int ReservationTable::expireSome(qint64 nowUs, int max)
{
    int freed = 0;
    while (freed < max && !m_expiries.empty() && m_expiries.front().first <= nowUs) {
        const auto [expires, id] = m_expiries.front();
        m_expiries.pop_front();
        const auto it = m_records.find(id);
        // Skipped when the record was renewed since (a later entry of the queue stands for it).
        if (it != m_records.end() && it->second.expiresUs == expires) {
            m_records.erase(it);
            ++freed;
        }
    }
    return freed;
}

} // namespace sluice
