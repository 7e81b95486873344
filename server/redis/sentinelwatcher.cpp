// SPDX-License-Identifier: Apache-2.0
#include "redis/sentinelwatcher.h"

#include <QJsonArray>
#include <algorithm>
#include <hiredis/hiredis.h>

namespace sluice {

namespace {
// SENTINEL get-master-addr-by-name's answer: [host, port], or nil when it does not know NAME.
bool addressFrom(const RedisReply &r, QString *host, quint16 *port)
{
    if (r.type != RedisReply::Type::Array || r.elements.size() != 2)
        return false;
    *host = QString::fromUtf8(r.elements[0].str);
    *port = r.elements[1].str.toUShort();
    return !host->isEmpty() && *port != 0;
}
} // namespace

SentinelWatcher::SentinelWatcher(const QStringList &sentinels, QByteArray master, int timeoutMs, QObject *parent)
    : QObject(parent), m_master(std::move(master))
{
    const int timeout = std::max(200, timeoutMs * 4);
    for (const QString &s : sentinels) {
        const auto [host, port] = splitHostPort(s);
        m_queries.push_back(std::make_unique<RedisConnection>(host, port, 0, timeout, this));
        auto sub = std::make_unique<RedisConnection>(host, port, 0, timeout, this);
        // "<name> <old ip> <old port> <new ip> <new port>"
        sub->subscribe(QByteArrayLiteral("+switch-master"), [this](const QByteArray &payload) {
            const QList<QByteArray> f = payload.split(' ');
            if (f.size() == 5 && f[0] == m_master) {
                ++m_generation;
                adopt(QString::fromUtf8(f[3]), f[4].toUShort(), QStringLiteral("+switch-master"));
            }
        });
        m_subscriptions.push_back(std::move(sub));
    }
    m_poll.setInterval(1000);
    connect(&m_poll, &QTimer::timeout, this, &SentinelWatcher::askNow);
}

void SentinelWatcher::start()
{
    for (auto &c : m_queries) {
        connect(c.get(), &RedisConnection::connected, this, &SentinelWatcher::askNow);
        c->open();
    }
    for (auto &c : m_subscriptions)
        c->open();
    m_poll.start();
}

void SentinelWatcher::askNow()
{
    if (m_asking)
        return;
    struct Round
    {
        size_t left = 0;
        std::vector<std::pair<QString, quint16>> answers;
        quint64 generation = 0;
    };
    auto round = std::make_shared<Round>();
    round->generation = m_generation;
    for (auto &c : m_queries) {
        if (c->isConnected())
            ++round->left;
    }
    if (round->left == 0)
        return;
    m_asking = true;
    for (auto &c : m_queries) {
        if (!c->isConnected())
            continue;
        c->command({QByteArrayLiteral("SENTINEL"), QByteArrayLiteral("get-master-addr-by-name"), m_master},
                   [this, round](const RedisResult &r) {
                       QString host;
                       quint16 port = 0;
                       if (r.ok && addressFrom(r.reply, &host, &port))
                           round->answers.emplace_back(host, port);
                       if (--round->left > 0)
                           return;
                       m_asking = false;
                       if (round->answers.empty() || round->generation != m_generation)
                           return;
                       // What more than half of those that answered say (during a failover they may
                       // disagree: then nothing moves until they agree).
                       for (const auto &a : round->answers) {
                           const auto n = std::count(round->answers.begin(), round->answers.end(), a);
                           if (2 * static_cast<size_t>(n) > round->answers.size())
                               return adopt(a.first, a.second, QStringLiteral("sentinels"));
                       }
                   });
    }
}

void SentinelWatcher::adopt(const QString &host, quint16 port, const QString &why)
{
    if (host == m_host && port == m_port)
        return;
    if (known())
        ++m_failovers;
    m_host = host;
    m_port = port;
    m_lastChange = QStringLiteral("%1 (%2)").arg(primary(), why);
    Q_EMIT primaryChanged(host, port);
}

QJsonObject SentinelWatcher::health() const
{
    int reachable = 0;
    for (const auto &c : m_queries)
        reachable += c->isConnected() ? 1 : 0;
    QJsonObject o{{QStringLiteral("master"), QString::fromUtf8(m_master)},
                  {QStringLiteral("primary"), primary()},
                  {QStringLiteral("sentinels"), static_cast<int>(m_queries.size())},
                  {QStringLiteral("sentinelsReachable"), reachable},
                  {QStringLiteral("primaryChanges"), m_failovers}};
    if (!m_lastChange.isEmpty())
        o.insert(QStringLiteral("lastChange"), m_lastChange);
    return o;
}

QString askSentinelsNow(const QStringList &sentinels, const QByteArray &master, int timeoutMs)
{
    const timeval timeout{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
    for (const QString &s : sentinels) {
        const auto [host, port] = splitHostPort(s);
        redisContext *c = redisConnectWithTimeout(host.toUtf8().constData(), port, timeout);
        if (!c || c->err) {
            if (c)
                redisFree(c);
            continue;
        }
        redisSetTimeout(c, timeout);
        QString found, h;
        quint16 p = 0;
        if (addressFrom(commandNow(c, {QByteArrayLiteral("SENTINEL"), QByteArrayLiteral("get-master-addr-by-name"), master}), &h, &p))
            found = QStringLiteral("%1:%2").arg(h).arg(p);
        redisFree(c);
        if (!found.isEmpty())
            return found;
    }
    return QString();
}

} // namespace sluice
