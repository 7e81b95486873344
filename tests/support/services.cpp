// SPDX-License-Identifier: Apache-2.0
#include "services.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QRandomGenerator>
#include <QDir>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

namespace sluice::test {

namespace {

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
                                                            QString::fromLocal8Bit(p.readAllStandardError()));
        return QByteArray();
    }
    QByteArray out = p.readAllStandardOutput().trimmed();
    if (out.isNull())
        out = QByteArray("");
    return out;
}

std::unique_ptr<QTemporaryDir> makeDir()
{
    auto dir = std::make_unique<QTemporaryDir>(QDir::tempPath() + QStringLiteral("/sluice-test-XXXXXX"));
    QFile::setPermissions(dir->path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                           | QFileDevice::ReadGroup | QFileDevice::ExeGroup | QFileDevice::ReadOther
                                           | QFileDevice::ExeOther);
    return dir;
}

} // namespace

quint16 freePort()
{
    // 20000-50000: below the ephemeral range, and a Redis Cluster bus port (port + 10000) fits.
    for (int attempt = 0; attempt < 200; ++attempt) {
        const auto port = static_cast<quint16>(20000 + QRandomGenerator::global()->bounded(30000));
        QTcpServer s;
        if (s.listen(QHostAddress::LocalHost, port)) {
            QTcpServer bus;
            if (bus.listen(QHostAddress::LocalHost, static_cast<quint16>(port + 10000)))
                return port;
        }
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
        m_shared = true;
        m_port = shared.section(QLatin1Char(':'), -1).toUShort();
        m_running = true;
        return true;
    }
    if (!m_dir)
        m_dir = makeDir();
    if (!m_port)
        m_port = freePort();
    m_running = !runScript(QStringLiteral("redis.sh"), {QStringLiteral("start"), m_dir->path(), QString::number(m_port)}, error).isNull();
    return m_running;
}

bool RedisServer::stop()
{
    if (m_shared || !m_running || !m_dir)
        return !m_shared;
    m_running = false;
    return !runScript(QStringLiteral("redis.sh"), {QStringLiteral("stop"), m_dir->path()}).isNull();
}

bool RedisServer::restart()
{
    return !m_shared && stop() && start();
}

QByteArray RedisServer::cli(const QStringList &args) const
{
    return run(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-p"), QString::number(m_port)} + args, nullptr, 30000);
}

void RedisServer::cliDetached(const QStringList &args) const
{
    QProcess::startDetached(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-p"), QString::number(m_port)} + args);
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
        for (const QString &seed : shared.split(QLatin1Char(',')))
            m_ports.append(seed.section(QLatin1Char(':'), -1).toUShort());
        m_running = true;
        return true;
    }
    m_dir = makeDir();
    m_ports = {freePort(), freePort(), freePort()};
    while (m_ports[1] == m_ports[0] || m_ports[2] == m_ports[0] || m_ports[2] == m_ports[1])
        m_ports = {freePort(), freePort(), freePort()};
    QStringList args{QStringLiteral("start"), m_dir->path()};
    for (quint16 p : m_ports)
        args << QString::number(p);
    m_running = !runScript(QStringLiteral("redis-cluster.sh"), args, error).isNull();
    return m_running;
}

bool RedisCluster::stop()
{
    if (m_shared || !m_running)
        return !m_shared;
    m_running = false;
    return !runScript(QStringLiteral("redis-cluster.sh"), {QStringLiteral("stop"), m_dir->path()}).isNull();
}

QString RedisCluster::seeds() const
{
    QStringList s;
    for (quint16 p : m_ports)
        s << QStringLiteral("127.0.0.1:%1").arg(p);
    return s.join(QLatin1Char(','));
}

bool RedisCluster::restartNode(quint16 port)
{
    return !m_shared
        && !runScript(QStringLiteral("redis-cluster.sh"), {QStringLiteral("restart-node"), m_dir->path(), QString::number(port)}).isNull();
}

bool RedisCluster::stopNode(quint16 port)
{
    return !m_shared
        && !runScript(QStringLiteral("redis.sh"), {QStringLiteral("stop"), m_dir->path() + QStringLiteral("/node-%1").arg(port)}).isNull();
}

bool RedisCluster::startNode(quint16 port)
{
    return !m_shared
        && !runScript(QStringLiteral("redis.sh"),
                      {QStringLiteral("start"), m_dir->path() + QStringLiteral("/node-%1").arg(port), QString::number(port),
                       QStringLiteral("--cluster-enabled"), QStringLiteral("yes"), QStringLiteral("--cluster-config-file"),
                       QStringLiteral("nodes.conf"), QStringLiteral("--cluster-node-timeout"), QStringLiteral("2000")})
                .isNull();
}

QByteArray RedisCluster::cli(quint16 port, const QStringList &args, bool followRedirects) const
{
    QStringList all{QStringLiteral("-p"), QString::number(port)};
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
    if (!m_dir)
        m_dir = makeDir();
    if (!m_port)
        m_port = freePort();
    const QByteArray out = runScript(QStringLiteral("postgres.sh"), {QStringLiteral("start"), m_dir->path(), QString::number(m_port)}, error);
    if (out.isNull())
        return false;
    m_conninfo = QString::fromUtf8(out.split('\n').last());
    m_running = true;
    return true;
}

bool PostgresServer::stop()
{
    if (m_shared || !m_running)
        return !m_shared;
    m_running = false;
    return !runScript(QStringLiteral("postgres.sh"), {QStringLiteral("stop"), m_dir->path()}).isNull();
}

bool PostgresServer::migrate(QString *error)
{
    return !runScript(QStringLiteral("postgres.sh"), {QStringLiteral("migrate"), m_conninfo}, error).isNull();
}

QByteArray PostgresServer::psql(const QString &sql, QString *error) const
{
    return run(QStringLiteral("psql"), {m_conninfo, QStringLiteral("-v"), QStringLiteral("ON_ERROR_STOP=1"), QStringLiteral("-At"),
                                        QStringLiteral("-c"), sql},
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
    m_port = freePort();
    m_output.clear();
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const QString &kv : env)
        e.insert(kv.section(QLatin1Char('='), 0, 0), kv.section(QLatin1Char('='), 1));
    m_process->setProcessEnvironment(e);
    m_process->start(QStringLiteral(SLUICE_SERVER_BINARY),
                     args + QStringList{QStringLiteral("--bind"), QStringLiteral("127.0.0.1"), QStringLiteral("--port"), QString::number(m_port)});
    if (!m_process->waitForStarted(10000)) {
        if (error)
            *error = m_process->errorString();
        return false;
    }
    const QDeadlineTimer deadline(15000);
    while (!deadline.hasExpired()) {
        if (m_process->state() != QProcess::Running || m_process->waitForFinished(0)) {
            if (error)
                *error = QStringLiteral("sluice-server exited: ") + QString::fromLocal8Bit(output());
            return false;
        }
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, m_port);
        if (s.waitForConnected(200)) {
            s.write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            QByteArray got;
            while (s.waitForReadyRead(1000))
                got += s.readAll();
            if (got.startsWith("HTTP/1.1 200"))
                return true;
        }
        if (m_process->waitForFinished(50)) {
            if (error)
                *error = QStringLiteral("sluice-server exited: ") + QString::fromLocal8Bit(output());
            return false;
        }
    }
    if (error)
        *error = QStringLiteral("sluice-server did not answer /health in 15 s: ") + QString::fromLocal8Bit(output());
    return false;
}

bool ServerProcess::stop()
{
    if (!isRunning())
        return true;
    m_process->terminate();
    if (m_process->waitForFinished(10000))
        return m_process->exitStatus() == QProcess::NormalExit;
    kill();
    return false;
}

void ServerProcess::kill()
{
    if (!m_process)
        return;
    m_process->kill();
    m_process->waitForFinished(5000);
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
