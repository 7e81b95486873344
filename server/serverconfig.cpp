// SPDX-License-Identifier: Apache-2.0
#include "serverconfig.h"

#include <QCommandLineParser>
#include <QFile>
#include <QSettings>
#include <QThread>
#include <QUrl>
#include <cstdio>

namespace sluice {

int ServerConfig::effectiveThreads() const
{
    return threads > 0 ? threads : std::clamp(QThread::idealThreadCount(), 1, 4);
}

QString ServerConfig::storeName() const
{
    if (!redisCluster.isEmpty())
        return QStringLiteral("redis-cluster");
    if (!redisUrl.isEmpty())
        return QStringLiteral("redis");
    return QStringLiteral("memory");
}

std::optional<ServerConfig> ServerConfig::parse(const QStringList &arguments, const QProcessEnvironment &env,
                                                QString *error, bool *exitNow)
{
    struct Option
    {
        const char *name;
        const char *env;
        const char *help;
        const char *valueName;
    };
    static const Option options[] = {
        {"bind", "SLUICE_BIND", "Address to listen on (default 127.0.0.1).", "address"},
        {"port", "SLUICE_PORT", "TCP port (default 8000; 0 picks a free one).", "port"},
        {"threads", "SLUICE_THREADS", "HTTP server threads sharing the port (default: cores, at most 4).", "n"},
        {"redis", "SLUICE_REDIS", "Shared window logs in Redis: redis://host:port[/db].", "url"},
        {"redis-cluster", "SLUICE_REDIS_CLUSTER", "Shared window logs in a Redis Cluster: host:port,host:port,…", "seeds"},
        {"postgres", "SLUICE_POSTGRES", "Registry and policies in Postgres (libpq conninfo).", "conninfo"},
        {"registry-file", "SLUICE_REGISTRY_FILE", "Registry JSON for the embedded mode (default: built-in demo).", "file"},
        {"failure-mode", "SLUICE_FAILURE_MODE", "When Redis is unavailable: local, fail-open or fail-closed (default local).", "mode"},
        {"instances", "SLUICE_INSTANCES", "Sluice instances sharing the store; the local fallback divides limits by it.", "n"},
        {"redis-timeout-ms", "SLUICE_REDIS_TIMEOUT_MS", "Per-call Redis timeout in ms (default 50).", "ms"},
        {"admin-token", "SLUICE_ADMIN_TOKEN", "Bearer token of the admin API (unset: admin API off).", "token"},
    };

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Sluice: sliding-window-log rate limiter for AI model serving."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption configOption(QStringLiteral("config"),
                                          QStringLiteral("Config file (default /etc/sluice/server.conf)."),
                                          QStringLiteral("file"));
    parser.addOption(configOption);
    for (const Option &o : options)
        parser.addOption(QCommandLineOption(QString::fromLatin1(o.name),
                                            QString::fromLatin1(o.help) + QStringLiteral(" [env ") + QString::fromLatin1(o.env) + QLatin1Char(']'),
                                            QString::fromLatin1(o.valueName)));
    if (!parser.parse(arguments)) {
        *error = parser.errorText();
        return std::nullopt;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        if (exitNow)
            *exitNow = true;
        return std::nullopt;
    }
    if (parser.isSet(QStringLiteral("version"))) {
        std::printf("sluice-server %s\n", qPrintable(QStringLiteral(SLUICE_VERSION_STRING)));
        if (exitNow)
            *exitNow = true;
        return std::nullopt;
    }

    ServerConfig c;
    QString file = parser.value(configOption);
    if (file.isEmpty())
        file = env.value(QStringLiteral("SLUICE_CONFIG"));
    const bool fileRequired = !file.isEmpty();
    if (file.isEmpty())
        file = QStringLiteral("/etc/sluice/server.conf");
    std::unique_ptr<QSettings> settings;
    if (QFile::exists(file)) {
        settings = std::make_unique<QSettings>(file, QSettings::IniFormat);
        c.configFile = file;
    } else if (fileRequired) {
        *error = QStringLiteral("config file %1 does not exist").arg(file);
        return std::nullopt;
    }

    auto value = [&](const Option &o) -> QString {
        const QString name = QString::fromLatin1(o.name);
        if (parser.isSet(name))
            return parser.value(name);
        if (env.contains(QString::fromLatin1(o.env)))
            return env.value(QString::fromLatin1(o.env));
        if (settings && settings->contains(name))
            return settings->value(name).toString();
        return QString();
    };
    auto integer = [&](const Option &o, int min, int max, int *out) {
        const QString v = value(o);
        if (v.isEmpty())
            return true;
        bool ok = false;
        const int n = v.toInt(&ok);
        if (!ok || n < min || n > max) {
            *error = QStringLiteral("--%1 must be an integer from %2 to %3, got '%4'")
                         .arg(QLatin1String(o.name)).arg(min).arg(max).arg(v);
            return false;
        }
        *out = n;
        return true;
    };

    const QString bind = value(options[0]);
    if (!bind.isEmpty()) {
        const QString host = bind == QStringLiteral("localhost") ? QStringLiteral("127.0.0.1") : bind;
        if (!c.bind.setAddress(host)) {
            *error = QStringLiteral("--bind: '%1' is not an IP address").arg(bind);
            return std::nullopt;
        }
    }
    int port = c.port;
    if (!integer(options[1], 0, 65535, &port) || !integer(options[2], 0, 64, &c.threads)
        || !integer(options[8], 1, 10000, &c.instances) || !integer(options[9], 1, 60000, &c.redisTimeoutMs))
        return std::nullopt;
    c.port = static_cast<quint16>(port);
    c.redisUrl = value(options[3]);
    if (!c.redisUrl.isEmpty()) {
        const QUrl url(c.redisUrl);
        if (url.scheme() != QStringLiteral("redis") || url.host().isEmpty()) {
            *error = QStringLiteral("--redis must look like redis://host:port[/db], got '%1' "
                                    "(passwords and rediss:// are not supported yet)").arg(c.redisUrl);
            return std::nullopt;
        }
    }
    const QString cluster = value(options[4]);
    if (!cluster.isEmpty()) {
        c.redisCluster = cluster.split(QLatin1Char(','), Qt::SkipEmptyParts);
        for (QString &seed : c.redisCluster) {
            seed = seed.trimmed();
            if (seed.startsWith(QStringLiteral("redis://")))
                seed = seed.mid(8);
            if (!seed.contains(QLatin1Char(':'))) {
                *error = QStringLiteral("--redis-cluster seeds must be host:port, got '%1'").arg(seed);
                return std::nullopt;
            }
        }
    }
    if (!c.redisUrl.isEmpty() && !c.redisCluster.isEmpty()) {
        *error = QStringLiteral("--redis and --redis-cluster exclude each other");
        return std::nullopt;
    }
    c.postgres = value(options[5]);
    c.registryFile = value(options[6]);
    const QString mode = value(options[7]);
    if (!mode.isEmpty()) {
        if (mode != QStringLiteral("local") && mode != QStringLiteral("fail-open") && mode != QStringLiteral("fail-closed")) {
            *error = QStringLiteral("--failure-mode must be local, fail-open or fail-closed, got '%1'").arg(mode);
            return std::nullopt;
        }
        c.failureMode = mode;
    }
    c.adminToken = value(options[10]);
    return c;
}

} // namespace sluice
