// SPDX-License-Identifier: Apache-2.0
#include "redis/clustertopology.h"

#include "redis/clusterslots.h"

#include <algorithm>

namespace sluice {

ClusterTopology::ClusterTopology(const QStringList &seeds, int timeoutMs, QObject *parent, RedisCredentials credentials)
    : QObject(parent), m_timeoutMs(timeoutMs), m_credentials(std::move(credentials))
{
    for (const QString &seed : seeds)
        std::apply([this](const QString &host, quint16 port) { node(host, port); }, splitHostPort(seed));
}

RedisConnection *ClusterTopology::node(const QString &host, quint16 port)
{
    for (RedisConnection *c : m_nodes) {
        if (c->address() == QStringLiteral("%1:%2").arg(host).arg(port))
            return c;
    }
    auto *c = new RedisConnection(host, port, 0, m_timeoutMs, this);
    c->setCredentials(m_credentials);
    // A node that (re)connects, or drops, may mean the slots moved: ask again.
    connect(c, &RedisConnection::connected, this, &ClusterTopology::refreshSlots);
    connect(c, &RedisConnection::disconnected, this, &ClusterTopology::refreshSlots);
    m_nodes.push_back(c);
    c->open();
    return c;
}

int ClusterTopology::slotsKnown() const
{
    return static_cast<int>(std::count_if(m_slots.begin(), m_slots.end(), [](RedisConnection *c) { return c != nullptr; }));
}

void ClusterTopology::mapAllSlotsTo(const QString &host, quint16 port)
{
    RedisConnection *c = node(host, port);
    m_slots.fill(c);
}

void ClusterTopology::refreshSlots()
{
    if (m_refreshing)
        return;
    for (RedisConnection *c : m_nodes) {
        if (!c->isConnected())
            continue;
        m_refreshing = true;
        c->command({QByteArrayLiteral("CLUSTER"), QByteArrayLiteral("SLOTS")}, [this](const RedisResult &r) {
            m_refreshing = false;
            if (r.ok && r.reply.type == RedisReply::Type::Array && !r.reply.elements.empty())
                applySlots(r.reply);
            else
                m_lastError = r.ok ? QString::fromUtf8(r.reply.str) : r.error;
        });
        return;
    }
}

void ClusterTopology::applySlots(const RedisReply &reply)
{
    for (const RedisReply &range : reply.elements) {
        if (range.elements.size() < 3 || range.elements[2].elements.size() < 2)
            continue;
        const auto first = range.elements[0].integer;
        const auto last = range.elements[1].integer;
        const RedisReply &primary = range.elements[2];
        QString host = QString::fromUtf8(primary.elements[0].str);
        if (host.isEmpty())
            host = QStringLiteral("127.0.0.1");
        RedisConnection *c = node(host, static_cast<quint16>(primary.elements[1].integer));
        for (qint64 s = std::max<qint64>(0, first); s <= last && s < kClusterSlots; ++s)
            m_slots[static_cast<size_t>(s)] = c;
    }
}

RedisConnection *ClusterTopology::redirectTarget(const RedisReply &reply, bool *ask)
{
    if (!reply.isError())
        return nullptr;
    const QList<QByteArray> parts = reply.str.split(' ');
    if (parts.size() != 3 || (parts[0] != "MOVED" && parts[0] != "ASK"))
        return nullptr;
    *ask = parts[0] == "ASK";
    const QByteArray address = parts[2];
    const qsizetype colon = address.lastIndexOf(':');
    QString host = QString::fromUtf8(address.left(colon));
    if (host.isEmpty())
        host = QStringLiteral("127.0.0.1");
    RedisConnection *target = node(host, address.mid(colon + 1).toUShort());
    if (!*ask) {
        m_slots[static_cast<size_t>(parts[1].toInt() % kClusterSlots)] = target;
        refreshSlots(); // one MOVED usually means more slots moved
    }
    return target;
}

} // namespace sluice
