// SPDX-License-Identifier: Apache-2.0
// The window store on a Redis Cluster. The keys of one check live in different hash slots (our
// keys are "sluice:{…}", one slot each) and a script may only touch one slot, so a check is
// reserve-then-confirm: one window_check.lua call per slot group, all in parallel, each admitting
// (adding the member) only where everything in its group fits. If every group admitted, the
// check is admitted; if any refused (or failed), the member is removed again (ZREM) from the
// groups that admitted. It never admits more than a limit; the price is that a reservation later
// rolled back is counted by concurrent checks for a moment, so under contention near a limit a
// check may be refused that a single Redis would have admitted (brief under-admission).
// Which node serves which slot is ClusterTopology's business (CLUSTER SLOTS, refreshed on MOVED,
// connection loss and reconnection); MOVED and ASK are followed here (at most 5 redirects).
// One connection per node, per server thread.
#pragma once

#include "redis/layer.h"

#include "redis/clustertopology.h"
#include "redis/redisconnection.h"
#include "redis/redisscripts.h"
#include "engine/windowstore.h"

#include <array>
#include <memory>
#include <vector>

namespace sluice {

class RedisClusterWindowStore final : public QObject, public WindowStore
{
    Q_OBJECT
public:
    RedisClusterWindowStore(const QStringList &seeds, int timeoutMs, QObject *parent = nullptr);

    void check(const WindowBatch &batch, CheckCallback done) override;
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override;
    void reset(const QByteArray &key, DoneCallback done) override;
    QString source() const override { return QStringLiteral("redis-cluster"); }
    QJsonObject health() const override;

    ClusterTopology &topology() { return m_topology; }

private:
    struct CheckState;
    void sendGroup(const std::shared_ptr<CheckState> &state, size_t group, RedisConnection *conn, int redirects,
                   bool asking, bool scriptRetried);
    void groupDone(const std::shared_ptr<CheckState> &state);

    ClusterTopology m_topology;
    MemberIds m_members;
    QString m_lastError;
};

} // namespace sluice
