// SPDX-License-Identifier: Apache-2.0
#include "redis/redisclusterwindowstore.h"

#include "redis/clusterslots.h"

#include <QJsonArray>
#include <map>

namespace sluice {

struct RedisClusterWindowStore::CheckState
{
    struct Group
    {
        int slot = 0;
        std::vector<size_t> keys; // indexes into batch.keys
        QList<QByteArray> argv;
        bool answered = false;
        bool admitted = false;
        RedisConnection *answeredBy = nullptr; // where a reservation must be taken back
        QString error;
    };
    WindowBatch batch;
    QByteArray member;
    std::vector<Group> groups;
    size_t pending = 0;
    qint64 now = 0;
    std::vector<KeyState> states;
    CheckCallback done;
};

RedisClusterWindowStore::RedisClusterWindowStore(const QStringList &seeds, int timeoutMs, QObject *parent)
    : QObject(parent), m_topology(seeds, timeoutMs, this)
{
}

void RedisClusterWindowStore::check(const WindowBatch &batch, CheckCallback done)
{
    auto state = std::make_shared<CheckState>();
    state->batch = batch;
    state->member = m_members.next(batch.cost);
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
    for (CheckState::Group &g : state->groups) {
        std::vector<const WindowSpec *> specs;
        for (size_t i : g.keys)
            specs.push_back(&state->batch.keys[i]);
        g.argv = checkArgv(RedisScript::check().sha1, specs, state->member, batch.cost, true);
    }
    state->pending = state->groups.size();
    if (state->groups.empty()) {
        WindowOutcome o;
        o.admitted = true;
        o.source = source();
        return state->done(std::move(o));
    }
    for (size_t g = 0; g < state->groups.size(); ++g)
        sendGroup(state, g, m_topology.nodeForSlot(state->groups[g].slot), 0, false, false);
}

void RedisClusterWindowStore::sendGroup(const std::shared_ptr<CheckState> &state, size_t group, RedisConnection *conn,
                                        int redirects, bool asking, bool scriptRetried)
{
    CheckState::Group &g = state->groups[group];
    if (!conn) {
        g.answered = true;
        g.error = QStringLiteral("no known node serves slot %1 (slot map not loaded yet)").arg(g.slot);
        m_topology.refreshSlots();
        return groupDone(state);
    }
    if (asking)
        conn->command({QByteArrayLiteral("ASKING")}, [](const RedisResult &) {});
    conn->command(g.argv, [this, state, group, conn, redirects, scriptRetried](const RedisResult &r) {
        CheckState::Group &g = state->groups[group];
        if (!r.ok) {
            g.answered = true;
            g.error = r.error;
            m_lastError = r.error;
            return groupDone(state);
        }
        bool ask = false;
        if (RedisConnection *target = m_topology.redirectTarget(r.reply, &ask)) {
            if (redirects < 5)
                return sendGroup(state, group, target, redirects + 1, ask, scriptRetried);
            g.answered = true;
            g.error = QStringLiteral("too many redirects for slot %1").arg(g.slot);
            return groupDone(state);
        }
        if (isNoScript(r.reply) && !scriptRetried) {
            conn->command({QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), RedisScript::check().source},
                          [](const RedisResult &) {});
            return sendGroup(state, group, conn, redirects, false, true);
        }
        qint64 now = 0;
        bool admitted = false;
        std::vector<KeyState> states;
        g.answered = true;
        if (!decodeCheckReply(r.reply, g.keys.size(), &now, &admitted, &states)) {
            g.error = QStringLiteral("unexpected reply from %1: %2").arg(conn->address(), QString::fromUtf8(r.reply.str));
            m_lastError = g.error;
            return groupDone(state);
        }
        g.admitted = admitted;
        g.answeredBy = conn;
        state->now = std::max(state->now, now);
        for (size_t k = 0; k < g.keys.size(); ++k)
            state->states[g.keys[k]] = states[k];
        groupDone(state);
    });
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
    if (!allAdmitted) {
        // Confirm failed: take the reservation back where it was made.
        for (const CheckState::Group &g : state->groups) {
            if (!g.admitted)
                continue;
            RedisConnection *conn = g.answeredBy;
            for (size_t i : g.keys) {
                const QByteArray &key = state->batch.keys[i].key;
                conn->command({QByteArrayLiteral("ZREM"), key, state->member}, [](const RedisResult &) {});
                if (state->batch.cost > 1)
                    conn->command({QByteArrayLiteral("DECRBY"), key + "#w", QByteArray::number(state->batch.cost - 1)},
                                  [](const RedisResult &) {});
            }
        }
    }
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
    state->done(std::move(o));
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
    for (size_t i = 0; i < keys.size(); ++i) {
        RedisConnection *conn = m_topology.nodeForSlot(clusterSlot(keys[i].key));
        auto finish = [state, i, key = keys[i].key](const RedisResult &r) {
            if (r.ok && r.reply.type == RedisReply::Type::Array && r.reply.elements.size() == 3)
                state->out[i] = {key, r.reply.elements[1].integer, r.reply.elements[2].integer, r.reply.elements[0].integer};
            else
                state->ok = false;
            if (--state->pending == 0)
                state->done(state->ok, std::move(state->out));
        };
        if (!conn) {
            finish(RedisResult{false, QStringLiteral("slot map not loaded"), {}});
            continue;
        }
        conn->command({QByteArrayLiteral("EVAL"), RedisScript::usage().source, QByteArrayLiteral("1"), keys[i].key,
                       QByteArray::number(keys[i].windowUs)},
                      finish);
    }
}

void RedisClusterWindowStore::reset(const QByteArray &key, DoneCallback done)
{
    RedisConnection *conn = m_topology.nodeForSlot(clusterSlot(key));
    if (!conn)
        return done(false);
    conn->command({QByteArrayLiteral("DEL"), key, key + "#w"}, [done = std::move(done)](const RedisResult &r) {
        done(r.ok && !r.reply.isError());
    });
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
    QJsonObject o{{QStringLiteral("nodes"), nodes},
                  {QStringLiteral("slotsKnown"), known},
                  {QStringLiteral("status"), allUp && known == kClusterSlots ? QStringLiteral("ok") : QStringLiteral("degraded")}};
    const QString lastError = m_lastError.isEmpty() ? m_topology.lastError() : m_lastError;
    if (!lastError.isEmpty())
        o.insert(QStringLiteral("lastError"), lastError);
    return o;
}

} // namespace sluice
