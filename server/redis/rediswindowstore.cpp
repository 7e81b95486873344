// SPDX-License-Identifier: Apache-2.0
#include "redis/rediswindowstore.h"

#include <QUrl>

namespace sluice {

namespace {
WindowOutcome unavailable(const QString &why)
{
    WindowOutcome o;
    o.status = WindowOutcome::Status::Unavailable;
    o.error = why;
    o.source = QStringLiteral("redis");
    return o;
}
} // namespace

RedisWindowStore::RedisWindowStore(const QString &host, quint16 port, int db, int timeoutMs, QObject *parent,
                                   RedisCredentials credentials)
    : QObject(parent), m_connection(host, port, db, timeoutMs, this),
      m_batcher([this](const QByteArray &resp, CheckBatcher::SendCallback done, CheckBatcher::SendCallback late) {
          eval(RedisScript::check(), resp, [this, done = std::move(done)](const RedisResult &r) {
              // A primary demoted to a replica (a failover we missed) refuses writes: ask again.
              if (m_sentinel && r.ok && r.reply.isError() && r.reply.str.startsWith("READONLY"))
                  m_sentinel->askNow();
              done(r, &m_connection, r.ok ? QString() : r.error);
          }, false, [this, late = std::move(late)](const RedisResult &r) {
              late(r, &m_connection, r.ok ? QString() : r.error);
          });
          // The batcher sends from an event of its own, never from inside a connection callback,
          // so the call can be written now. (A failed write drops the connection right here: every
          // call in flight, this one too, is answered with the error before writeNow returns.)
          m_connection.writeNow();
      })
{
    m_connection.setCredentials(std::move(credentials));
    m_batcher.setQueueTimeoutMs(timeoutMs);
    m_batcher.setLate([this](const CheckBatcher::Item &item, const CheckBatcher::Result &r) { takeBack(item, r); });
    if (port != 0)
        m_connection.open(); // (0: a Sentinel names the primary first)
}

// A check whose call timed out (its caller was answered by the failure mode) ran after all, or
// its reply will never come: what it wrote is taken back, so that nothing is charged twice (here
// and in the local fallback) and no lease is held that nobody can release.
void RedisWindowStore::takeBack(const CheckBatcher::Item &item, const CheckBatcher::Result &r)
{
    if (!r.error.isEmpty()) {
        // Unknown: the record (a reserving check) is cancelled: taken back if the check ran, a
        // tombstone that refuses it if it has not. A check that reserves nothing (requests only)
        // cannot be found again: its entries stay for their window (under-admission, never over).
        ++m_unknownOutcomes;
        if (item.recordKey.isEmpty())
            return;
        const QByteArray &id = item.id;
        const QList<QByteArray> argv{QByteArrayLiteral("EVALSHA"), RedisScript::reservation().sha1, QByteArrayLiteral("1"),
                                     item.recordKey, QByteArrayLiteral("cancel"), id, QByteArray(), QByteArray::number(item.leaseUs)};
        m_compensator.add(QStringLiteral("cancel %1").arg(QString::fromLatin1(id)), [this, argv](auto done) {
            eval(RedisScript::reservation(), argv, [done](const RedisResult &res) {
                done(res.ok && !res.reply.isError(), res.ok ? QString::fromUtf8(res.reply.str) : res.error);
            });
        });
        return;
    }
    ++m_tookBack;
    const QByteArray id = item.id.isEmpty() ? m_ids.next() : item.id; // (a check that reserves nothing had none)
    QList<QByteArray> keys, perKey;
    for (size_t k = 0; k < item.specs.size(); ++k) {
        if (!r.wrote(k))
            continue;
        const WindowSpec &spec = item.specs[k];
        keys << spec.key;
        appendTakeBackArgs(perKey, spec);
    }
    if (keys.isEmpty() && item.recordKey.isEmpty())
        return; // (it wrote nothing: every key a shadow that would have refused)
    QList<QByteArray> argv{QByteArrayLiteral("EVALSHA"), RedisScript::rollback().sha1,
                           QByteArray::number(keys.size() + (item.recordKey.isEmpty() ? 0 : 1))};
    argv << keys;
    if (!item.recordKey.isEmpty())
        argv << item.recordKey;
    argv << id << QByteArray::number(r.nowUs) << QByteArray::number(keys.size()) << perKey;
    m_compensator.add(QStringLiteral("take back %1").arg(QString::fromLatin1(id)), [this, argv](auto done) {
        eval(RedisScript::rollback(), argv, [done](const RedisResult &res) {
            done(res.ok && !res.reply.isError(), res.ok ? QString::fromUtf8(res.reply.str) : res.error);
        });
    });
}

std::unique_ptr<RedisWindowStore> RedisWindowStore::fromSentinel(const QStringList &sentinels, const QByteArray &master, int db,
                                                                 int timeoutMs, const RedisCredentials &credentials)
{
    auto store = std::make_unique<RedisWindowStore>(QString(), 0, db, timeoutMs, nullptr, credentials);
    RedisWindowStore *self = store.get();
    self->m_sentinel = std::make_unique<SentinelWatcher>(sentinels, master, timeoutMs, self);
    connect(self->m_sentinel.get(), &SentinelWatcher::primaryChanged, self,
            [self](const QString &host, quint16 port) { self->m_connection.setAddress(host, port); });
    // A lost primary may be a failover: ask the sentinels at once rather than at the next poll.
    connect(&self->m_connection, &RedisConnection::disconnected, self->m_sentinel.get(), &SentinelWatcher::askNow);
    self->m_sentinel->start();
    return store;
}

std::unique_ptr<RedisWindowStore> RedisWindowStore::fromUrl(const QString &url, int timeoutMs, const RedisCredentials &fallback)
{
    const QUrl u(url);
    const int db = u.path().mid(1).toInt();
    return std::make_unique<RedisWindowStore>(u.host(), static_cast<quint16>(u.port(6379)), db, timeoutMs, nullptr,
                                              redisCredentialsFor(url, fallback));
}

void RedisWindowStore::check(const WindowBatch &batch, CheckCallback done)
{
    CheckBatcher::Item item;
    item.specs = batch.keys;
    item.leaseUs = batch.leaseUs;
    const bool reserves = batch.reserves();
    // An id names a reservation (its record, its leases); a check that reserves nothing has none
    // (taking it back, if ever, names it then).
    if (reserves) {
        item.id = m_ids.next();
        item.recordKey = reservationKey(item.id);
    }
    item.done = [id = item.id, reserves, leaseUs = batch.leaseUs, done = std::move(done)](CheckBatcher::Result r) {
        if (!r.error.isEmpty())
            return done(unavailable(r.error));
        WindowOutcome o;
        o.source = QStringLiteral("redis");
        o.nowUs = r.nowUs;
        o.admitted = r.admitted;
        o.keys = std::move(r.keys);
        if (o.admitted && reserves) {
            o.reservationId = QString::fromLatin1(id);
            o.leaseExpiresUs = o.nowUs + leaseUs;
        }
        done(std::move(o));
    };
    m_batcher.submit(std::move(item));
}

void RedisWindowStore::eval(const RedisScript &script, const QByteArray &resp, RedisConnection::Callback done, bool retried,
                            RedisConnection::Callback late)
{
    m_connection.send(resp, [this, &script, resp, retried, done = std::move(done), late](const RedisResult &r) mutable {
        if (r.ok && isNoScript(r.reply) && !retried) {
            // The script cache was flushed (restart, SCRIPT FLUSH): load it, then run it again.
            // Both go out at once; Redis answers in order on this connection.
            m_connection.command({QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), script.source},
                                 [](const RedisResult &) {});
            return eval(script, resp, std::move(done), true, std::move(late));
        }
        done(r);
    }, late);
}

void RedisWindowStore::reservationCall(const QString &id, const QByteArray &op, std::optional<qint64> tokens, qint64 leaseUs,
                                       ReservationCallback done)
{
    const QByteArray raw = id.toLatin1();
    eval(RedisScript::reservation(),
         {QByteArrayLiteral("EVALSHA"), RedisScript::reservation().sha1, QByteArrayLiteral("1"), reservationKey(raw), op, raw,
          tokens ? QByteArray::number(*tokens) : QByteArray(), QByteArray::number(leaseUs)},
         [done = std::move(done)](const RedisResult &r) { done(decodeReservationReply(r).outcome); });
}

void RedisWindowStore::complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done)
{
    reservationCall(reservationId, QByteArrayLiteral("complete"), tokens, 0, std::move(done));
}

void RedisWindowStore::extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done)
{
    reservationCall(reservationId, QByteArrayLiteral("extend"), std::nullopt, leaseUs, std::move(done));
}

void RedisWindowStore::usage(const std::vector<WindowSpec> &keys, UsageCallback done)
{
    QList<QByteArray> argv{QByteArrayLiteral("EVALSHA"), RedisScript::usage().sha1, QByteArray::number(static_cast<qsizetype>(keys.size()))};
    for (const WindowSpec &s : keys)
        argv << s.key;
    for (const WindowSpec &s : keys)
        appendUsageArgs(argv, s);
    eval(RedisScript::usage(), argv, [keys, done = std::move(done)](const RedisResult &r) {
        std::vector<KeyUsage> out;
        const bool ok = decodeUsageReply(r, keys, &out);
        done(ok, std::move(out));
    });
}

void RedisWindowStore::poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params, PoolCallback done)
{
    eval(RedisScript::poolStep(), poolStepArgs(pool, reading, params), [done = std::move(done)](const RedisResult &r) {
        QString error;
        const std::optional<PoolState> state = decodePoolStepReply(r, &error);
        done(state, error);
    });
}

void RedisWindowStore::reset(const QByteArray &key, DoneCallback done)
{
    m_connection.command({QByteArrayLiteral("DEL"), key, key + "#w"}, [done = std::move(done)](const RedisResult &r) {
        done(r.ok && !r.reply.isError());
    });
}

StoreStatus RedisWindowStore::status() const
{
    StoreStatus s;
    s.source = source();
    s.ok = s.connected = m_connection.isConnected();
    s.inFlight = m_connection.inFlight();
    s.shared = true;
    s.calls = m_batcher.calls();
    s.batchedChecks = m_batcher.checks();
    s.failedCalls = m_batcher.failedCalls();
    s.timedOutCalls = m_batcher.timedOutCalls();
    s.followsSentinel = m_sentinel != nullptr;
    s.primaryChanges = m_sentinel ? m_sentinel->primaryChanges() : 0;
    s.lastError = m_connection.lastError();
    s.health = health();
    return s;
}

QJsonObject RedisWindowStore::health() const
{
    QJsonObject o{{QStringLiteral("redis"), m_connection.address()},
                  {QStringLiteral("connected"), m_connection.isConnected()},
                  {QStringLiteral("inFlight"), m_connection.inFlight()},
                  {QStringLiteral("batches"), m_batcher.calls()},
                  {QStringLiteral("batchedChecks"), m_batcher.checks()},
                  {QStringLiteral("failedCalls"), m_batcher.failedCalls()},
                  {QStringLiteral("timedOutCalls"), m_batcher.timedOutCalls()},
                  {QStringLiteral("tookBack"), m_tookBack},
                  {QStringLiteral("unknownOutcomes"), m_unknownOutcomes},
                  {QStringLiteral("compensations"), compensationHealth(m_compensator)},
                  {QStringLiteral("status"), m_connection.isConnected() ? QStringLiteral("ok") : QStringLiteral("degraded")}};
    if (!m_connection.lastError().isEmpty())
        o.insert(QStringLiteral("lastError"), m_connection.lastError());
    if (m_sentinel) {
        o.insert(QStringLiteral("sentinel"), m_sentinel->health());
        if (!m_sentinel->known())
            o.insert(QStringLiteral("redis"), QStringLiteral("(no primary known yet)"));
    }
    return o;
}

} // namespace sluice
