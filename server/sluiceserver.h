// SPDX-License-Identifier: Apache-2.0
// The whole server, wired: loads the registry, builds the shared context, and runs N HTTP threads
// that share one port (each thread: its own HttpApi, window store connection, CheckService and
// top-blocked table). main() and the in-process HTTP tests both drive this class.
#pragma once

#include "http/servercontext.h"
#include "serverconfig.h"

#include <QObject>
#include <QThread>
#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace sluice {

class WindowStore;
class MemoryWindowStore;
class ServerWorker;
class RegistryLoader;
class GrpcDoor;
class PoolController;

class SluiceServer : public QObject
{
    Q_OBJECT
public:
    explicit SluiceServer(ServerConfig config, QObject *parent = nullptr);
    ~SluiceServer() override;

    // Loads the first registry snapshot, starts the threads and listens. False + *error when it
    // cannot (the server never serves without a snapshot); secrets are masked in *error.
    bool start(QString *error);
    void stop();

    quint16 port() const { return m_port; }
    // The gRPC door's port (0 when it is off).
    quint16 grpcPort() const;
    const ServerConfig &config() const { return m_config; }
    const std::shared_ptr<ServerContext> &context() const { return m_context; }
    const std::shared_ptr<MemoryWindowStore> &memory() const { return m_memory; }
    // Swaps in a new registry (the embedded admin API, the Postgres loader).
    void setRegistry(RegistryData data);

private:
    bool loadInitialRegistry(QString *error);
    std::shared_ptr<WindowStore> makeThreadStore();

    ServerConfig m_config;
    std::shared_ptr<ServerContext> m_context;
    std::shared_ptr<MemoryWindowStore> m_memory; // the embedded store, or the local fallback
    std::vector<QThread *> m_threads;
    std::vector<ServerWorker *> m_workers;
    RegistryLoader *m_loader = nullptr; // Postgres mode: keeps the snapshot in step
    std::unique_ptr<GrpcDoor> m_grpc;   // --grpc-port
    PoolController *m_pools = nullptr;  // the GPU pools' load controller (design §14)
    std::atomic<size_t> m_nextWorker{0};
    quint16 m_port = 0;
};

} // namespace sluice
