// SPDX-License-Identifier: Apache-2.0
#include "serverconfig.h"

#include "engine/registrydata.h"

#include "engine/redact.h"
#include "http/forwardauthroutes.h"
#include "redis/redisconnection.h"

#include <QCommandLineParser>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QRegularExpression>
#include <QThread>
#include <QUrl>
#include <cstdio>
#include <vector>
#include <type_traits>

namespace sluice {

namespace {

struct Option
{
    const char *name;
    const char *env;
    const char *help;
    const char *valueName;
    bool secret;
};

const Option kOptions[] = {
    {"bind", "SLUICE_BIND", "Address to listen on (default 127.0.0.1).", "address", false},
    {"port", "SLUICE_PORT", "TCP port (default 8000; 0 picks a free one).", "port", false},
    {"threads", "SLUICE_THREADS", "HTTP server threads sharing the port (default: cores, at most 4).", "n", false},
    {"redis", "SLUICE_REDIS", "Shared window logs in Redis: redis://host:port[/db].", "url", false},
    {"redis-cluster", "SLUICE_REDIS_CLUSTER", "Shared window logs in a Redis Cluster: host:port,host:port,…", "seeds", false},
    {"postgres", "SLUICE_POSTGRES", "Registry and policies in Postgres (libpq conninfo).", "conninfo", false},
    {"registry-file", "SLUICE_REGISTRY_FILE", "Registry JSON for the embedded mode (default: built-in demo).", "file", false},
    {"failure-mode", "SLUICE_FAILURE_MODE", "When Redis is unavailable: local, fail-open or fail-closed (default local).", "mode", false},
    {"instances", "SLUICE_INSTANCES", "Sluice instances sharing the store; the local fallback divides limits by it.", "n", false},
    {"redis-timeout-ms", "SLUICE_REDIS_TIMEOUT_MS", "Per-call Redis timeout in ms (default 50).", "ms", false},
    {"admin-token", "SLUICE_ADMIN_TOKEN", "Bearer token of the admin API (unset: admin API off).", "token", true},
    {"max-keys", "SLUICE_MAX_KEYS", "Most window keys the memory store holds; past it new callers get 503 (default 5000000, ~0.75 GiB).", "n", false},
    {"request-timeout", "SLUICE_REQUEST_TIMEOUT", "Seconds a request's header and body may take to arrive (default 10).", "s", false},
    {"idle-timeout", "SLUICE_IDLE_TIMEOUT", "Seconds a keep-alive connection may stay idle (default 60).", "s", false},
    {"forward-auth-deny-status", "SLUICE_FORWARD_AUTH_DENY_STATUS", "Status of a refused forward-auth check: 429 (default) or 403 (nginx auth_request).", "status", false},
    {"grpc-port", "SLUICE_GRPC_PORT", "Serve Envoy's rate limit service (gRPC) on this port (default: off).", "port", false},
    {"forward-auth-headers", "SLUICE_FORWARD_AUTH_HEADERS", "Identity headers of forward-auth, e.g. user=X-Caller,model=X-Model (defaults X-Tenant-Id, X-User-Id, X-Model-Id, X-Model-Tier, X-API-Key, X-Cost).", "spec", false},
    {"redis-user", "SLUICE_REDIS_USER", "Redis ACL user for --redis-cluster (or when the --redis URL names none).", "user", false},
    {"redis-password-file", "SLUICE_REDIS_PASSWORD_FILE", "File whose first line is the Redis password (or set SLUICE_REDIS_PASSWORD; never on the command line).", "file", false},
    {"lease-seconds", "SLUICE_LEASE_SECONDS", "How long a reservation and its concurrency leases live unless completed or extended (default 600).", "s", false},
    {"redis-batch", "SLUICE_REDIS_BATCH", "Most checks decided in one Redis script call (default 64; 1: no batching).", "n", false},
    {"redis-sentinel", "SLUICE_REDIS_SENTINEL", "Redis Sentinels to ask for the primary: host:port,… (with --redis-master).", "sentinels", false},
    {"redis-master", "SLUICE_REDIS_MASTER", "The master name the sentinels monitor (with --redis-sentinel).", "name", false},
    {"history-days", "SLUICE_HISTORY_DAYS", "Days of per-minute usage history kept (Postgres usage_minute, or memory; default 30).", "days", false},
    {"history-flush-seconds", "SLUICE_HISTORY_FLUSH_SECONDS", "Seconds between writes of the usage history (default 10).", "s", false},
    {"prometheus-url", "SLUICE_PROMETHEUS_URL", "Prometheus to ask for the GPU pools' load (PromQL per pool; default: not asked).", "url", false},
    {"pool-stale-seconds", "SLUICE_POOL_STALE_SECONDS", "A pool's load signal older than this is stale: its limits go back to static (default 5).", "s", false},
    {"pool-decrease", "SLUICE_POOL_DECREASE", "Adaptive limits: the factor is multiplied by this each second a pool is saturated (default 0.8).", "x", false},
    {"pool-increase", "SLUICE_POOL_INCREASE", "Adaptive limits: this is added to the factor each second a pool is not saturated (default 0.05).", "x", false},
    {"upstream", "SLUICE_UPSTREAM", "The inference door: serve the OpenAI API (/v1/…) in front of this model router or server, http://host:port (default: off).", "url", false},
    {"upstream-api-key-file", "SLUICE_UPSTREAM_API_KEY_FILE", "File whose first line is the key Sluice sends to the upstream (or set SLUICE_UPSTREAM_API_KEY).", "file", false},
    {"upstream-connect-timeout-ms", "SLUICE_UPSTREAM_CONNECT_TIMEOUT_MS", "Inference door: ms to connect to the upstream (default 5000; then 502).", "ms", false},
    {"upstream-first-byte-timeout-ms", "SLUICE_UPSTREAM_FIRST_BYTE_TIMEOUT_MS", "Inference door: ms from the request sent to the upstream's first byte (default 120000; then 504).", "ms", false},
    {"upstream-idle-timeout-ms", "SLUICE_UPSTREAM_IDLE_TIMEOUT_MS", "Inference door: ms an answer or stream may stall (default 60000; then 504, or the stream is cut).", "ms", false},
    {"door-max-body-bytes", "SLUICE_DOOR_MAX_BODY_BYTES", "Inference door: largest request body (default 4194304; then 413).", "bytes", false},
    {"door-max-response-bytes", "SLUICE_DOOR_MAX_RESPONSE_BYTES", "Inference door: largest whole (not streamed) upstream answer (default 33554432; then 502).", "bytes", false},
    {"door-max-in-flight", "SLUICE_DOOR_MAX_IN_FLIGHT", "Inference door: requests (streams included) proxied at once by this instance (default 1000; then 503).", "n", false},
    {"door-default-max-tokens", "SLUICE_DOOR_DEFAULT_MAX_TOKENS", "Inference door: output tokens reserved for a request that names no max_tokens (default 1024).", "n", false},
};
constexpr int kOptionCount = static_cast<int>(sizeof kOptions / sizeof kOptions[0]);

// A secret kept in a file (never on a command line): its first line, trimmed. `what` names it in
// the error ("holds no password on its first line").
bool readSecretFile(const QString &path, const QString &origin, const char *what, QString *out, QString *error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("%1: cannot read %2: %3").arg(origin, path, f.errorString());
        return false;
    }
    *out = QString::fromUtf8(f.readLine()).trimmed();
    if (out->isEmpty()) {
        *error = QStringLiteral("%1: %2 holds no %3 on its first line").arg(origin, path, QLatin1String(what));
        return false;
    }
    return true;
}

int optionIndex(const QString &name)
{
    for (int i = 0; i < kOptionCount; ++i) {
        if (name == QLatin1String(kOptions[i].name))
            return i;
    }
    return -1;
}

struct FileValue
{
    QString value;
    int line = 0;
};

// The strict `key = value` reader.
std::optional<QHash<QString, FileValue>> readConfigFile(const QString &path, QString *error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read config file %1: %2").arg(path, f.errorString());
        return std::nullopt;
    }
    if (QFileInfo(path).isDir()) {
        *error = QStringLiteral("cannot read config file %1: it is a directory").arg(path);
        return std::nullopt;
    }
    const QByteArray bytes = f.readAll();
    if (f.error() != QFileDevice::NoError) {
        *error = QStringLiteral("cannot read config file %1: %2").arg(path, f.errorString());
        return std::nullopt;
    }
    static const QRegularExpression keyPattern(QStringLiteral("^[a-z][a-z0-9-]*$"));
    QHash<QString, FileValue> values;
    const QStringList lines = QString::fromUtf8(bytes).split(QLatin1Char('\n'));
    for (int i = 0; i < lines.size(); ++i) {
        const QString line = lines.at(i).trimmed();
        const int number = i + 1;
        if (line.isEmpty() || line.startsWith(QLatin1Char('#')))
            continue;
        const qsizetype eq = line.indexOf(QLatin1Char('='));
        if (eq < 0) {
            *error = QStringLiteral("%1 line %2: expected 'key = value', got '%3'").arg(path).arg(number).arg(line.left(80));
            return std::nullopt;
        }
        const QString key = line.left(eq).trimmed();
        const QString value = line.mid(eq + 1).trimmed();
        if (!keyPattern.match(key).hasMatch() || optionIndex(key) < 0) {
            *error = QStringLiteral("%1 line %2: unknown key '%3' (keys are the long option names of --help)")
                         .arg(path).arg(number).arg(key.left(80));
            return std::nullopt;
        }
        if (values.contains(key)) {
            *error = QStringLiteral("%1 line %2: '%3' is already set on line %4").arg(path).arg(number).arg(key).arg(values[key].line);
            return std::nullopt;
        }
        values.insert(key, {value, number});
    }
    return values;
}

} // namespace

int ServerConfig::effectiveThreads() const
{
    return threads > 0 ? threads : std::clamp(QThread::idealThreadCount(), 1, 4);
}

QString ServerConfig::storeName() const
{
    if (!redisCluster.isEmpty())
        return QStringLiteral("redis-cluster");
    if (!redisUrl.isEmpty() || !redisSentinels.isEmpty())
        return QStringLiteral("redis");
    return QStringLiteral("memory");
}

QStringList ServerConfig::secrets() const
{
    QStringList s;
    if (!adminToken.isEmpty())
        s << adminToken;
    for (const QString &c : {postgres, redisUrl}) {
        const QString secret = secretOf(c);
        if (!secret.isEmpty())
            s << secret;
    }
    if (!redisPassword.isEmpty())
        s << redisPassword;
    if (!upstreamApiKey.isEmpty())
        s << upstreamApiKey;
    return s;
}

QStringList ServerConfig::warnings() const
{
    QStringList w;
    // A fleet shares its registry through Postgres; without Redis each instance keeps its own
    // counts, so N instances admit N times every limit. Fine for one instance: it is said, not refused.
    if (!postgres.isEmpty() && storeName() == QStringLiteral("memory"))
        w << QStringLiteral("the registry is in Postgres but the counts are in this process's memory: each instance admits "
                            "every limit on its own (N instances admit N times it); give every instance the same "
                            "--redis, --redis-sentinels or --redis-cluster to share the counts");
    return w;
}

QString ServerConfig::describe() const
{
    // By option name: the table's order is the output's, whatever order these are in.
    const QHash<QString, QString> values = {
        {QStringLiteral("bind"), bind.toString()},
        {QStringLiteral("port"), QString::number(port)},
        {QStringLiteral("threads"), QStringLiteral("%1 (effective %2)").arg(threads).arg(effectiveThreads())},
        {QStringLiteral("redis"), redactUrl(redisUrl)},
        {QStringLiteral("redis-cluster"), redisCluster.join(QLatin1Char(','))},
        {QStringLiteral("postgres"), redactConninfo(postgres)},
        {QStringLiteral("registry-file"), registryFile},
        {QStringLiteral("failure-mode"), failureMode},
        {QStringLiteral("instances"), QString::number(instances)},
        {QStringLiteral("redis-timeout-ms"), QString::number(redisTimeoutMs)},
        {QStringLiteral("admin-token"), adminToken.isEmpty() ? QString() : kMasked},
        {QStringLiteral("max-keys"), QString::number(maxKeys)},
        {QStringLiteral("request-timeout"), QString::number(requestTimeoutMs / 1000)},
        {QStringLiteral("idle-timeout"), QString::number(idleTimeoutMs / 1000)},
        {QStringLiteral("forward-auth-deny-status"), QString::number(forwardAuthDenyStatus)},
        {QStringLiteral("grpc-port"), grpcPort < 0 ? QStringLiteral("off") : QString::number(grpcPort)},
        {QStringLiteral("forward-auth-headers"), forwardAuthHeaders},
        {QStringLiteral("redis-user"), redisUser},
        {QStringLiteral("redis-password-file"), redisPasswordFile},
        {QStringLiteral("lease-seconds"), QString::number(leaseSeconds)},
        {QStringLiteral("redis-batch"), QString::number(redisBatch)},
        {QStringLiteral("redis-sentinel"), redisSentinels.join(QLatin1Char(','))},
        {QStringLiteral("redis-master"), redisMaster},
        {QStringLiteral("history-days"), QString::number(historyDays)},
        {QStringLiteral("history-flush-seconds"), QString::number(historyFlushSeconds)},
        {QStringLiteral("prometheus-url"), prometheusUrl},
        {QStringLiteral("pool-stale-seconds"), QString::number(poolStaleSeconds)},
        {QStringLiteral("pool-decrease"), QString::number(poolDecrease)},
        {QStringLiteral("pool-increase"), QString::number(poolIncrease)},
        {QStringLiteral("upstream"), upstream},
        {QStringLiteral("upstream-api-key-file"), upstreamApiKeyFile},
        {QStringLiteral("upstream-connect-timeout-ms"), QString::number(upstreamConnectTimeoutMs)},
        {QStringLiteral("upstream-first-byte-timeout-ms"), QString::number(upstreamFirstByteTimeoutMs)},
        {QStringLiteral("upstream-idle-timeout-ms"), QString::number(upstreamIdleTimeoutMs)},
        {QStringLiteral("door-max-body-bytes"), QString::number(doorMaxBodyBytes)},
        {QStringLiteral("door-max-response-bytes"), QString::number(doorMaxResponseBytes)},
        {QStringLiteral("door-max-in-flight"), QString::number(doorMaxInFlight)},
        {QStringLiteral("door-default-max-tokens"), QString::number(doorDefaultMaxTokens)},
    };
    QString out = QStringLiteral("# config file: %1\n# store: %2\n")
                      .arg(configFile.isEmpty() ? QStringLiteral("(none)") : configFile, storeName());
    for (const QString &w : warnings())
        out += QStringLiteral("# warning: %1\n").arg(w);
    for (int i = 0; i < kOptionCount; ++i) {
        const QString name = QLatin1String(kOptions[i].name);
        if (!values.contains(name))
            qFatal("--check-config does not describe option %s", kOptions[i].name);
        out += QStringLiteral("%1 = %2").arg(name, values.value(name)).trimmed() + QStringLiteral("  # ")
            + (i < sources.size() ? sources.at(i) : QStringLiteral("default")) + QLatin1Char('\n');
    }
    return out;
}

std::optional<ServerConfig> ServerConfig::parse(const QStringList &arguments, const QProcessEnvironment &env,
                                                QString *error, bool *exitNow)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Sluice: sliding-window-log rate limiter for AI model serving.\n\n"
        "  sluice-server [options]                  serve\n"
        "  sluice-server migrate [--demo] [options] bring the Postgres schema (--postgres) to this server's\n"
        "                                           version; --demo also seeds the demo registry"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption configOption(QStringLiteral("config"),
                                          QStringLiteral("Config file (default /etc/sluice/server.conf) [env SLUICE_CONFIG]."),
                                          QStringLiteral("file"));
    const QCommandLineOption checkOption(QStringLiteral("check-config"),
                                         QStringLiteral("Parse and validate the configuration, print it (secrets masked) and exit."));
    parser.addOption(configOption);
    parser.addOption(checkOption);
    for (const Option &o : kOptions)
        parser.addOption(QCommandLineOption(QString::fromLatin1(o.name),
                                            QString::fromUtf8(o.help) + QStringLiteral(" [env ") + QString::fromLatin1(o.env) + QLatin1Char(']'),
                                            QString::fromLatin1(o.valueName)));
    if (!parser.parse(arguments)) {
        *error = parser.errorText();
        return std::nullopt;
    }
    if (!parser.positionalArguments().isEmpty()) {
        *error = QStringLiteral("unexpected argument '%1' (options start with --)").arg(parser.positionalArguments().first());
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
    c.checkOnly = parser.isSet(checkOption);
    QString file = parser.value(configOption);
    if (file.isEmpty())
        file = env.value(QStringLiteral("SLUICE_CONFIG"));
    const bool fileRequired = !file.isEmpty();
    if (file.isEmpty())
        file = QStringLiteral("/etc/sluice/server.conf");
    QHash<QString, FileValue> fileValues;
    if (QFileInfo::exists(file)) {
        auto read = readConfigFile(file, error);
        if (!read)
            return std::nullopt;
        fileValues = *read;
        c.configFile = file;
    } else if (fileRequired) {
        *error = QStringLiteral("config file %1 does not exist").arg(file);
        return std::nullopt;
    }

    // Each option's value and where it came from ("flag", "env SLUICE_X", "file:line", "default").
    // One precedence walk per option: its value, where errors say it came from (origin), and the
    // short source --check-config prints.
    struct Setting
    {
        QString value, origin, source;
    };
    std::vector<Setting> settings;
    for (const Option &o : kOptions) {
        const QString name = QString::fromLatin1(o.name), envName = QString::fromLatin1(o.env);
        if (parser.isSet(name))
            settings.push_back({parser.value(name), QStringLiteral("--%1").arg(name), QStringLiteral("flag")});
        else if (env.contains(envName))
            settings.push_back({env.value(envName), QStringLiteral("%1 (environment)").arg(envName), QStringLiteral("env %1").arg(envName)});
        else if (fileValues.contains(name))
            settings.push_back({fileValues[name].value, QStringLiteral("%1 (%2 line %3)").arg(name, file).arg(fileValues[name].line),
                                QStringLiteral("file line %1").arg(fileValues[name].line)});
        else
            settings.push_back({QString(), QStringLiteral("--%1").arg(name), QStringLiteral("default")});
        c.sources << settings.back().source;
    }
    QString origin;
    // Options by name (an unknown name is a programming error: caught by every test run).
    auto value = [&](const char *name) -> QString {
        const int i = optionIndex(QLatin1String(name));
        if (i < 0)
            qFatal("no option named %s", name);
        origin = settings[static_cast<size_t>(i)].origin;
        return settings[static_cast<size_t>(i)].value;
    };
    auto integer = [&](const char *name, qint64 min, qint64 max, auto *out) {
        const QString v = value(name);
        if (v.isEmpty())
            return true;
        bool ok = false;
        const qint64 n = v.toLongLong(&ok);
        if (!ok || n < min || n > max) {
            *error = QStringLiteral("%1 must be an integer from %2 to %3, got '%4'").arg(origin).arg(min).arg(max).arg(v);
            return false;
        }
        *out = static_cast<std::remove_pointer_t<decltype(out)>>(n);
        return true;
    };

    const QString bind = value("bind");
    if (!bind.isEmpty()) {
        const QString host = bind == QStringLiteral("localhost") ? QStringLiteral("127.0.0.1") : bind;
        if (!c.bind.setAddress(host)) {
            *error = QStringLiteral("%1: '%2' is not an IP address").arg(origin, bind);
            return std::nullopt;
        }
    }
    int port = c.port;
    int requestTimeout = c.requestTimeoutMs / 1000, idleTimeout = c.idleTimeoutMs / 1000;
    if (!integer("port", 0, 65535, &port) || !integer("threads", 0, 64, &c.threads) || !integer("instances", 1, 10000, &c.instances)
        || !integer("redis-timeout-ms", 1, 60000, &c.redisTimeoutMs) || !integer("max-keys", 1000, 1'000'000'000, &c.maxKeys)
        || !integer("request-timeout", 1, 3600, &requestTimeout) || !integer("idle-timeout", 1, 86400, &idleTimeout))
        return std::nullopt;
    c.port = static_cast<quint16>(port);
    c.requestTimeoutMs = requestTimeout * 1000;
    c.idleTimeoutMs = idleTimeout * 1000;
    c.redisUrl = value("redis");
    if (!c.redisUrl.isEmpty()) {
        const QUrl url(c.redisUrl);
        if (url.scheme() != QStringLiteral("redis") || url.host().isEmpty()) {
            *error = QStringLiteral("%1 must look like redis://[user:password@]host:port[/db], got '%2' (rediss:// needs "
                                    "hiredis 1.0, which Debian 12 lacks: see the README for a TLS sidecar)")
                         .arg(origin, redactUrl(c.redisUrl));
            return std::nullopt;
        }
    }
    const QString cluster = value("redis-cluster");
    if (!cluster.isEmpty()) {
        c.redisCluster = cluster.split(QLatin1Char(','), Qt::SkipEmptyParts);
        for (QString &seed : c.redisCluster) {
            seed = seed.trimmed();
            if (seed.startsWith(QStringLiteral("redis://")))
                seed = seed.mid(8);
            if (!seed.contains(QLatin1Char(':'))) {
                *error = QStringLiteral("%1: seeds must be host:port, got '%2'").arg(origin, seed);
                return std::nullopt;
            }
        }
    }
    const QString sentinels = value("redis-sentinel");
    if (!sentinels.isEmpty()) {
        c.redisSentinels = sentinels.split(QLatin1Char(','), Qt::SkipEmptyParts);
        for (QString &s : c.redisSentinels) {
            s = s.trimmed();
            if (!s.contains(QLatin1Char(':')) || s.section(QLatin1Char(':'), -1).toUShort() == 0) {
                *error = QStringLiteral("%1: sentinels must be host:port, got '%2'").arg(origin, s);
                return std::nullopt;
            }
        }
    }
    c.redisMaster = value("redis-master");
    if (c.redisSentinels.isEmpty() != c.redisMaster.isEmpty()) {
        *error = QStringLiteral("--redis-sentinel and --redis-master go together (the sentinels, and the master name they monitor)");
        return std::nullopt;
    }
    if ((!c.redisUrl.isEmpty()) + (!c.redisCluster.isEmpty()) + (!c.redisSentinels.isEmpty()) > 1) {
        *error = QStringLiteral("--redis, --redis-cluster and --redis-sentinel exclude each other");
        return std::nullopt;
    }
    // Redis credentials: the URL's, else --redis-user with the password from --redis-password-file
    // or SLUICE_REDIS_PASSWORD (so that the secret need not be on a command line).
    c.redisUser = value("redis-user");
    c.redisPasswordFile = value("redis-password-file");
    const QString passwordOrigin = origin;
    if (!c.redisPasswordFile.isEmpty()) {
        if (!readSecretFile(c.redisPasswordFile, passwordOrigin, "password", &c.redisPassword, error))
            return std::nullopt;
    } else {
        c.redisPassword = env.value(QStringLiteral("SLUICE_REDIS_PASSWORD"));
    }
    if (!c.redisUser.isEmpty() && redisCredentialsFor(c.redisUrl, {c.redisUser.toUtf8(), c.redisPassword.toUtf8()}).password.isEmpty()) {
        *error = QStringLiteral("--redis-user needs a password (--redis-password-file or SLUICE_REDIS_PASSWORD)");
        return std::nullopt;
    }
    c.postgres = value("postgres");
    c.registryFile = value("registry-file");
    const QString mode = value("failure-mode");
    if (!mode.isEmpty()) {
        if (mode != QStringLiteral("local") && mode != QStringLiteral("fail-open") && mode != QStringLiteral("fail-closed")) {
            *error = QStringLiteral("%1 must be local, fail-open or fail-closed, got '%2'").arg(origin, mode);
            return std::nullopt;
        }
        c.failureMode = mode;
    }
    c.adminToken = value("admin-token");
    const QString deny = value("forward-auth-deny-status");
    if (!deny.isEmpty()) {
        if (deny != QStringLiteral("429") && deny != QStringLiteral("403")) {
            *error = QStringLiteral("%1 must be 429 or 403, got '%2'").arg(origin, deny);
            return std::nullopt;
        }
        c.forwardAuthDenyStatus = deny.toInt();
    }
    if (!integer("grpc-port", 0, 65535, &c.grpcPort) || !integer("lease-seconds", 1, 7 * 86400, &c.leaseSeconds) || !integer("redis-batch", 1, 1000, &c.redisBatch)
        || !integer("history-days", 1, 3650, &c.historyDays) || !integer("history-flush-seconds", 1, 3600, &c.historyFlushSeconds))
        return std::nullopt;
    c.prometheusUrl = value("prometheus-url");
    if (!c.prometheusUrl.isEmpty()) {
        const QUrl url(c.prometheusUrl);
        if (!url.isValid() || (url.scheme() != QStringLiteral("http") && url.scheme() != QStringLiteral("https")) || url.host().isEmpty()) {
            *error = QStringLiteral("%1 must be an http(s) URL of Prometheus, e.g. http://127.0.0.1:9090, got '%2'").arg(origin, c.prometheusUrl);
            return std::nullopt;
        }
    }
    if (!integer("pool-stale-seconds", 1, 3600, &c.poolStaleSeconds))
        return std::nullopt;
    auto fraction = [&](const char *name, double min, double max, bool minOpen, double *out) {
        const QString v = value(name);
        if (v.isEmpty())
            return true;
        bool ok = false;
        const double d = v.toDouble(&ok);
        if (!ok || !(minOpen ? d > min : d >= min) || !(d < max)) {
            *error = QStringLiteral("%1 must be a number %2 %3 and below %4, got '%5'")
                         .arg(origin, minOpen ? QStringLiteral("above") : QStringLiteral("from")).arg(min).arg(max).arg(v);
            return false;
        }
        *out = d;
        return true;
    };
    if (!fraction("pool-decrease", 0, 1, true, &c.poolDecrease) || !fraction("pool-increase", 0, 1, true, &c.poolIncrease))
        return std::nullopt;
    c.upstream = value("upstream");
    if (!c.upstream.isEmpty()) {
        const QUrl url(c.upstream);
        if (!url.userInfo().isEmpty()) {
            *error = QStringLiteral("%1: credentials do not belong in the URL (it shows in `ps` and logs): put the upstream's key "
                                    "in --upstream-api-key-file or SLUICE_UPSTREAM_API_KEY")
                         .arg(origin);
            return std::nullopt;
        }
        if (!isUpstreamUrl(c.upstream)) {
            *error = QStringLiteral("%1 must be http://host:port[/prefix] of the model router or server, got '%2'%3")
                         .arg(origin, redactUrl(c.upstream),
                              url.scheme() == QStringLiteral("https")
                                  ? QStringLiteral(" (https is not spoken by the door: put a TLS sidecar in front of the upstream, see the README)")
                                  : QString());
            return std::nullopt;
        }
    }
    c.upstreamApiKeyFile = value("upstream-api-key-file");
    if (!c.upstreamApiKeyFile.isEmpty()) {
        if (!readSecretFile(c.upstreamApiKeyFile, origin, "key", &c.upstreamApiKey, error))
            return std::nullopt;
    } else {
        c.upstreamApiKey = env.value(QStringLiteral("SLUICE_UPSTREAM_API_KEY"));
    }
    if (!integer("upstream-connect-timeout-ms", 1, 600000, &c.upstreamConnectTimeoutMs)
        || !integer("upstream-first-byte-timeout-ms", 1, 3600000, &c.upstreamFirstByteTimeoutMs)
        || !integer("upstream-idle-timeout-ms", 1, 3600000, &c.upstreamIdleTimeoutMs)
        || !integer("door-max-body-bytes", 16 * 1024, 256 * 1024 * 1024, &c.doorMaxBodyBytes)
        || !integer("door-max-response-bytes", 64 * 1024, qint64(4) * 1024 * 1024 * 1024, &c.doorMaxResponseBytes)
        || !integer("door-max-in-flight", 1, 1000000, &c.doorMaxInFlight)
        || !integer("door-default-max-tokens", 1, 100'000'000, &c.doorDefaultMaxTokens))
        return std::nullopt;
    c.forwardAuthHeaders = value("forward-auth-headers");
    ForwardAuthSettings names; // the door's own parser validates the spec (one place)
    QString why;
    if (!names.setHeaders(c.forwardAuthHeaders, &why)) {
        *error = QStringLiteral("%1: %2 (expected e.g. user=X-Caller,model=X-Model)").arg(origin, why);
        return std::nullopt;
    }
    return c;
}

} // namespace sluice
