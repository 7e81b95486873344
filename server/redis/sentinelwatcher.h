// SPDX-License-Identifier: Apache-2.0
// Where the Redis primary is, according to Redis Sentinel (--redis-sentinel host:port,…
// --redis-master NAME): asked of every sentinel at start, every second, and at once when the
// store's connection is lost (askNow); followed at once on +switch-master, which every sentinel
// publishes when a failover completes (a subscription to each), and when the primary refuses a
// write as READONLY. A poll moves the primary to what more than half of the sentinels that
// answered say, and a poll sent before a +switch-master cannot move it back. Sentinels are asked without AUTH. Lives on, and
// must be used from, its store's thread.
#pragma once

#include "redis/layer.h"

#include "redis/redisconnection.h"

#include <QJsonObject>
#include <QObject>
#include <QTimer>
#include <memory>
#include <vector>

namespace sluice {

class SentinelWatcher final : public QObject
{
    Q_OBJECT
public:
    SentinelWatcher(const QStringList &sentinels, QByteArray master, int timeoutMs, QObject *parent = nullptr);

    void start();
    void askNow();
    bool known() const { return m_port != 0; }
    QString primary() const { return known() ? QStringLiteral("%1:%2").arg(m_host).arg(m_port) : QString(); }
    QJsonObject health() const;
    // Times it followed the sentinels to another primary (failovers).
    qint64 primaryChanges() const { return m_failovers; }

Q_SIGNALS:
    void primaryChanged(const QString &host, quint16 port);

private:
    void adopt(const QString &host, quint16 port, const QString &why);

    QByteArray m_master;
    std::vector<std::unique_ptr<RedisConnection>> m_queries;       // one per sentinel
    std::vector<std::unique_ptr<RedisConnection>> m_subscriptions; // one per sentinel, +switch-master
    QTimer m_poll;
    QString m_host;
    quint16 m_port = 0;
    quint64 m_generation = 0; // moves on every +switch-master: older polls are ignored
    bool m_asking = false;
    int m_failovers = 0;
    QString m_lastChange;
};

// At startup only (blocks at most timeoutMs per sentinel): the primary's "host:port" from the
// first sentinel that knows it, or an empty string.
QString askSentinelsNow(const QStringList &sentinels, const QByteArray &master, int timeoutMs);

} // namespace sluice
