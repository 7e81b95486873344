// SPDX-License-Identifier: Apache-2.0
// Which Redis Cluster node serves which hash slot, apart from the commands sent to them (like
// redis-plus-plus's AsyncShardsPool): one RedisConnection per node (children of this object, on
// this thread), the slot map from CLUSTER SLOTS (refreshed when a node connects or drops, and
// after a MOVED), and the targets of MOVED/ASK redirections.
#pragma once

#include "redis/layer.h"

#include "redis/redisconnection.h"

#include <QObject>
#include <QStringList>
#include <array>
#include <vector>

namespace sluice {

class ClusterTopology : public QObject
{
public:
    ClusterTopology(const QStringList &seeds, int timeoutMs, QObject *parent = nullptr, RedisCredentials credentials = {});

    // The connection to host:port, made (and opened) on first use.
    RedisConnection *node(const QString &host, quint16 port);
    RedisConnection *nodeForSlot(int slot) const { return m_slots[static_cast<size_t>(slot)]; }
    const std::vector<RedisConnection *> &nodes() const { return m_nodes; }
    int slotsKnown() const;
    void refreshSlots();
    // For tests: pretend every slot lives on one node (MOVED must then put things right).
    void mapAllSlotsTo(const QString &host, quint16 port);
    // Follows a MOVED/ASK error reply: the target connection (the slot map learns a MOVED), or
    // null when the reply is neither.
    RedisConnection *redirectTarget(const RedisReply &reply, bool *ask);
    QString lastError() const { return m_lastError; }

private:
    void applySlots(const RedisReply &reply);

    int m_timeoutMs;
    RedisCredentials m_credentials; // every node's, the ones learned from CLUSTER SLOTS too
    std::vector<RedisConnection *> m_nodes;
    std::array<RedisConnection *, 16384> m_slots{};
    bool m_refreshing = false;
    QString m_lastError;
};

} // namespace sluice
