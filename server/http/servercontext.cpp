// SPDX-License-Identifier: Apache-2.0
#include "http/servercontext.h"

namespace sluice {

QJsonObject RegistryStatus::toJson(const PolicySnapshot &snapshot) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    QJsonObject o;
    o.insert(QStringLiteral("source"), m_source);
    o.insert(QStringLiteral("status"), m_connected ? QStringLiteral("ok") : QStringLiteral("degraded"));
    o.insert(QStringLiteral("snapshotLoadedAt"), snapshot.loadedAt().toString(Qt::ISODateWithMs));
    o.insert(QStringLiteral("snapshotAgeSeconds"), snapshot.loadedAt().secsTo(QDateTime::currentDateTimeUtc()));
    o.insert(QStringLiteral("policies"), static_cast<int>(snapshot.data().policies.size()));
    if (!m_lastError.isEmpty())
        o.insert(QStringLiteral("lastError"), m_lastError);
    return o;
}

} // namespace sluice
