// SPDX-License-Identifier: Apache-2.0
#include "sluiceserver.h"

#include "door/inferencedoor.h"
#include "engine/checkservice.h"
#include "engine/memoryregistry.h"
#include "engine/redact.h"
#include "engine/registryjson.h"
#include "failover/resilientwindowstore.h"
#include "grpc/grpcdoor.h"
#include "http/adminroutes.h"
#include "http/checkroutes.h"
#include "http/forwardauthroutes.h"
#include "http/httpapi.h"
#include "http/opsroutes.h"
#include "memory/memorywindowstore.h"
#include "pools/poolcontroller.h"
#include "postgres/registryloader.h"
#include "postgres/registryrepository.h"
#include "redis/redisclusterwindowstore.h"
#include "redis/rediswindowstore.h"

#include <QFile>
#include <QElapsedTimer>
#include <QTimer>
#include <chrono>
#include <thread>

namespace sluice {

// Lives on one server thread and owns everything that thread touches.
class ServerWorker : public QObject
{
public:
    ServerWorker(std::shared_ptr<ServerContext> context, std::function<std::shared_ptr<WindowStore>()> makeStore,
                 std::shared_ptr<DoorStats> doorStats)
        : m_context(std::move(context)), m_makeStore(std::move(makeStore)), m_doorStats(std::move(doorStats)) {}

    // Runs on the worker thread.
    bool init(const ServerConfig &config, quint16 port, bool reusePort, QString *error, quint16 *boundPort)
    {
        m_store = m_makeStore();
        m_context->workers.add(this, m_store);
        m_service = std::make_unique<CheckService>(m_context->snapshots, m_store.get(), m_context->metrics,
                                                   m_context->topBlocked->add());
        m_service->setLeaseSeconds(config.leaseSeconds);
        m_service->setUsage(m_context->usage->add());
        m_service->setPools(m_context->pools);
        m_api = std::make_unique<HttpApi>();
        ConnectionLimits limits{config.requestTimeoutMs, config.idleTimeoutMs, 0, QByteArray()};
        if (!config.upstream.isEmpty()) {
            // The inference door (design §15): its chat bodies are larger than a check's.
            limits.largeBodyBytes = config.doorMaxBodyBytes;
            limits.largeBodyPrefix = "/v1/";
            DoorSettings door;
            door.upstream = QUrl(config.upstream);
            door.upstreamKey = config.upstreamApiKey.toUtf8();
            door.timeouts = {config.upstreamConnectTimeoutMs, config.upstreamFirstByteTimeoutMs, config.upstreamIdleTimeoutMs};
            door.maxResponseBytes = config.doorMaxResponseBytes;
            door.maxInFlight = config.doorMaxInFlight;
            door.defaultMaxTokens = config.doorDefaultMaxTokens;
            m_door = std::make_unique<InferenceDoor>(*m_service, *m_context, door, m_doorStats);
            m_door->install(*m_api);
        }
        m_api->setLimits(limits);
        installCheckRoutes(*m_api, *m_service, *m_context->metrics);
        ForwardAuthSettings forwardAuth;
        forwardAuth.denyStatus = config.forwardAuthDenyStatus;
        QString why;
        if (!forwardAuth.setHeaders(config.forwardAuthHeaders, &why)) { // validated by the config already
            *error = QStringLiteral("--forward-auth-headers: %1").arg(why);
            return false;
        }
        installForwardAuthRoutes(*m_api, *m_service, *m_context->metrics, forwardAuth);
        installOpsRoutes(*m_api, *m_context);
        installAdminRoutes(*m_api, *m_context, *m_store);
        installExplainRoute(*m_api, *m_context, *m_service);
        if (!m_api->listenOn(config.bind, port, reusePort, error))
            return false;
        *boundPort = m_api->port();
        return true;
    }

    // Runs on the worker thread: a check handed over by another door (gRPC). `done` runs here.
    void dispatch(const CheckRequest &request, bool peek, const CheckService::Callback &done)
    {
        if (!m_service) {
            const ApiError error = ApiError::unavailable(QStringLiteral("the server is shutting down"));
            return done(&error, Decision());
        }
        try {
            if (peek)
                m_service->peek(request, QString(), done);
            else
                m_service->check(request, QString(), done, Door::Grpc);
        } catch (const ApiError &error) {
            done(&error, Decision());
        } catch (const std::exception &e) {
            // Never out through the event loop (that would end the process), never unanswered
            // (the gRPC call would wait forever).
            qWarning("unexpected error in a check from another door: %s", e.what());
            const ApiError error = ApiError::internal(QStringLiteral("internal error"));
            done(&error, Decision());
        }
    }

    // Runs on the worker thread: a GPU pool's controller step on this thread's store.
    void poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, const WindowStore::PoolCallback &done)
    {
        if (!m_store)
            return done(std::nullopt, QStringLiteral("the server is shutting down"));
        m_store->poolStep(pool, reading, params, done);
    }

    // Runs on the worker thread: everything is destroyed where it lived.
    void shutdown()
    {
        m_door.reset();
        m_api.reset();
        m_service.reset();
        m_store.reset();
    }

private:
    std::shared_ptr<ServerContext> m_context;
    std::function<std::shared_ptr<WindowStore>()> m_makeStore;
    std::shared_ptr<WindowStore> m_store;
    std::unique_ptr<CheckService> m_service;
    std::unique_ptr<HttpApi> m_api;
    std::shared_ptr<DoorStats> m_doorStats;
    std::unique_ptr<InferenceDoor> m_door; // --upstream
};

namespace {

// Every thread of the embedded mode shares the one process-wide memory store.
class SharedStore final : public WindowStore
{
public:
    explicit SharedStore(std::shared_ptr<MemoryWindowStore> store) : m_store(std::move(store)) {}
    void check(const WindowBatch &batch, CheckCallback done) override { m_store->check(batch, std::move(done)); }
    std::optional<WindowOutcome> checkAtOnce(const WindowBatch &batch) override { return m_store->checkNow(batch); }
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override { m_store->usage(keys, std::move(done)); }
    void reset(const QByteArray &key, DoneCallback done) override { m_store->reset(key, std::move(done)); }
    void complete(const QString &id, std::optional<qint64> tokens, ReservationCallback done) override
    {
        m_store->complete(id, tokens, std::move(done));
    }
    void extend(const QString &id, qint64 leaseUs, ReservationCallback done) override { m_store->extend(id, leaseUs, std::move(done)); }
    void poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done) override
    {
        m_store->poolStep(pool, reading, params, std::move(done));
    }
    QString source() const override { return m_store->source(); }
    QJsonObject health() const override { return {{QStringLiteral("status"), QStringLiteral("ok")}}; }

private:
    std::shared_ptr<MemoryWindowStore> m_store;
};

RedisCredentials credentialsOf(const ServerConfig &c) { return {c.redisUser.toUtf8(), c.redisPassword.toUtf8()}; }

} // namespace

SluiceServer::SluiceServer(ServerConfig config, QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_context(std::make_shared<ServerContext>())
{
    m_context->usage = std::make_shared<UsageHistory>(m_config.historyDays);
    m_memory = std::make_shared<MemoryWindowStore>(
        systemClock(), m_config.storeName() == QStringLiteral("memory") ? QStringLiteral("memory") : QStringLiteral("local"),
        m_config.maxKeys);
    m_context->adminToken = m_config.adminToken;
    m_context->failureMode = m_config.failureMode;
    m_context->warnings = m_config.warnings();
    m_context->threads = m_config.effectiveThreads();
    m_context->prometheusUrl = m_config.prometheusUrl;
    m_context->poolSettings.staleMs = m_config.poolStaleSeconds * 1000LL;
    m_context->poolSettings.decrease = m_config.poolDecrease;
    m_context->poolSettings.increase = m_config.poolIncrease;
    m_context->memoryHealth = [memory = m_memory] { return memory->health(); };
    m_context->memoryCounters = [memory = m_memory] {
        return ServerContext::MemoryCounters{memory->keyCount(), memory->maxKeys(), memory->reservationCount(), memory->refusedFull()};
    };
}

SluiceServer::~SluiceServer()
{
    stop();
}

bool SluiceServer::loadInitialRegistry(QString *error)
{
    const ServerConfig &c = m_config;
    if (!c.postgres.isEmpty()) {
        m_loader = new RegistryLoader(c.postgres, this);
        RegistryData data;
        QString why;
        // The one blocking load, before anything is served: never serve without a snapshot.
        if (!m_loader->loadInitial(&data, &why)) {
            *error = redactSecrets(QStringLiteral("cannot load the registry from Postgres (%1): %2").arg(redactConninfo(c.postgres), why),
                                   c.secrets());
            return false;
        }
        m_context->snapshots = std::make_shared<SnapshotHolder>(std::make_shared<const PolicySnapshot>(std::move(data)));
        auto repository = std::make_shared<RegistryRepository>(c.postgres);
        m_context->admin = repository;
        m_context->usage->setSink(repository); // the usage history goes to usage_minute
        m_context->registry.set(QStringLiteral("postgres"), true, QString());
        connect(m_loader, &RegistryLoader::loaded, this, [this](std::shared_ptr<const RegistryData> data) {
            setRegistry(*data);
        });
        connect(m_loader, &RegistryLoader::statusChanged, this, [this](bool connected, const QString &why) {
            m_context->registry.set(QStringLiteral("postgres"), connected, redactSecrets(why, m_config.secrets()));
        });
        m_loader->start();
        return true;
    }
    if (!c.registryFile.isEmpty()) {
        QFile f(c.registryFile);
        if (!f.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read the registry file %1: %2").arg(c.registryFile, f.errorString());
            return false;
        }
        QString why;
        auto data = registryFromJson(f.readAll(), &why);
        if (!data) {
            *error = QStringLiteral("the registry file %1 is invalid: %2").arg(c.registryFile, why);
            return false;
        }
        m_context->snapshots = std::make_shared<SnapshotHolder>(std::make_shared<const PolicySnapshot>(*data));
        m_context->admin = std::make_shared<MemoryRegistry>(*data, m_context->snapshots);
        m_context->registry.set(QStringLiteral("file"), true, QString());
        return true;
    }
    const RegistryData demo = builtInDemoRegistry();
    m_context->snapshots = std::make_shared<SnapshotHolder>(std::make_shared<const PolicySnapshot>(demo));
    m_context->admin = std::make_shared<MemoryRegistry>(demo, m_context->snapshots);
    m_context->registry.set(QStringLiteral("built-in"), true, QString());
    return true;
}

void SluiceServer::setRegistry(RegistryData data)
{
    m_context->snapshots->swap(std::make_shared<const PolicySnapshot>(std::move(data)));
}

std::shared_ptr<WindowStore> SluiceServer::makeThreadStore()
{
    const ServerConfig &c = m_config;
    std::unique_ptr<WindowStore> remote;
    if (!c.redisUrl.isEmpty() || !c.redisSentinels.isEmpty()) {
        auto redis = c.redisSentinels.isEmpty()
                         ? RedisWindowStore::fromUrl(c.redisUrl, c.redisTimeoutMs, credentialsOf(c))
                         : RedisWindowStore::fromSentinel(c.redisSentinels, c.redisMaster.toUtf8(), 0, c.redisTimeoutMs, credentialsOf(c));
        redis->setBatchLimit(c.redisBatch);
        remote = std::move(redis);
    } else if (!c.redisCluster.isEmpty()) {
        auto cluster = std::make_unique<RedisClusterWindowStore>(c.redisCluster, c.redisTimeoutMs, nullptr, credentialsOf(c));
        cluster->setBatchLimit(c.redisBatch);
        remote = std::move(cluster);
    }
    if (!remote)
        return std::make_shared<SharedStore>(m_memory);
    return std::make_shared<ResilientWindowStore>(std::move(remote), *failureModeFromName(c.failureMode), m_memory, c.instances);
}

bool SluiceServer::start(QString *error)
{
    if (!loadInitialRegistry(error))
        return false;
    // A wrong or missing Redis password is a clear startup error, not a server that quietly
    // answers every check from its failure mode (an unreachable Redis is not: it may come back).
    if (!m_config.redisUrl.isEmpty() || !m_config.redisCluster.isEmpty() || !m_config.redisSentinels.isEmpty()) {
        QString host;
        quint16 redisPort = 6379;
        const RedisCredentials who = redisCredentialsFor(m_config.redisUrl, credentialsOf(m_config));
        if (!m_config.redisUrl.isEmpty()) {
            const QUrl u(m_config.redisUrl);
            host = u.host();
            redisPort = static_cast<quint16>(u.port(6379));
        } else if (!m_config.redisSentinels.isEmpty()) {
            // the primary the sentinels name now (none reachable: the failure mode covers it)
            const QString primary = askSentinelsNow(m_config.redisSentinels, m_config.redisMaster.toUtf8(),
                                                    std::max(200, m_config.redisTimeoutMs * 4));
            std::tie(host, redisPort) = splitHostPort(primary);
        } else {
            const QString seed = m_config.redisCluster.constFirst();
            std::tie(host, redisPort) = splitHostPort(seed);
        }
        const QString refused = host.isEmpty() ? QString() : probeRedisCredentials(host, redisPort, who, std::max(200, m_config.redisTimeoutMs * 4));
        if (!refused.isEmpty()) {
            *error = refused;
            return false;
        }
    }

    const int n = m_config.effectiveThreads();
    quint16 port = m_config.port;
    std::shared_ptr<DoorStats> doorStats;
    if (!m_config.upstream.isEmpty()) {
        doorStats = std::make_shared<DoorStats>();
        m_context->doorMetrics = [doorStats](QByteArray &out) { doorStats->render(out); };
    }
    for (int i = 0; i < n; ++i) {
        auto *thread = new QThread(this);
        thread->setObjectName(QStringLiteral("sluice-http-%1").arg(i));
        auto *worker = new ServerWorker(m_context, [this] { return makeThreadStore(); }, doorStats);
        worker->moveToThread(thread);
        thread->start();
        m_threads.push_back(thread);
        m_workers.push_back(worker);
        bool ok = false;
        QString why;
        quint16 bound = 0;
        QMetaObject::invokeMethod(
            worker, [&] { ok = worker->init(m_config, port, n > 1, &why, &bound); }, Qt::BlockingQueuedConnection);
        if (!ok) {
            *error = why;
            stop();
            return false;
        }
        port = bound; // the first thread may have been given port 0: the others join its port
    }
    m_port = port;

    if (m_config.grpcPort >= 0) {
        // Each call goes to the next HTTP thread's check path, on that thread's event loop.
        m_grpc = std::make_unique<GrpcDoor>([this](const CheckRequest &request, bool peek, CheckService::Callback done) {
            ServerWorker *worker = m_workers[m_nextWorker.fetch_add(1, std::memory_order_relaxed) % m_workers.size()];
            QMetaObject::invokeMethod(worker, [worker, request, peek, done] { worker->dispatch(request, peek, done); },
                                      Qt::QueuedConnection);
        }, [metrics = m_context->metrics](int status) { metrics->recordRejected(status); });
        QString why;
        if (!m_grpc->start(m_config.bind, static_cast<quint16>(m_config.grpcPort), &why)) {
            *error = why;
            stop();
            return false;
        }
    }

    // The GPU pools' controller: its steps run on the first HTTP thread's store (the one that
    // shares the fleet's state), answered back here.
    m_pools = new PoolController(m_context->snapshots, m_context->pools, m_context->poolSettings, m_config.prometheusUrl,
                                 [worker = m_workers.front()](const QString &pool, const PoolReading &reading, const PoolStepParams &params,
                                                              WindowStore::PoolCallback done) {
                                     QMetaObject::invokeMethod(worker, [worker, pool, reading, params, done] {
                                         worker->poolStep(pool, reading, params, done);
                                     }, Qt::QueuedConnection);
                                 },
                                 this);
    m_pools->setForgetAfterMs(m_config.leaseSeconds * 1000);
    m_pools->start();

    // Housekeeping for quiet periods (checks expire idle keys as they go): a bounded step, one
    // shard locked at a time, never a sweep.
    auto *housekeeping = new QTimer(this);
    connect(housekeeping, &QTimer::timeout, this, [memory = m_memory] { memory->housekeep(64); });
    housekeeping->start(25); // 64 slots per shard per step: ~2,500 slot visits per shard per second

    // The usage history: collected from the threads and written (Postgres) off the check path.
    auto *history = new QTimer(this);
    connect(history, &QTimer::timeout, this, [usage = m_context->usage] { usage->flush(QDateTime::currentSecsSinceEpoch()); });
    history->start(m_config.historyFlushSeconds * 1000);
    return true;
}

quint16 SluiceServer::grpcPort() const { return m_grpc ? m_grpc->port() : 0; }

void SluiceServer::stop()
{
    // The gRPC door first: its calls in flight finish on the HTTP threads, which are still running.
    if (m_grpc) {
        m_grpc->stop();
        m_grpc.reset();
    }
    // The pool controller stops asking the threads before they go; what they still answer is
    // posted to it and dropped with it after they are joined (below).
    if (m_pools)
        m_pools->stopTicking();
    // Off the board first: from now on no other thread posts anything to these objects.
    for (ServerWorker *worker : m_workers)
        m_context->workers.remove(worker);
    for (size_t i = 0; i < m_workers.size(); ++i) {
        ServerWorker *worker = m_workers[i];
        if (m_threads[i]->isRunning())
            QMetaObject::invokeMethod(worker, [worker] { worker->shutdown(); }, Qt::BlockingQueuedConnection);
        m_threads[i]->quit();
        m_threads[i]->wait();
        delete worker;
    }
    m_workers.clear();
    qDeleteAll(m_threads);
    m_threads.clear();
    delete m_pools;
    m_pools = nullptr;
    // What the threads decided since the last flush is written before going (at most 3 s).
    QElapsedTimer waited;
    waited.start();
    m_context->usage->flush(QDateTime::currentSecsSinceEpoch());
    while (!m_context->usage->idle() && waited.elapsed() < 3000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        m_context->usage->flush(QDateTime::currentSecsSinceEpoch());
    }
}

} // namespace sluice
