// SPDX-License-Identifier: Apache-2.0
// The window store on a Redis Cluster. The keys of one check live in different hash slots (our
// keys are "sluice:{…}", one slot each) and a script may only touch one slot, so a check is
// reserve-then-confirm: one window_check.lua call per slot group, all in parallel, each admitting
// (adding the member) only where everything in its group fits. If every group admitted, the
// check is admitted; if any refused (or failed), the member is removed again (ZREM) from the
// groups that admitted. It never admits more than a limit; the price is that a reservation later
// rolled back is counted by concurrent checks for a moment, so under contention near a limit a
// check may be refused that a single Redis would have admitted (brief under-admission).
// Slots follow CLUSTER SLOTS (refreshed on MOVED, on connection loss and on reconnection);
// MOVED and ASK are followed (at most 5 redirects). One connection per node, per server thread.
#pragma once

#include "redisconnection.h"
#include "redisscripts.h"
#include "windowstore.h"

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

    int slotsKnown() const;
    void refreshSlots();
    // For tests: pretend every slot lives on one node (MOVED must then put things right).
    void mapAllSlotsTo(const QString &host, quint16 port);

private:
    struct CheckState;
    RedisConnection *node(const QString &host, quint16 port);
    RedisConnection *nodeForSlot(int slot) const;
    void sendGroup(const std::shared_ptr<CheckState> &state, size_t group, RedisConnection *conn, int redirects,
                   bool asking, bool scriptRetried);
    void groupDone(const std::shared_ptr<CheckState> &state);
    void applySlots(const RedisReply &reply);
    // Follows a MOVED/ASK error: the target connection, or null when the reply is neither.
    RedisConnection *redirectTarget(const RedisReply &reply, bool *ask);

    int m_timeoutMs;
    std::vector<RedisConnection *> m_nodes; // children of this object
    std::array<RedisConnection *, 16384> m_slots{};
    bool m_refreshing = false;
    MemberIds m_members;
    QString m_lastError;
};

} // namespace sluice
