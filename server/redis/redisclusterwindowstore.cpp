// SPDX-License-Identifier: Apache-2.0
#include "redis/redisclusterwindowstore.h"

#include "redis/clusterslots.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <map>

namespace sluice {

struct RedisClusterWindowStore::CheckState
{
    struct Group
    {
        int slot = 0;
        std::vector<size_t> keys; // indexes into batch.keys
        bool answered = false;
        qint64 now = 0;           // its node's clock: the time of the entries it wrote
        std::vector<bool> written; // parallel to keys: which got the entry (a shadow key that would refuse did not)
        bool admitted = false;
        RedisConnection *answeredBy = nullptr; // where a reservation must be taken back
        QString error;
    };
    WindowBatch batch;
    QByteArray id;
    std::vector<Group> groups;
    size_t pending = 0;
    qint64 now = 0;
    std::vector<KeyState> states;
    CheckCallback done;
};

RedisClusterWindowStore::RedisClusterWindowStore(const QStringList &seeds, int timeoutMs, QObject *parent,
                                                 RedisCredentials credentials)
    : QObject(parent), m_topology(seeds, timeoutMs, this, std::move(credentials)), m_timeoutMs(timeoutMs)
{
}

void RedisClusterWindowStore::check(const WindowBatch &batch, CheckCallback done)
{
    auto state = std::make_shared<CheckState>();
    state->batch = batch;
    state->id = m_ids.next();
    state->states.resize(batch.keys.size());
    state->done = std::move(done);
    std::map<int, size_t> groupOfSlot;
    for (size_t i = 0; i < batch.keys.size(); ++i) {
        const int slot = clusterSlot(batch.keys[i].key);
        auto it = groupOfSlot.find(slot);
        if (it == groupOfSlot.end()) {
            it = groupOfSlot.emplace(slot, state->groups.size()).first;
            state->groups.push_back({});
            state->groups.back().slot = slot;
        }
        state->groups[it->second].keys.push_back(i);
    }
    state->pending = state->groups.size();
    if (state->groups.empty()) {
        WindowOutcome o;
        o.admitted = true;
        o.source = source();
        return state->done(std::move(o));
    }
    for (size_t group = 0; group < state->groups.size(); ++group) {
        const CheckState::Group &g = state->groups[group];
        CheckBatcher::Item item;
        for (size_t i : g.keys)
            item.specs.push_back(state->batch.keys[i]);
        item.id = state->id;
        item.leaseUs = batch.leaseUs;
        item.done = [this, state, group](CheckBatcher::Result r) {
            CheckState::Group &g = state->groups[group];
            g.answered = true;
            if (!r.error.isEmpty()) {
                g.error = r.error;
                m_lastError = r.error;
                return groupDone(state);
            }
            g.admitted = r.admitted;
            g.answeredBy = r.answeredBy;
            g.now = r.nowUs;
            g.written.resize(r.keys.size());
            for (size_t k = 0; k < r.keys.size(); ++k)
                g.written[k] = r.wrote(k);
            state->now = std::max(state->now, r.nowUs);
            for (size_t k = 0; k < g.keys.size(); ++k)
                state->states[g.keys[k]] = r.keys[k];
            groupDone(state);
        };
        batcherFor(g.slot).submit(std::move(item));
    }
}

CheckBatcher &RedisClusterWindowStore::batcherFor(int slot)
{
    std::unique_ptr<CheckBatcher> &b = m_batchers[slot];
    if (!b) {
        b = std::make_unique<CheckBatcher>(
            [this, slot](const QByteArray &resp, CheckBatcher::SendCallback done, CheckBatcher::SendCallback late) {
                runOn(slot, &RedisScript::check(), resp, std::move(done), nullptr, 0, false, false, std::move(late));
            },
            m_batchLimit);
        b->setQueueTimeoutMs(m_timeoutMs);
        b->setLate([this](const CheckBatcher::Item &item, const CheckBatcher::Result &r) { takeBack(item, r); });
    }
    return *b;
}

void RedisClusterWindowStore::setBatchLimit(int maxChecks)
{
    m_batchLimit = maxChecks;
    for (auto &[slot, b] : m_batchers)
        b->setMaxChecks(maxChecks);
}

void RedisClusterWindowStore::runCommand(int slot, const QList<QByteArray> &argv, ScriptCallback done)
{
    runOn(slot, nullptr, formatRedisCommand(argv), std::move(done), nullptr, 0, false, false, {});
}

void RedisClusterWindowStore::runOn(int slot, const RedisScript *script, const QByteArray &resp, ScriptCallback done,
                                    RedisConnection *conn, int redirects, bool asking, bool scriptRetried, ScriptCallback late)
{
    if (!conn)
        conn = m_topology.nodeForSlot(slot);
    if (!conn) {
        m_topology.refreshSlots();
        return done({}, nullptr, QStringLiteral("no known node serves slot %1 (slot map not loaded yet)").arg(slot));
    }
    if (asking)
        conn->command({QByteArrayLiteral("ASKING")}, [](const RedisResult &) {});
    RedisConnection::Callback onLate;
    if (late) {
        onLate = [late, conn](const RedisResult &r) { late(r, conn, r.ok ? QString() : r.error); };
    }
    conn->send(resp, [this, slot, script, resp, done = std::move(done), conn, redirects, scriptRetried, late](const RedisResult &r) mutable {
        if (!r.ok) {
            m_lastError = r.error;
            return done(r, conn, r.error);
        }
        bool ask = false;
        if (RedisConnection *target = m_topology.redirectTarget(r.reply, &ask)) {
            if (redirects < 5)
                return runOn(slot, script, resp, std::move(done), target, redirects + 1, ask, scriptRetried, std::move(late));
            return done(r, conn, QStringLiteral("too many redirects for slot %1").arg(slot));
        }
        if (script && isNoScript(r.reply) && !scriptRetried) {
            conn->command({QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), script->source}, [](const RedisResult &) {});
            return runOn(slot, script, resp, std::move(done), conn, redirects, false, true, std::move(late));
        }
        done(r, conn, QString());
    }, onLate);
}

void RedisClusterWindowStore::compensate(const QString &what, int slot, const RedisScript &script, const QList<QByteArray> &argv)
{
    m_compensator.add(what, [this, slot, &script, argv](auto done) {
        runScript(slot, script, argv, [done](const RedisResult &r, RedisConnection *, const QString &error) {
            done(error.isEmpty() && !r.reply.isError(), error.isEmpty() ? QString::fromUtf8(r.reply.str) : error);
        });
    });
}

// One slot group's part of a check, after its call timed out: what it wrote is taken back (its
// `now` is known); if its reply never came, its leases are (by id: found whatever their time).
// Entries of requests and token logs and bucket charges of unknown time stay for their window:
// under-admission, never over-admission.
void RedisClusterWindowStore::takeBack(const CheckBatcher::Item &item, const CheckBatcher::Result &r)
{
    const bool known = r.error.isEmpty();
    (known ? m_tookBack : m_unknownOutcomes)++;
    QList<QByteArray> keys, perKey;
    for (size_t k = 0; k < item.specs.size(); ++k) {
        const WindowSpec &spec = item.specs[k];
        if (known ? !r.wrote(k) : !spec.isLease())
            continue;
        keys << spec.key;
        appendTakeBackArgs(perKey, spec);
    }
    if (keys.isEmpty())
        return;
    QList<QByteArray> argv{QByteArrayLiteral("EVALSHA"), RedisScript::rollback().sha1, QByteArray::number(keys.size())};
    argv << keys << item.id << (known ? QByteArray::number(r.nowUs) : QByteArray()) << QByteArray::number(keys.size()) << perKey;
    compensate(QStringLiteral("take back %1").arg(QString::fromLatin1(item.id)), clusterSlot(keys.first()), RedisScript::rollback(), argv);
}

void RedisClusterWindowStore::groupDone(const std::shared_ptr<CheckState> &state)
{
    if (--state->pending > 0)
        return;
    bool allAdmitted = true;
    QString error;
    for (const CheckState::Group &g : state->groups) {
        allAdmitted = allAdmitted && g.admitted;
        if (!g.error.isEmpty())
            error = g.error;
    }
    if (!allAdmitted)
        rollback(state); // confirm failed: take the reservation back where it was made
    WindowOutcome o;
    o.source = source();
    if (!error.isEmpty()) {
        o.status = WindowOutcome::Status::Unavailable;
        o.error = error;
        return state->done(std::move(o));
    }
    o.admitted = allAdmitted;
    o.nowUs = state->now;
    o.keys = std::move(state->states);
    if (o.admitted && state->batch.reserves())
        return saveReservation(state, std::move(o));
    state->done(std::move(o));
}

void RedisClusterWindowStore::rollback(const std::shared_ptr<CheckState> &state)
{
    for (const CheckState::Group &g : state->groups) {
        if (!g.admitted)
            continue;
        std::vector<size_t> keys; // what this group really wrote
        for (size_t k = 0; k < g.keys.size(); ++k) {
            if (k < g.written.size() && g.written[k])
                keys.push_back(g.keys[k]);
        }
        if (keys.empty())
            continue;
        QList<QByteArray> argv{QByteArrayLiteral("EVALSHA"), RedisScript::rollback().sha1, QByteArray::number(keys.size())};
        for (size_t i : keys)
            argv << state->batch.keys[i].key;
        argv << state->id << QByteArray::number(g.now) << QByteArray::number(keys.size());
        for (size_t i : keys)
            appendTakeBackArgs(argv, state->batch.keys[i]);
        // Sent now, on the node's connection, before the refusal is answered: a check that follows
        // on that node finds the rollback done (through the compensator, its first attempt waited
        // for a timer and a caller's next check could count what a refusal should not have left).
        // Only a rollback that fails goes to the compensator, to be retried.
        const int slot = g.slot;
        runScript(slot, RedisScript::rollback(), argv,
                  [this, slot, argv, id = state->id](const RedisResult &r, RedisConnection *, const QString &error) {
                      if (error.isEmpty() && !r.reply.isError())
                          return;
                      compensate(QStringLiteral("roll back %1").arg(QString::fromLatin1(id)), slot, RedisScript::rollback(), argv);
                  });
    }
}

// The record goes to its own slot once every group admitted; the caller learns the id only after
// it is stored, so a completion can never arrive before its record. If it cannot be stored, the
// admission is taken back everywhere and the check is Unavailable (the failure mode answers):
// leases nobody could release must not hold slots for the lease time.
void RedisClusterWindowStore::saveReservation(const std::shared_ptr<CheckState> &state, WindowOutcome o)
{
    QJsonArray keys;
    qint64 estimate = 0;
    for (const CheckState::Group &g : state->groups) {
        for (size_t k = 0; k < g.keys.size(); ++k) {
            const WindowSpec &spec = state->batch.keys[g.keys[k]];
            if (k >= g.written.size() || !g.written[k])
                continue; // a shadow key that would have refused holds nothing to complete
            if (spec.isLease() || spec.reweighable()) // a log's entry carries its node's time
                keys.append(QJsonArray{QString::fromUtf8(spec.key), QString::fromLatin1(scriptKind(spec)),
                                       spec.isBucket() ? spec.usPerToken() : 0.0, QString::number(g.now)});
            if (spec.reweighable())
                estimate = spec.weight;
        }
    }
    const QByteArray record = reservationKey(state->id);
    runScript(clusterSlot(record), RedisScript::reservation(),
              {QByteArrayLiteral("EVALSHA"), RedisScript::reservation().sha1, QByteArrayLiteral("1"), record,
               QByteArrayLiteral("save"), state->id, QByteArray::number(estimate), QByteArray::number(state->batch.leaseUs),
               QJsonDocument(keys).toJson(QJsonDocument::Compact), QByteArray::number(o.nowUs)},
              [this, state, o = std::move(o)](const RedisResult &r, RedisConnection *, const QString &error) mutable {
                  if (error.isEmpty() && decodeReservationReply(r).outcome.status == ReservationOutcome::Status::Done) {
                      o.reservationId = QString::fromLatin1(state->id);
                      o.leaseExpiresUs = o.nowUs + state->batch.leaseUs;
                      return state->done(std::move(o));
                  }
                  m_lastError = QStringLiteral("the reservation record was not stored: %1")
                                    .arg(error.isEmpty() ? QString::fromUtf8(r.reply.str) : error);
                  rollback(state);
                  WindowOutcome failed;
                  failed.source = source();
                  failed.status = WindowOutcome::Status::Unavailable;
                  failed.error = m_lastError;
                  state->done(std::move(failed));
              });
}

void RedisClusterWindowStore::reservationCall(const QString &id, const QByteArray &op, std::optional<qint64> tokens,
                                              qint64 leaseUs, ReservationCallback done)
{
    const QByteArray raw = id.toLatin1();
    const QByteArray record = reservationKey(raw);
    const QByteArray tokenArg = tokens ? QByteArray::number(*tokens) : QByteArray();
    runScript(clusterSlot(record), RedisScript::reservation(),
              {QByteArrayLiteral("EVALSHA"), RedisScript::reservation().sha1, QByteArrayLiteral("1"), record,
               op == "complete" ? QByteArrayLiteral("claim") : QByteArrayLiteral("renew"), raw, tokenArg,
               QByteArray::number(leaseUs)},
              [this, raw, op, tokenArg, leaseUs, done = std::move(done)](const RedisResult &r, RedisConnection *,
                                                                          const QString &error) mutable {
                  ReservationReply reply = decodeReservationReply(r);
                  if (!error.isEmpty())
                      reply.outcome = {ReservationOutcome::Status::Unavailable, error, 0};
                  if (reply.outcome.status != ReservationOutcome::Status::Done)
                      return done(reply.outcome);
                  // Then the keys it names, one script call per slot group, all at once.
                  std::map<int, std::pair<QList<QByteArray>, QList<QByteArray>>> groups; // slot → keys, (kind, us per token)…
                  for (const QJsonValue &v : QJsonDocument::fromJson(reply.keysJson).array()) {
                      const QJsonArray k = v.toArray();
                      const QByteArray key = k.at(0).toString().toUtf8();
                      auto &g = groups[clusterSlot(key)];
                      g.first << key;
                      g.second << k.at(1).toString().toLatin1() << QByteArray::number(k.at(2).toDouble(0), 'g', 17)
                               << k.at(3).toString().toLatin1();
                  }
                  struct Pending
                  {
                      size_t left = 0;
                      ReservationOutcome outcome;
                      ReservationCallback done;
                  };
                  auto pending = std::make_shared<Pending>();
                  pending->left = groups.size();
                  pending->outcome = reply.outcome;
                  // A completion is marked done on its record only once every group is changed
                  // ('finish'), so one that failed half way can be sent again.
                  pending->done = op != "complete" ? std::move(done)
                                                    : ReservationCallback([this, raw, tokenArg, done = std::move(done)](ReservationOutcome o) {
                                                          if (o.status != ReservationOutcome::Status::Done)
                                                              return done(o);
                                                          const QByteArray record = reservationKey(raw);
                                                          runScript(clusterSlot(record), RedisScript::reservation(),
                                                                    {QByteArrayLiteral("EVALSHA"), RedisScript::reservation().sha1,
                                                                     QByteArrayLiteral("1"), record, QByteArrayLiteral("finish"), raw,
                                                                     tokenArg, QByteArrayLiteral("0")},
                                                                    [done](const RedisResult &r, RedisConnection *, const QString &error) {
                                                                        ReservationOutcome finished = decodeReservationReply(r).outcome;
                                                                        if (!error.isEmpty())
                                                                            finished = {ReservationOutcome::Status::Unavailable, error, 0};
                                                                        done(finished);
                                                                    });
                                                      });
                  if (groups.empty())
                      return pending->done(pending->outcome);
                  for (const auto &[slot, g] : groups) {
                      QList<QByteArray> argv{QByteArrayLiteral("EVALSHA"), RedisScript::reservationApply().sha1,
                                             QByteArray::number(g.first.size())};
                      // (complete: the lease left, how long each group's done-mark lives)
                      const qint64 markUs = op == "complete" ? std::max<qint64>(reply.outcome.leaseExpiresInUs, 1'000'000) : leaseUs;
                      argv << g.first << op << raw << QByteArray::number(reply.estimate) << tokenArg << QByteArray::number(markUs)
                           << g.second;
                      runScript(slot, RedisScript::reservationApply(), argv,
                                [pending](const RedisResult &r, RedisConnection *, const QString &error) {
                                    if (!error.isEmpty() || r.reply.isError()) // partly applied: not marked done, it can be sent again
                                        pending->outcome = {ReservationOutcome::Status::Unavailable,
                                                            error.isEmpty() ? QString::fromUtf8(r.reply.str) : error, 0};
                                    if (--pending->left == 0)
                                        pending->done(pending->outcome);
                                });
                  }
              });
}

void RedisClusterWindowStore::complete(const QString &reservationId, std::optional<qint64> tokens, ReservationCallback done)
{
    reservationCall(reservationId, QByteArrayLiteral("complete"), tokens, 0, std::move(done));
}

void RedisClusterWindowStore::extend(const QString &reservationId, qint64 leaseUs, ReservationCallback done)
{
    reservationCall(reservationId, QByteArrayLiteral("extend"), std::nullopt, leaseUs, std::move(done));
}

void RedisClusterWindowStore::usage(const std::vector<WindowSpec> &keys, UsageCallback done)
{
    struct UsageState
    {
        std::vector<KeyUsage> out;
        size_t pending = 0;
        bool ok = true;
        UsageCallback done;
    };
    auto state = std::make_shared<UsageState>();
    state->out.resize(keys.size());
    state->pending = keys.size();
    state->done = std::move(done);
    if (keys.empty())
        return state->done(true, {});
    // One window_usage.lua call per key, on its slot's node (MOVED/ASK followed, like checks).
    for (size_t i = 0; i < keys.size(); ++i) {
        QList<QByteArray> argv{QByteArrayLiteral("EVALSHA"), RedisScript::usage().sha1, QByteArrayLiteral("1"), keys[i].key};
        appendUsageArgs(argv, keys[i]);
        runScript(clusterSlot(keys[i].key), RedisScript::usage(), argv,
                  [state, i, spec = keys[i]](const RedisResult &r, RedisConnection *, const QString &error) {
                      std::vector<KeyUsage> one;
                      if (error.isEmpty() && decodeUsageReply(r, {spec}, &one))
                          state->out[i] = one.front();
                      else
                          state->ok = false;
                      if (--state->pending == 0)
                          state->done(state->ok, std::move(state->out));
                  });
    }
}

void RedisClusterWindowStore::reset(const QByteArray &key, DoneCallback done)
{
    runCommand(clusterSlot(key), {QByteArrayLiteral("DEL"), key, key + "#w"},
               [done = std::move(done)](const RedisResult &r, RedisConnection *, const QString &error) {
                   done(error.isEmpty() && !r.reply.isError());
               });
}

void RedisClusterWindowStore::poolStep(const QString &pool, const PoolReading &reading, const PoolStepParams &params,
                                       PoolCallback done)
{
    runScript(clusterSlot(poolKey(pool)), RedisScript::poolStep(), poolStepArgs(pool, reading, params),
              [done = std::move(done)](const RedisResult &r, RedisConnection *, const QString &error) {
                  if (!error.isEmpty())
                      return done(std::nullopt, error);
                  QString why;
                  const std::optional<PoolState> state = decodePoolStepReply(r, &why);
                  done(state, why);
              });
}

StoreStatus RedisClusterWindowStore::status() const
{
    StoreStatus s;
    s.source = source();
    for (const RedisConnection *c : m_topology.nodes()) {
        s.connected = s.connected && c->isConnected();
        s.inFlight += c->inFlight();
    }
    s.ok = s.connected && m_topology.slotsKnown() == kClusterSlots;
    s.shared = true;
    for (const auto &[slot, b] : m_batchers) {
        s.calls += b->calls();
        s.batchedChecks += b->checks();
        s.failedCalls += b->failedCalls();
        s.timedOutCalls += b->timedOutCalls();
    }
    s.lastError = m_lastError.isEmpty() ? m_topology.lastError() : m_lastError;
    s.health = health();
    return s;
}

QJsonObject RedisClusterWindowStore::health() const
{
    QJsonArray nodes;
    bool allUp = true;
    for (const RedisConnection *c : m_topology.nodes()) {
        nodes.append(QJsonObject{{QStringLiteral("address"), c->address()}, {QStringLiteral("connected"), c->isConnected()}});
        allUp = allUp && c->isConnected();
    }
    const int known = m_topology.slotsKnown();
    qint64 calls = 0, checks = 0, failed = 0, timedOut = 0;
    for (const auto &[slot, b] : m_batchers) {
        calls += b->calls();
        checks += b->checks();
        failed += b->failedCalls();
        timedOut += b->timedOutCalls();
    }
    QJsonObject o{{QStringLiteral("nodes"), nodes},
                  {QStringLiteral("batches"), calls},
                  {QStringLiteral("batchedChecks"), checks},
                  {QStringLiteral("failedCalls"), failed},
                  {QStringLiteral("timedOutCalls"), timedOut},
                  {QStringLiteral("tookBack"), m_tookBack},
                  {QStringLiteral("unknownOutcomes"), m_unknownOutcomes},
                  {QStringLiteral("compensations"), compensationHealth(m_compensator)},
                  {QStringLiteral("slotsKnown"), known},
                  {QStringLiteral("status"), allUp && known == kClusterSlots ? QStringLiteral("ok") : QStringLiteral("degraded")}};
    const QString lastError = m_lastError.isEmpty() ? m_topology.lastError() : m_lastError;
    if (!lastError.isEmpty())
        o.insert(QStringLiteral("lastError"), lastError);
    return o;
}

} // namespace sluice
