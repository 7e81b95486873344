// SPDX-License-Identifier: Apache-2.0
// One configuration (design §8): command-line flags > environment (SLUICE_*) > file
// (/etc/sluice/server.conf, or --config / SLUICE_CONFIG). Defaults serve the embedded mode: memory
// store, the built-in demo registry, 127.0.0.1:8000.
//
// The file is strict, like nginx's: plain `key = value` lines (the value verbatim to the end of the
// line: commas and semicolons are part of it), `#` comments, keys the long flag names. An unknown
// or repeated key, a line that is not `key = value`, an unreadable file or a bad value is an error
// that names the file and line (the server exits 2), never a silent default: a fleet whose
// instances quietly fell back to the memory store would admit N times its limits.
// `sluice-server --check-config` parses and validates, then prints the effective configuration
// with secrets masked (the unit's ExecStartPre, like `nginx -t`).
#pragma once

#include <QHostAddress>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <optional>

namespace sluice {

struct ServerConfig
{
    QHostAddress bind = QHostAddress::LocalHost;
    quint16 port = 8000;
    int threads = 0;               // 0: one per core, at most 4
    QString redisUrl;              // redis://host:port[/db]
    QStringList redisCluster;      // host:port seeds
    QString postgres;              // libpq conninfo
    QString registryFile;          // JSON registry instead of the built-in demo one (embedded mode)
    QString failureMode = QStringLiteral("local"); // local | fail-open | fail-closed
    int instances = 1;             // how many Sluice instances share the store (local fallback divides limits)
    int redisTimeoutMs = 50;
    QString adminToken;            // empty: admin API off (403)
    qint64 maxKeys = 5'000'000;    // memory store key bound
    int requestTimeoutMs = 10000;  // a request's header and body must arrive within this
    int idleTimeoutMs = 60000;     // keep-alive connections idle longer are closed
    int forwardAuthDenyStatus = 429; // 429, or 403 for nginx auth_request
    int grpcPort = -1;             // Envoy's rate limit service over gRPC: off (-1), or the port
    QString forwardAuthHeaders;    // "user=X-Caller,…": overrides of the identity header names
    qint64 leaseSeconds = 600;     // reservations and concurrency leases live this long unless extended
    QString redisUser;             // ACL user (Cluster, or a --redis URL that names none)
    QString redisPasswordFile;     // where the password came from, if from a file
    QString redisPassword;         // from the file or SLUICE_REDIS_PASSWORD; a URL's own wins for --redis
    int redisBatch = 64;           // most checks in one Redis script call (1: no batching)
    QStringList redisSentinels;    // host:port of the sentinels (Sentinel mode)
    QString redisMaster;           // the master name they monitor
    int historyDays = 30;          // usage history retention
    int historyFlushSeconds = 10;  // usage history write interval
    QString prometheusUrl;         // GPU pools' load by PromQL (design §14); empty: not asked
    int poolStaleSeconds = 5;      // a pool's load signal older than this is stale: static limits
    double poolDecrease = 0.8;     // adaptive factor × this per second while the pool is saturated
    double poolIncrease = 0.05;    // adaptive factor + this per second while it is not
    // The inference door (design §15): off unless upstream is set.
    QString upstream;              // http://host:port[/prefix] of the model router or server
    QString upstreamApiKeyFile;    // where the upstream's key came from, if from a file
    QString upstreamApiKey;        // sent as Authorization: Bearer to the upstream (file or SLUICE_UPSTREAM_API_KEY)
    int upstreamConnectTimeoutMs = 5000;
    int upstreamFirstByteTimeoutMs = 120000;
    int upstreamIdleTimeoutMs = 60000;
    qint64 doorMaxBodyBytes = 4 * 1024 * 1024;
    qint64 doorMaxResponseBytes = 32 * 1024 * 1024; // a whole (not streamed) answer read to settle it
    int doorMaxInFlight = 1000;    // proxied requests in flight on this instance (streams included)
    qint64 doorDefaultMaxTokens = 1024; // the estimate's output part when a request names none
    QString configFile;            // the file that was read, if any
    bool checkOnly = false;        // --check-config

    int effectiveThreads() const;
    QString storeName() const;     // memory | redis | redis-cluster
    // Every setting as `key = value  # source`, secrets masked (for --check-config).
    QString describe() const;
    // What a person should know about this combination of settings (start, --check-config, /health).
    QStringList warnings() const;
    // The secrets this configuration holds (admin token, passwords), for redactSecrets().
    QStringList secrets() const;

    // Parses arguments (argv[0] first) with env and the config file under them. On error returns
    // nullopt and sets *error; --help/--version print and set *exitNow.
    static std::optional<ServerConfig> parse(const QStringList &arguments, const QProcessEnvironment &env,
                                             QString *error, bool *exitNow = nullptr);

    QStringList sources;           // parallel to the option table: where each value came from
};

} // namespace sluice
