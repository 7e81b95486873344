// SPDX-License-Identifier: Apache-2.0
// Keeps the registry in step with Postgres. A worker thread owns its own pqxx::connection (one
// connection per thread; never a query on an event-loop thread), LISTENs on
// sluice_policy_changed, and reloads the six tables on every notification (bursts coalesced),
// handing each RegistryData to the owner's thread through a queued signal. Postgres down: the
// last data stays in force, the worker reconnects with backoff (100 ms doubling to 5 s) and the
// status says so. loadInitial() is the one blocking call, made once by startup before serving.
#pragma once

#include "postgres/layer.h"

#include "engine/registrydata.h"

#include <QObject>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

namespace sluice {

class RegistryLoader : public QObject
{
    Q_OBJECT
public:
    explicit RegistryLoader(QString conninfo, QObject *parent = nullptr);
    ~RegistryLoader() override;

    // Blocking, at startup only: the first snapshot, or false and why.
    bool loadInitial(RegistryData *out, QString *error);
    // Starts the LISTEN/reload thread.
    void start();

Q_SIGNALS:
    void loaded(std::shared_ptr<const sluice::RegistryData> data);
    void statusChanged(bool connected, const QString &error);

private:
    void run();
    void setStatus(bool connected, const QString &error);
    bool sleepInterruptibly(int ms);

    std::string m_conninfo;
    QString m_secret; // the conninfo's password: masked in every message
    std::thread m_thread;
    std::atomic<bool> m_stop{false};
    mutable std::mutex m_mutex;
    bool m_connected = false;
    QString m_lastError;
};

// libpq conninfo with a connect timeout added when it has none (a dead host must not hang us).
std::string withConnectTimeout(const QString &conninfo);

} // namespace sluice
