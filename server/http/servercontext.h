// SPDX-License-Identifier: Apache-2.0
// What every HTTP thread's routes share: the settings they need, the current policy snapshot,
// the metrics, the top-blocked board, the admin backend, the registry's status and the board of
// every thread's store (so /health and /metrics describe the whole process). Filled by the server
// wiring before any thread serves; everything here is thread-safe.
#pragma once

#include "http/layer.h"

#include "engine/adminbackend.h"
#include "engine/metrics.h"
#include "engine/policysnapshot.h"
#include "engine/poolboard.h"
#include "engine/topblocked.h"
#include "engine/usagehistory.h"
#include "http/workerboard.h"

#include <QDateTime>
#include <QJsonObject>
#include <functional>
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
    QString adminToken;          // empty: the admin API is off (403)
    QString failureMode = QStringLiteral("local");
    QStringList warnings;        // of the configuration (ServerConfig::warnings), shown by /health
    int threads = 1;
    std::shared_ptr<SnapshotHolder> snapshots;
    std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
    std::shared_ptr<TopBlockedBoard> topBlocked = std::make_shared<TopBlockedBoard>();
    std::shared_ptr<AdminBackend> admin; // the registry the admin API edits
    std::shared_ptr<UsageHistory> usage = std::make_shared<UsageHistory>(); // /admin/analytics
    RegistryStatus registry;
    // GPU pools (design §14): their live state, and the controller's settings (--pool-*).
    std::shared_ptr<PoolBoard> pools = std::make_shared<PoolBoard>();
    PoolStepParams poolSettings;
    QString prometheusUrl;
    WorkerBoard workers;
    // The process memory store's own state (embedded store or local fallback), read from any thread.
    std::function<QJsonObject()> memoryHealth;
    // The process memory store's counters, typed, for /metrics (keys, bound, reservations, refusals).
    struct MemoryCounters
    {
        qint64 keys = 0, maxKeys = 0, reservations = 0, refusedFull = 0;
    };
    std::function<MemoryCounters()> memoryCounters;
    // The inference door's figures for /metrics (set when --upstream is).
    std::function<void(QByteArray &out)> doorMetrics;
    QDateTime startedAt = QDateTime::currentDateTimeUtc();
};

} // namespace sluice
