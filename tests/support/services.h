// SPDX-License-Identifier: Apache-2.0
// Real servers for tests: redis-server, a 3-node Redis Cluster, Postgres and sluice-server
// itself, on free loopback ports in temporary directories, through the same scripts/lib helpers
// that scripts/test and scripts/run use. RAII: a fixture stops only what it started.
// Shared instances (started once by scripts/test and named in SLUICE_TEST_*) are used when a
// test asks for Sharing::SharedOk; tests that stop or slow a server use a private one.
#pragma once

#include <QByteArray>
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>
#include <QUrl>
#include <memory>

namespace sluice::test {

enum class Sharing { SharedOk, Private };

// A free loopback port in 10000-19999 whose cluster bus port (port + 10000) is free as well:
// both below Linux's ephemeral range, where outgoing connections take their local ports.
quint16 freePort();
// True when scripts/test runs the suite (SLUICE_TEST_REQUIRE_SERVICES=1): a service that cannot
// start is then a failure, not a skip.
bool requireServices();
// Runs `bash scripts/lib/<script> args…`; returns stdout (trimmed), or a null QByteArray on failure.
QByteArray runScript(const QString &script, const QStringList &args, QString *error = nullptr, int timeoutMs = 60000);

// SLUICE_TEST_REDIS="127.0.0.1:PORT" when shared, else a private redis-server.
class RedisServer
{
public:
    explicit RedisServer(Sharing sharing = Sharing::SharedOk) : m_sharing(sharing) {}
    ~RedisServer();
    RedisServer(const RedisServer &) = delete;
    RedisServer &operator=(const RedisServer &) = delete;
    bool start(QString *error = nullptr);
    bool stop();    // private only (false on a shared one)
    bool restart(); // private only: stop, then start on the same port
    bool isShared() const { return m_shared; }
    QString host() const { return m_host; }
    quint16 port() const { return m_port; }
    QString url() const { return QStringLiteral("redis://%1:%2").arg(m_host).arg(m_port); }
    // redis-cli -h <host> -p <port> args…: stdout, trimmed (null when redis-cli fails).
    QByteArray cli(const QStringList &args) const;
    // Starts redis-cli without waiting (DEBUG SLEEP while the test's event loop runs).
    void cliDetached(const QStringList &args) const;

private:
    Sharing m_sharing;
    bool m_shared = false;
    bool m_running = false;
    QString m_host = QStringLiteral("127.0.0.1");
    quint16 m_port = 0;
    std::unique_ptr<QTemporaryDir> m_dir;
};

// SLUICE_TEST_REDIS_CLUSTER="127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3" when shared, else a private
// 3-primary cluster.
class RedisCluster
{
public:
    explicit RedisCluster(Sharing sharing = Sharing::SharedOk) : m_sharing(sharing) {}
    ~RedisCluster();
    RedisCluster(const RedisCluster &) = delete;
    RedisCluster &operator=(const RedisCluster &) = delete;
    bool start(QString *error = nullptr);
    bool stop();
    QList<quint16> ports() const { return m_ports; }
    QStringList nodes() const; // "127.0.0.1:p1", …
    QString seeds() const;     // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
    // Private only. restartNode waits for cluster_state:ok; startNode does not.
    bool restartNode(quint16 port);
    bool stopNode(quint16 port);
    bool startNode(quint16 port);
    // redis-cli (-c: follows MOVED/ASK unless followRedirects is false)
    QByteArray cli(quint16 port, const QStringList &args, bool followRedirects = true) const;
    bool isShared() const { return m_shared; }

private:
    QString hostOf(quint16 port) const;

    Sharing m_sharing;
    bool m_shared = false;
    bool m_running = false;
    QList<quint16> m_ports;
    QStringList m_hosts; // parallel to m_ports
    std::unique_ptr<QTemporaryDir> m_dir;
};

// SLUICE_TEST_POSTGRES=<conninfo> when shared, else a private Postgres (database sluice, user sluice).
class PostgresServer
{
public:
    explicit PostgresServer(Sharing sharing = Sharing::SharedOk) : m_sharing(sharing) {}
    ~PostgresServer();
    PostgresServer(const PostgresServer &) = delete;
    PostgresServer &operator=(const PostgresServer &) = delete;
    bool start(QString *error = nullptr); // again after stop(): same directory and port
    bool stop();
    bool migrate(QString *error = nullptr); // psql: migrations/*.sql in order, then the demo seed (idempotent)
    QString conninfo() const { return m_conninfo; }
    // psql -At -c sql: stdout, trimmed; null on failure.
    QByteArray psql(const QString &sql, QString *error = nullptr) const;
    bool isShared() const { return m_shared; }

private:
    Sharing m_sharing;
    bool m_shared = false;
    bool m_running = false;
    quint16 m_port = 0;
    QString m_conninfo;
    std::unique_ptr<QTemporaryDir> m_dir;
};

// A sluice-server process (the real binary) on a free loopback port: start() adds
// `--bind 127.0.0.1 --port <free port>` to args and returns once GET /health answers 200.
class ServerProcess
{
public:
    ServerProcess() = default;
    ~ServerProcess();
    ServerProcess(const ServerProcess &) = delete;
    ServerProcess &operator=(const ServerProcess &) = delete;
    // env: "NAME=value" entries added to this process's environment.
    bool start(const QStringList &args, QString *error = nullptr, const QStringList &env = {});
    bool stop();   // SIGTERM, wait (SIGKILL after 10 s); true on a clean exit (status 0)
    bool restart(QString *error = nullptr); // (stop, then) start again: same arguments, same port
    void kill();   // SIGKILL, wait
    bool isRunning() const;
    quint16 port() const { return m_port; }
    QUrl baseUrl() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_port)); }
    QByteArray output() const; // stdout and stderr so far (kept after it exits)

private:
    bool startOnce(const QStringList &args, const QStringList &env, QString *error);

    std::unique_ptr<QProcess> m_process;
    QStringList m_args, m_env;
    quint16 m_port = 0;
    mutable QByteArray m_output;
};

} // namespace sluice::test

// QSKIP when a service cannot start, unless scripts/test requires it (then QFAIL).
#define SLUICE_REQUIRE_SERVICE(ok, error)                                                                  \
    do {                                                                                                   \
        if (!(ok)) {                                                                                       \
            if (sluice::test::requireServices())                                                           \
                QFAIL(qPrintable(QStringLiteral("service unavailable: ") + (error)));                      \
            QSKIP(qPrintable(QStringLiteral("service unavailable (run scripts/test): ") + (error)));        \
        }                                                                                                  \
    } while (false)
