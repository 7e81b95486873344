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

quint16 freePort();
// True when scripts/test runs the suite: a service that cannot start is then a failure, not a skip.
bool requireServices();
// Runs `bash scripts/lib/<script> args…`; returns stdout, or a null QByteArray on failure.
QByteArray runScript(const QString &script, const QStringList &args, QString *error = nullptr, int timeoutMs = 60000);

class RedisServer
{
public:
    explicit RedisServer(Sharing sharing = Sharing::SharedOk) : m_sharing(sharing) {}
    ~RedisServer();
    bool start(QString *error = nullptr);
    bool stop();
    bool restart();
    bool isShared() const { return m_shared; }
    QString host() const { return QStringLiteral("127.0.0.1"); }
    quint16 port() const { return m_port; }
    QString url() const { return QStringLiteral("redis://127.0.0.1:%1").arg(m_port); }
    // redis-cli -p <port> args…: stdout, trimmed.
    QByteArray cli(const QStringList &args) const;
    // Starts redis-cli without waiting (DEBUG SLEEP while the test's event loop runs).
    void cliDetached(const QStringList &args) const;

private:
    Sharing m_sharing;
    bool m_shared = false;
    bool m_running = false;
    quint16 m_port = 0;
    std::unique_ptr<QTemporaryDir> m_dir;
};

class RedisCluster
{
public:
    explicit RedisCluster(Sharing sharing = Sharing::SharedOk) : m_sharing(sharing) {}
    ~RedisCluster();
    bool start(QString *error = nullptr);
    bool stop();
    QList<quint16> ports() const { return m_ports; }
    QString seeds() const; // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
    bool restartNode(quint16 port);
    bool stopNode(quint16 port);
    bool startNode(quint16 port);
    // redis-cli (-c: follows MOVED/ASK unless followRedirects is false)
    QByteArray cli(quint16 port, const QStringList &args, bool followRedirects = true) const;
    bool isShared() const { return m_shared; }

private:
    Sharing m_sharing;
    bool m_shared = false;
    bool m_running = false;
    QList<quint16> m_ports;
    std::unique_ptr<QTemporaryDir> m_dir;
};

class PostgresServer
{
public:
    explicit PostgresServer(Sharing sharing = Sharing::SharedOk) : m_sharing(sharing) {}
    ~PostgresServer();
    bool start(QString *error = nullptr); // again after stop(): same directory and port
    bool stop();
    bool migrate(QString *error = nullptr);
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

// A sluice-server process (the real binary) on a free loopback port.
class ServerProcess
{
public:
    ServerProcess() = default;
    ~ServerProcess();
    bool start(const QStringList &args, QString *error = nullptr, const QStringList &env = {});
    bool stop();   // SIGTERM, wait
    void kill();   // SIGKILL
    bool isRunning() const;
    quint16 port() const { return m_port; }
    QUrl baseUrl() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_port)); }
    QByteArray output() const;

private:
    std::unique_ptr<QProcess> m_process;
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
