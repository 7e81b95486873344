// SPDX-License-Identifier: Apache-2.0
#include "services.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QHostAddress>
#include <QProcessEnvironment>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>

#include <csignal>
#include <sys/prctl.h>

namespace sluice::test {

namespace {

constexpr int kStartAttempts = 3; // a free port can be taken by someone else before we bind it

QString scriptPath(const QString &name)
{
    return QStringLiteral(SLUICE_SOURCE_DIR "/scripts/lib/") + name;
}

QByteArray run(const QString &program, const QStringList &args, QString *error, int timeoutMs)
{
    QProcess p;
    p.start(program, args);
    if (!p.waitForStarted(10000)) {
        if (error)
            *error = QStringLiteral("cannot start %1: %2").arg(program, p.errorString());
        return QByteArray();
    }
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(2000);
        if (error)
            *error = QStringLiteral("%1 %2 timed out").arg(program, args.join(QLatin1Char(' ')));
        return QByteArray();
    }
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        if (error)
            *error = QStringLiteral("%1 %2 failed: %3").arg(program, args.join(QLatin1Char(' ')),
                                                            QString::fromLocal8Bit(p.readAllStandardError()).trimmed());
        return QByteArray();
    }
    QByteArray out = p.readAllStandardOutput().trimmed();
    if (out.isNull())
        out = QByteArray(""); // success is never null
    return out;
}

// A temporary directory the postgres system user can enter when the tests run as root.
std::unique_ptr<QTemporaryDir> makeDir()
{
    auto dir = std::make_unique<QTemporaryDir>(QDir::tempPath() + QStringLiteral("/sluice-test-XXXXXX"));
    if (!dir->isValid())
        return nullptr;
    QFile::setPermissions(dir->path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                           | QFileDevice::ReadGroup | QFileDevice::ExeGroup | QFileDevice::ReadOther
                                           | QFileDevice::ExeOther);
    return dir;
}

bool noDir(QString *error)
{
    if (error)
        *error = QStringLiteral("cannot create a temporary directory in %1").arg(QDir::tempPath());
    return false;
}

// "host:port" → (host, port); the host defaults to 127.0.0.1.
QPair<QString, quint16> splitHostPort(const QString &hostPort)
{
    const QString trimmed = hostPort.trimmed();
    const int colon = trimmed.lastIndexOf(QLatin1Char(':'));
    if (colon < 0)
        return {QStringLiteral("127.0.0.1"), trimmed.toUShort()};
    const QString host = trimmed.left(colon);
    return {host.isEmpty() ? QStringLiteral("127.0.0.1") : host, trimmed.mid(colon + 1).toUShort()};
}

QStringList nodeArgs()
{
    return {QStringLiteral("--cluster-enabled"), QStringLiteral("yes"), QStringLiteral("--cluster-config-file"),
            QStringLiteral("nodes.conf"), QStringLiteral("--cluster-node-timeout"), QStringLiteral("2000")};
}

} // namespace

quint16 freePort()
{
    for (int attempt = 0; attempt < 500; ++attempt) {
        const auto port = static_cast<quint16>(10000 + QRandomGenerator::global()->bounded(10000));
        QTcpServer s;
        if (!s.listen(QHostAddress::LocalHost, port))
            continue;
        QTcpServer bus;
        if (bus.listen(QHostAddress::LocalHost, static_cast<quint16>(port + 10000)))
            return port;
    }
    return 0;
}

bool requireServices()
{
    return qEnvironmentVariable("SLUICE_TEST_REQUIRE_SERVICES") == QStringLiteral("1");
}

QByteArray runScript(const QString &script, const QStringList &args, QString *error, int timeoutMs)
{
    return run(QStringLiteral("bash"), QStringList{scriptPath(script)} + args, error, timeoutMs);
}

// --- RedisServer

RedisServer::~RedisServer()
{
    if (!m_shared)
        stop();
}

bool RedisServer::start(QString *error)
{
    if (m_running)
        return true;
    const QString shared = qEnvironmentVariable("SLUICE_TEST_REDIS");
    if (m_sharing == Sharing::SharedOk && !shared.isEmpty()) {
        const auto [host, port] = splitHostPort(shared);
        m_shared = true;
        m_host = host;
        m_port = port;
        m_running = true;
        return true;
    }
    if (!m_dir && !(m_dir = makeDir()))
        return noDir(error);
    // A restart keeps its port; a first start tries again on a new one.
    const bool fixedPort = m_port != 0;
    for (int attempt = 0; attempt < (fixedPort ? 1 : kStartAttempts); ++attempt) {
        if (!fixedPort)
            m_port = freePort();
        if (!runScript(QStringLiteral("redis.sh"), {QStringLiteral("start"), m_dir->path(), QString::number(m_port)}, error)
                 .isNull()) {
            m_running = true;
            return true;
        }
        runScript(QStringLiteral("redis.sh"), {QStringLiteral("stop"), m_dir->path()});
    }
    return false;
}

bool RedisServer::stop()
{
    if (m_shared)
        return false;
    if (!m_running || !m_dir)
        return true;
    m_running = false;
    return !runScript(QStringLiteral("redis.sh"), {QStringLiteral("stop"), m_dir->path()}).isNull();
}

bool RedisServer::restart()
{
    return !m_shared && m_port != 0 && stop() && start();
}

QByteArray RedisServer::cli(const QStringList &args) const
{
    return run(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-h"), m_host, QStringLiteral("-p"), QString::number(m_port)} + args,
               nullptr, 30000);
}

void RedisServer::cliDetached(const QStringList &args) const
{
    QProcess p;
    p.setProgram(QStringLiteral("redis-cli"));
    p.setArguments(QStringList{QStringLiteral("-h"), m_host, QStringLiteral("-p"), QString::number(m_port)} + args);
    p.setStandardOutputFile(QProcess::nullDevice());
    p.setStandardErrorFile(QProcess::nullDevice());
    p.startDetached();
}

// --- RedisCluster

RedisCluster::~RedisCluster()
{
    if (!m_shared)
        stop();
}

bool RedisCluster::start(QString *error)
{
    if (m_running)
        return true;
    const QString shared = qEnvironmentVariable("SLUICE_TEST_REDIS_CLUSTER");
    if (m_sharing == Sharing::SharedOk && !shared.isEmpty()) {
        m_shared = true;
        m_ports.clear();
        m_hosts.clear();
        for (const QString &seed : shared.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            const auto [host, port] = splitHostPort(seed);
            m_hosts.append(host);
            m_ports.append(port);
        }
        m_running = true;
        return true;
    }
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
        m_dir = makeDir();
        if (!m_dir)
            return noDir(error);
        m_ports.clear();
        m_hosts.clear();
        QStringList args{QStringLiteral("start"), m_dir->path()};
        while (m_ports.size() < 3) {
            const quint16 p = freePort();
            // distinct, and no node's bus port (port + 10000) is another node's port
            bool clash = p == 0;
            for (quint16 q : std::as_const(m_ports))
                clash = clash || p == q || p == q + 10000 || q == p + 10000;
            if (clash)
                continue;
            m_ports.append(p);
            m_hosts.append(QStringLiteral("127.0.0.1"));
            args << QString::number(p);
        }
        if (!runScript(QStringLiteral("redis-cluster.sh"), args, error).isNull()) {
            m_running = true;
            return true;
        }
        runScript(QStringLiteral("redis-cluster.sh"), {QStringLiteral("stop"), m_dir->path()});
    }
    return false;
}

bool RedisCluster::stop()
{
    if (m_shared)
        return false;
    if (!m_running || !m_dir)
        return true;
    m_running = false;
    return !runScript(QStringLiteral("redis-cluster.sh"), {QStringLiteral("stop"), m_dir->path()}).isNull();
}

QStringList RedisCluster::nodes() const
{
    QStringList n;
    for (int i = 0; i < m_ports.size(); ++i)
        n << QStringLiteral("%1:%2").arg(m_hosts.value(i, QStringLiteral("127.0.0.1"))).arg(m_ports.at(i));
    return n;
}

QString RedisCluster::seeds() const
{
    return nodes().join(QLatin1Char(','));
}

QString RedisCluster::hostOf(quint16 port) const
{
    const auto i = m_ports.indexOf(port);
    return i < 0 ? QStringLiteral("127.0.0.1") : m_hosts.value(i, QStringLiteral("127.0.0.1"));
}

bool RedisCluster::restartNode(quint16 port)
{
    return !m_shared && m_running && m_dir
        && !runScript(QStringLiteral("redis-cluster.sh"), {QStringLiteral("restart-node"), m_dir->path(), QString::number(port)})
                .isNull();
}

bool RedisCluster::stopNode(quint16 port)
{
    return !m_shared && m_running && m_dir
        && !runScript(QStringLiteral("redis.sh"), {QStringLiteral("stop"), m_dir->path() + QStringLiteral("/node-%1").arg(port)})
                .isNull();
}

bool RedisCluster::startNode(quint16 port)
{
    return !m_shared && m_running && m_dir
        && !runScript(QStringLiteral("redis.sh"),
                      QStringList{QStringLiteral("start"), m_dir->path() + QStringLiteral("/node-%1").arg(port), QString::number(port)}
                          + nodeArgs())
                .isNull();
}

QByteArray RedisCluster::cli(quint16 port, const QStringList &args, bool followRedirects) const
{
    QStringList all{QStringLiteral("-h"), hostOf(port), QStringLiteral("-p"), QString::number(port)};
    if (followRedirects)
        all.prepend(QStringLiteral("-c"));
    return run(QStringLiteral("redis-cli"), all + args, nullptr, 30000);
}

// --- PostgresServer

PostgresServer::~PostgresServer()
{
    if (!m_shared)
        stop();
}

bool PostgresServer::start(QString *error)
{
    if (m_running)
        return true;
    const QString shared = qEnvironmentVariable("SLUICE_TEST_POSTGRES");
    if (m_sharing == Sharing::SharedOk && !shared.isEmpty()) {
        m_shared = true;
        m_conninfo = shared;
        m_running = true;
        return true;
    }
    if (!m_dir && !(m_dir = makeDir()))
        return noDir(error);
    // Started again after stop(): same directory and port. First start: a new port per attempt
    // (the data directory, once initialised, is kept).
    const bool fixedPort = m_port != 0;
    for (int attempt = 0; attempt < (fixedPort ? 1 : kStartAttempts); ++attempt) {
        if (!fixedPort)
            m_port = freePort();
        const QByteArray out =
            runScript(QStringLiteral("postgres.sh"), {QStringLiteral("start"), m_dir->path(), QString::number(m_port)}, error, 120000);
        if (!out.isNull()) {
            m_conninfo = QString::fromUtf8(out.split('\n').last()).trimmed();
            m_running = true;
            return true;
        }
        runScript(QStringLiteral("postgres.sh"), {QStringLiteral("stop"), m_dir->path()});
    }
    return false;
}

bool PostgresServer::stop()
{
    if (m_shared)
        return false;
    if (!m_running || !m_dir)
        return true;
    m_running = false;
    return !runScript(QStringLiteral("postgres.sh"), {QStringLiteral("stop"), m_dir->path()}).isNull();
}

bool PostgresServer::migrate(QString *error)
{
    if (m_conninfo.isEmpty()) {
        if (error)
            *error = QStringLiteral("migrate: Postgres is not started");
        return false;
    }
    return !runScript(QStringLiteral("postgres.sh"), {QStringLiteral("migrate"), m_conninfo, QStringLiteral("--demo")}, error, 120000).isNull();
}

QByteArray PostgresServer::psql(const QString &sql, QString *error) const
{
    return run(QStringLiteral("psql"),
               {QStringLiteral("-X"), QStringLiteral("-v"), QStringLiteral("ON_ERROR_STOP=1"), QStringLiteral("-At"),
                QStringLiteral("-d"), m_conninfo, QStringLiteral("-c"), sql},
               error, 30000);
}

// --- ServerProcess

ServerProcess::~ServerProcess()
{
    if (isRunning())
        kill();
}

bool ServerProcess::start(const QStringList &args, QString *error, const QStringList &env)
{
    if (isRunning())
        stop();
    m_args = args;
    m_env = env;
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
        m_port = freePort();
        if (startOnce(args, env, error))
            return true;
        // Only a port someone else took in between is worth another try.
        if (!m_output.contains("cannot listen on"))
            return false;
    }
    return false;
}

bool ServerProcess::restart(QString *error)
{
    if (isRunning())
        stop();
    return startOnce(m_args, m_env, error);
}

bool ServerProcess::startOnce(const QStringList &args, const QStringList &env, QString *error)
{
    m_output.clear();
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const QString &kv : env)
        e.insert(kv.section(QLatin1Char('='), 0, 0), kv.section(QLatin1Char('='), 1));
    m_process->setProcessEnvironment(e);
    // The server dies with the test (a test killed by a timeout or Ctrl-C leaves no server behind).
    m_process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
    m_process->start(QStringLiteral(SLUICE_SERVER_BINARY),
                     args + QStringList{QStringLiteral("--bind"), QStringLiteral("127.0.0.1"), QStringLiteral("--port"), QString::number(m_port)});
    if (!m_process->waitForStarted(10000)) {
        if (error)
            *error = QStringLiteral("cannot start %1: %2").arg(QStringLiteral(SLUICE_SERVER_BINARY), m_process->errorString());
        return false;
    }
    const auto exited = [&] {
        if (error)
            *error = QStringLiteral("sluice-server exited (%1): %2").arg(m_process->exitCode()).arg(QString::fromLocal8Bit(output()));
        return false;
    };
    const QDeadlineTimer deadline(15000); // generous: sanitizer builds start slowly
    while (!deadline.hasExpired()) {
        if (m_process->state() != QProcess::Running)
            return exited();
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, m_port);
        if (s.waitForConnected(200)) {
            s.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            QByteArray got;
            while (s.waitForReadyRead(1000))
                got += s.readAll();
            if (got.startsWith("HTTP/1.1 200") || got.startsWith("HTTP/1.0 200"))
                return true;
        }
        if (m_process->waitForFinished(50))
            return exited();
    }
    if (error)
        *error = QStringLiteral("sluice-server did not answer GET /health with 200 in 15 s: ") + QString::fromLocal8Bit(output());
    kill();
    return false;
}

bool ServerProcess::stop()
{
    if (!isRunning())
        return true;
    m_process->terminate();
    if (m_process->waitForFinished(10000)) {
        output();
        return m_process->exitStatus() == QProcess::NormalExit && m_process->exitCode() == 0;
    }
    kill();
    return false;
}

void ServerProcess::kill()
{
    if (!m_process)
        return;
    if (m_process->state() != QProcess::NotRunning) {
        m_process->kill();
        m_process->waitForFinished(5000);
    }
    output();
}

bool ServerProcess::isRunning() const
{
    return m_process && m_process->state() == QProcess::Running;
}

QByteArray ServerProcess::output() const
{
    if (m_process)
        m_output += m_process->readAll();
    return m_output;
}

} // namespace sluice::test
