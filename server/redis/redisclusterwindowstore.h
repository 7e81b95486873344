// SPDX-License-Identifier: Apache-2.0
// The window store on a Redis Cluster. The keys of one check live in different hash slots (our
// keys are "sluice:{…}", one slot each) and a script may only touch one slot, so a check is
// reserve-then-confirm: one window_check.lua call per slot group, all in parallel, each admitting
// (adding the entry) only where everything in its group fits. If every group admitted, the
// check is admitted; if any refused (or failed), the entry is removed again from the groups that
// admitted (a take-back that fails is tried again until it succeeds: compensator.h; so is one of a
// group whose call timed out but ran after all). The groups of many checks that fall in one slot go as one batch (checkbatcher.h, one
// batcher per slot: a slot is what one script call may touch). It never admits more than a limit; the price is that a reservation later
// rolled back is counted by concurrent checks for a moment, so under contention near a limit a
// check may be refused that a single Redis would have admitted (brief under-admission).
// Which node serves which slot is ClusterTopology's business (CLUSTER SLOTS, refreshed on MOVED,
// connection loss and reconnection); MOVED and ASK are followed here (at most 5 redirects).
// One connection per node, per server thread.
#pragma once

#include "redis/layer.h"

#include "redis/checkbatcher.h"
#include "redis/clustertopology.h"
#include "redis/compensator.h"
#include "redis/redisconnection.h"
#include "redis/redisscripts.h"
#include "engine/uniqueids.h"
#include "engine/windowstore.h"

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace sluice {

class RedisClusterWindowStore final : public QObject, public WindowStore
{
    Q_OBJECT
public:
    RedisClusterWindowStore(const QStringList &seeds, int timeoutMs, QObject *parent = nullptr, RedisCredentials credentials = {});

    void check(const WindowBatch &batch, CheckCallback done) override;
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override;
    void reset(const QByteArray &key, DoneCallback done) override;
    // The record first (claim / renew on its own slot: this is what makes a second completion a
    // no-op), then one reservation_apply.lua call per slot group of the keys it names, in parallel.
    void complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done) override;
    void extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done) override;
    // pool_step.lua on the node serving the pool's slot.
    void poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done) override;
    QString source() const override { return QStringLiteral("redis-cluster"); }
    QJsonObject health() const override;
    StoreStatus status() const override;

    ClusterTopology &topology() { return m_topology; }
    // At most this many checks in one script call (1: no batching).
    void setBatchLimit(int maxChecks);

private:
    struct CheckState;
    // Runs a script (argv[1] = its sha1) on the node serving `slot`: follows MOVED/ASK (at most 5
    // redirects) and NOSCRIPT (SCRIPT LOAD, once). `done` gets the result and the node that
    // answered, or an error sentence (empty when fine).
    using ScriptCallback = std::function<void(const RedisResult &, RedisConnection *answeredBy, const QString &error)>;
    // `late` (optional): what a call that timed out did after all (RedisConnection::command).
    void runScript(int slot, const RedisScript &script, const QList<QByteArray> &argv, ScriptCallback done)
    {
        runOn(slot, &script, formatRedisCommand(argv), std::move(done), nullptr, 0, false, false, {});
    }
    // A command (not a script) on the node serving `slot`, MOVED/ASK followed.
    void runCommand(int slot, const QList<QByteArray> &argv, ScriptCallback done);
    // `resp`: the call in Redis's protocol (formatRedisCommand, RespCommand).
    void runOn(int slot, const RedisScript *script, const QByteArray &resp, ScriptCallback done, RedisConnection *conn,
               int redirects, bool asking, bool scriptRetried, ScriptCallback late);
    // A script call that must happen (a take-back): through the compensator, tried until it does.
    void compensate(const QString &what, int slot, const RedisScript &script, const QList<QByteArray> &argv);
    // A slot group's check that timed out ran after all (or its reply never came): taken back.
    void takeBack(const CheckBatcher::Item &item, const CheckBatcher::Result &result);
    void groupDone(const std::shared_ptr<CheckState> &state);
    CheckBatcher &batcherFor(int slot);
    // Takes back the admission of every group that admitted (one window_rollback.lua call each).
    void rollback(const std::shared_ptr<CheckState> &state);
    void saveReservation(const std::shared_ptr<CheckState> &state, WindowOutcome o);
    void reservationCall(const QString &id, const QByteArray &op, std::optional<qint64> tokens, qint64 leaseUs,
                         ReservationCallback done);

    ClusterTopology m_topology;
    Compensator m_compensator;
    qint64 m_tookBack = 0;
    qint64 m_unknownOutcomes = 0;
    std::map<int, std::unique_ptr<CheckBatcher>> m_batchers; // by slot, made on first use
    int m_batchLimit = CheckBatcher::kDefaultMaxChecks;
    int m_timeoutMs;
    UniqueIds m_ids{QByteArray(1, kRedisIdTag)};
    QString m_lastError;
};

} // namespace sluice
