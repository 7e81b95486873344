// SPDX-License-Identifier: Apache-2.0
// What every server thread shares: the configuration, the current policy snapshot, the metrics,
// the process-wide memory store (the embedded store, or the local fallback) and the registry's
// status for /health. Everything here is thread-safe.
#pragma once

#include "adminbackend.h"
#include "memorywindowstore.h"
#include "metrics.h"
#include "policysnapshot.h"
#include "serverconfig.h"
#include "topblocked.h"

#include <QDateTime>
#include <QJsonObject>
#include <memory>
#include <mutex>

namespace sluice {

class RegistryStatus
{
public:
    void set(const QString &source, bool connected, const QString &lastError)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_source = source;
        m_connected = connected;
        m_lastError = lastError;
    }
    QJsonObject toJson(const PolicySnapshot &snapshot) const;
    bool degraded() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return !m_connected;
    }

private:
    mutable std::mutex m_mutex;
    QString m_source = QStringLiteral("built-in");
    bool m_connected = true;
    QString m_lastError;
};

struct ServerContext
{
    ServerConfig config;
    std::shared_ptr<SnapshotHolder> snapshots;
    std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
    std::shared_ptr<MemoryWindowStore> memory;
    std::shared_ptr<TopBlocked> topBlocked = std::make_shared<TopBlocked>();
    std::shared_ptr<AdminBackend> admin; // the registry the admin API edits
    RegistryStatus registry;
    QDateTime startedAt = QDateTime::currentDateTimeUtc();
};

} // namespace sluice
