// SPDX-License-Identifier: Apache-2.0
// The window store on one Redis (a primary, or a primary with replicas behind it): checks go
// as batches (checkbatcher.h): one EVALSHA of window_check.lua decides the checks of one event
// loop turn, written to the socket at once, or every check that queued while the previous calls
// were in flight (one round trip; NOSCRIPT →
// SCRIPT LOAD and retry once), on one connection per server thread. Redis TIME is the clock, so
// instances need no synchronized clocks. A failed or late call is Status::Unavailable; what to
// do then is ResilientWindowStore's business. Lives on, and must be used from, one thread.
#pragma once

#include "redis/layer.h"

#include "redis/checkbatcher.h"
#include "redis/compensator.h"
#include "redis/redisconnection.h"
#include "redis/redisscripts.h"
#include "redis/sentinelwatcher.h"
#include "engine/uniqueids.h"
#include "engine/windowstore.h"

namespace sluice {

class RedisWindowStore final : public QObject, public WindowStore
{
    Q_OBJECT
public:
    RedisWindowStore(const QString &host, quint16 port, int db, int timeoutMs, QObject *parent = nullptr,
                     RedisCredentials credentials = {});
    // "redis://[user[:password]@]host:port[/db]"; credentials not in the URL come from `fallback`.
    static std::unique_ptr<RedisWindowStore> fromUrl(const QString &url, int timeoutMs, const RedisCredentials &fallback = {});
    // The primary that Redis Sentinel names for `master` (sentinelwatcher.h), followed through
    // failovers: the connection moves to the promoted replica; checks meanwhile are Unavailable
    // (the breaker and the failure mode answer them).
    static std::unique_ptr<RedisWindowStore> fromSentinel(const QStringList &sentinels, const QByteArray &master, int db,
                                                          int timeoutMs, const RedisCredentials &credentials = {});

    void check(const WindowBatch &batch, CheckCallback done) override;
    void usage(const std::vector<WindowSpec> &keys, UsageCallback done) override;
    void reset(const QByteArray &key, DoneCallback done) override;
    // One round trip each: reservation.lua changes the keys the record names in the same step.
    void complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done) override;
    void extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done) override;
    // pool_step.lua: one round trip, the fleet's one state per pool.
    void poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done) override;
    QString source() const override { return QStringLiteral("redis"); }
    QJsonObject health() const override;
    StoreStatus status() const override;

    RedisConnection &connection() { return m_connection; }
    // At most this many checks in one script call (1: no batching).
    void setBatchLimit(int maxChecks) { m_batcher.setMaxChecks(maxChecks); }
    const CheckBatcher &batcher() const { return m_batcher; }

private:
    // EVALSHA argv (argv[1] = script.sha1); NOSCRIPT → SCRIPT LOAD and once more.
    void eval(const RedisScript &script, const QList<QByteArray> &argv, RedisConnection::Callback done)
    {
        eval(script, formatRedisCommand(argv), std::move(done));
    }
    // The same, the call already in Redis's protocol.
    void eval(const RedisScript &script, const QByteArray &resp, RedisConnection::Callback done, bool retried = false,
              RedisConnection::Callback late = {});
    void takeBack(const CheckBatcher::Item &item, const CheckBatcher::Result &result);
    void reservationCall(const QString &id, const QByteArray &op, std::optional<qint64> tokens, qint64 leaseUs,
                         ReservationCallback done);

    RedisConnection m_connection;
    Compensator m_compensator; // after the connection: destroyed first (its answers are dropped then)
    CheckBatcher m_batcher; // after the connection: destroyed first, while the connection drops its callbacks
    qint64 m_tookBack = 0;        // timed-out checks that ran after all, taken back
    qint64 m_unknownOutcomes = 0; // timed-out checks whose reply never came
    UniqueIds m_ids{QByteArray(1, kRedisIdTag)};
    std::unique_ptr<SentinelWatcher> m_sentinel; // only when following Sentinel
};

} // namespace sluice
