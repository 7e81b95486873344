// SPDX-License-Identifier: Apache-2.0
// One configuration (design §8): command-line flags > environment (SLUICE_*) > file
// (/etc/sluice/server.conf, or --config). Defaults serve the embedded mode: memory store, the
// built-in demo registry, 127.0.0.1:8000.
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
    QString configFile;            // the file that was read, if any

    int effectiveThreads() const;
    QString storeName() const;     // memory | redis | redis-cluster

    // Parses arguments (argv[0] first) with env and the config file under them. On error returns
    // nullopt and sets *error; --help/--version print and set *exitNow.
    static std::optional<ServerConfig> parse(const QStringList &arguments, const QProcessEnvironment &env,
                                             QString *error, bool *exitNow = nullptr);
};

} // namespace sluice
