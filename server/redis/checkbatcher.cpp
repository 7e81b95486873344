// SPDX-License-Identifier: Apache-2.0
#include "redis/checkbatcher.h"

#include "textbuffer.h"

#include "engine/siphash.h"
#include "redis/redisscripts.h"

namespace sluice {

namespace {
// What window_check.lua is told about a key once per call (a burst only for a bucket).
bool samePolicy(const WindowSpec &a, const WindowSpec &b)
{
    return a.windowUs == b.windowUs && a.limit == b.limit && a.kind == b.kind && (!a.isBucket() || a.burst == b.burst)
           && a.shadow == b.shadow;
}

// The script needs a check's id, lease time and record only when it has a lease key or a record.
bool needsId(const CheckBatcher::Item &item)
{
    if (!item.recordKey.isEmpty())
        return true;
    for (const WindowSpec &s : item.specs) {
        if (s.isLease())
            return true;
    }
    return false;
}
} // namespace

void CheckBatcher::submit(Item item)
{
    if (item.specs.size() > kMaxKeysPerScriptCheck) { // (a check has at most kMaxKeysPerCheck)
        Result failed;
        failed.error = QStringLiteral("a check of %1 keys (the script takes at most %2)").arg(item.specs.size()).arg(kMaxKeysPerScriptCheck);
        return item.done(std::move(failed));
    }
    if (item.specs.empty() && !item.recordKey.isEmpty()) { // (its key count is what says a record follows)
        Result failed;
        failed.error = QStringLiteral("a reservation record for a check of no keys");
        return item.done(std::move(failed));
    }
    if (item.id.isEmpty() && needsId(item)) { // (its leases would all be the one member "")
        Result failed;
        failed.error = QStringLiteral("a check with a lease key or a record but no id");
        return item.done(std::move(failed));
    }
    if (m_queue.size() >= kMaxQueued) {
        Result failed;
        failed.error = QStringLiteral("%1 checks already wait for Redis").arg(m_queue.size());
        return item.done(std::move(failed));
    }
    item.queuedAtMs = RedisConnection::nowMs();
    m_queue.push_back(std::move(item));
    scheduleFlush();
}

void CheckBatcher::scheduleFlush()
{
    if (m_flushPosted)
        return;
    m_flushPosted = true;
    QMetaObject::invokeMethod(&m_tick, [this] { m_flushPosted = false; flush(); }, Qt::QueuedConnection);
}

void CheckBatcher::flush()
{
    // As many calls as may be in flight (more than maxChecks waiting: the next call goes too).
    while (m_inFlight < kMaxInFlight && !m_queue.empty())
        sendOne();
}

void CheckBatcher::sendOne()
{
    // Those that waited too long fail now rather than be decided late (their callers gave up).
    const qint64 now = RedisConnection::nowMs();
    while (!m_queue.empty() && now - m_queue.front().queuedAtMs > m_queueTimeoutMs) {
        Item stale = std::move(m_queue.front());
        m_queue.pop_front();
        Result failed;
        failed.error = QStringLiteral("waited %1 ms for a call to Redis").arg(now - stale.queuedAtMs);
        stale.done(std::move(failed));
    }
    if (m_queue.empty())
        return;
    // Take checks from the front while they fit: distinct keys once each, then the records.
    // (The distinct keys are found through a small open-addressed table of indexes into `keys`,
    // made per call: a QHash cost more to set up than the whole lookup.)
    // (Keys come from callers: the table hashes with the process's SipHash key, as the memory
    // store does, once per key of a check.)
    std::vector<const WindowSpec *> keys;
    std::vector<int> slots(64, -1);
    auto keyHash = [](const QByteArray &key) {
        return static_cast<size_t>(sipHash13(processSipKey(), key.constData(), static_cast<size_t>(key.size())));
    };
    auto slotOf = [&keys, &slots](const QByteArray &key, size_t hash) -> int & {
        const size_t mask = slots.size() - 1;
        for (size_t i = hash & mask;; i = (i + 1) & mask) {
            int &slot = slots[i];
            if (slot < 0 || keys[static_cast<size_t>(slot)]->key == key)
                return slot;
        }
    };
    const size_t taking = std::min(m_queue.size(), static_cast<size_t>(m_maxChecks));
    std::vector<Item> items;
    items.reserve(taking); // never moved again: `keys` points into them
    std::vector<int> keyOfPair; // each check's keys in order, as indexes into `keys` (found once)
    keyOfPair.reserve(taking * 4); // (a check has a few keys: grown one by one, these were reallocated five times a call)
    keys.reserve(taking * 4);
    std::vector<size_t> hashes; // the next check's keys', found once for both look-ups
    while (!m_queue.empty() && static_cast<int>(items.size()) < m_maxChecks) {
        const Item &next = m_queue.front();
        bool conflict = false;
        hashes.clear();
        for (const WindowSpec &s : next.specs) {
            hashes.push_back(keyHash(s.key));
            const int at = slotOf(s.key, hashes.back());
            conflict = conflict || (at >= 0 && !samePolicy(*keys[static_cast<size_t>(at)], s));
        }
        if (conflict && !items.empty())
            break;
        if ((keys.size() + next.specs.size()) * 2 > slots.size()) {
            // Keep the table at most half full: twice the room, every key placed again.
            size_t size = slots.size();
            while ((keys.size() + next.specs.size()) * 2 > size)
                size *= 2;
            slots.assign(size, -1);
            for (size_t k = 0; k < keys.size(); ++k)
                slotOf(keys[k]->key, keyHash(keys[k]->key)) = static_cast<int>(k);
        }
        for (size_t j = 0; j < next.specs.size(); ++j) {
            const WindowSpec &s = next.specs[j];
            int &slot = slotOf(s.key, hashes[j]);
            if (slot < 0) {
                slot = static_cast<int>(keys.size());
                keys.push_back(&s);
            }
            keyOfPair.push_back(slot);
        }
        items.push_back(std::move(m_queue.front()));
        m_queue.pop_front();
    }
    int records = 0;
    size_t pairs = 0; // each a key index, and its weight when that is not 1
    size_t perCheck = 0; // each check's key count, and its id, lease and record when needed
    qsizetype bytes = 64;
    for (const Item &i : items) {
        records += i.recordKey.isEmpty() ? 0 : 1;
        perCheck += needsId(i) ? 4 : 1;
        pairs += i.specs.size();
        for (const WindowSpec &s : i.specs)
            pairs += s.weight == 1 ? 0 : 1;
        bytes += i.id.size() + i.recordKey.size() + 48 + 24 * static_cast<qsizetype>(i.specs.size());
    }
    for (const WindowSpec *s : keys)
        bytes += s->key.size() + 80;
    // EVALSHA sha numkeys, the keys and records, 3 counts, 3 per key, then the checks' and the pairs'.
    RespCommand call(3 + static_cast<qsizetype>(keys.size()) + records + 3 + 3 * static_cast<qsizetype>(keys.size())
                         + static_cast<qsizetype>(perCheck) + static_cast<qsizetype>(pairs),
                     bytes);
    call.arg(QByteArrayLiteral("EVALSHA")).arg(RedisScript::check().sha1).arg(keys.size() + static_cast<size_t>(records));
    for (const WindowSpec *s : keys)
        call.arg(s->key);
    for (const Item &i : items) {
        if (!i.recordKey.isEmpty())
            call.arg(i.recordKey);
    }
    call.arg(keys.size()).arg(items.size()).arg(kMaxLogEntries);
    for (const WindowSpec *s : keys) {
        // The kind's code, then a bucket's burst when not 0 and '!' for a shadow ("r", "b20", "r!":
        // the script tells a log by its whole code).
        char kind[24] = {scriptKindCode(*s)};
        char *end = s->isBucket() && s->burst != 0 ? TextBuffer::decimal(kind + 1, s->burst) : kind + 1;
        if (s->shadow)
            *end++ = '!';
        call.arg(s->windowUs).arg(s->limit).arg(kind, end - kind);
    }
    int record = static_cast<int>(keys.size());
    std::vector<size_t> keysPerCheck;
    keysPerCheck.reserve(items.size());
    auto pairKey = keyOfPair.cbegin();
    for (const Item &i : items) {
        const qint64 n = static_cast<qint64>(i.specs.size());
        if (needsId(i)) // (n >= 1: a lease key, or a record, which submit() takes only with keys)
            call.arg(-n).arg(i.id).arg(i.leaseUs).arg(i.recordKey.isEmpty() ? 0 : ++record);
        else
            call.arg(n);
        for (const WindowSpec &s : i.specs) { // (the index alone for a weight of 1, else negated, then the weight)
            const int index = *pairKey++ + 1;
            if (s.weight == 1)
                call.arg(index);
            else
                call.arg(-index).arg(s.weight);
        }
        keysPerCheck.push_back(i.specs.size());
    }
    ++m_inFlight;
    ++m_calls;
    m_checks += static_cast<qint64>(items.size());
    auto batch = std::make_shared<std::vector<Item>>(std::move(items));
    auto shape = std::make_shared<std::vector<size_t>>(std::move(keysPerCheck));
    // Decodes a reply into one Result per check (all failed with the error when there is one).
    auto results = [batch, shape](const RedisResult &r, RedisConnection *answeredBy, const QString &error) {
        qint64 now = 0;
        std::vector<bool> admitted;
        std::vector<std::vector<KeyState>> states;
        QString why = error;
        if (why.isEmpty() && !decodeBatchReply(r.reply, *shape, &now, &admitted, &states))
            why = QStringLiteral("unexpected reply from %1: %2")
                      .arg(answeredBy ? answeredBy->address() : QStringLiteral("Redis"), QString::fromUtf8(r.reply.str.left(200)));
        std::vector<Result> out(batch->size());
        for (size_t i = 0; i < batch->size(); ++i) {
            out[i].answeredBy = answeredBy;
            if (!why.isEmpty()) {
                out[i].error = why;
            } else {
                out[i].nowUs = now;
                out[i].admitted = admitted[i];
                out[i].keys = std::move(states[i]);
            }
        }
        return out;
    };
    SendCallback late;
    if (m_late) {
        late = [late = m_late, batch, results](const RedisResult &r, RedisConnection *answeredBy, const QString &error) {
            const std::vector<Result> out = results(r, answeredBy, error);
            for (size_t i = 0; i < batch->size(); ++i) {
                if (!out[i].error.isEmpty() || out[i].admitted)
                    late((*batch)[i], out[i]); // (a check refused after all left nothing behind)
            }
        };
    }
    m_send(call.take(), [this, batch, results](const RedisResult &r, RedisConnection *answeredBy, const QString &error) {
        --m_inFlight;
        std::vector<Result> out = results(r, answeredBy, error);
        if (!out.empty() && !out.front().error.isEmpty()) {
            ++m_failedCalls;
            if (out.front().error.startsWith(QLatin1String("timeout")))
                ++m_timedOutCalls;
        }
        for (size_t i = 0; i < batch->size(); ++i)
            (*batch)[i].done(std::move(out[i]));
        scheduleFlush(); // (not from inside the connection's callback: the send may write at once)
    }, std::move(late));
}

bool decodeBatchReply(const RedisReply &reply, const std::vector<size_t> &keysPerCheck, qint64 *now,
                      std::vector<bool> *admitted, std::vector<std::vector<KeyState>> *states)
{
    size_t expected = 1;
    for (size_t k : keysPerCheck)
        expected += 1 + 2 * k;
    if (reply.type != RedisReply::Type::Array || reply.elements.size() != expected)
        return false;
    for (const RedisReply &e : reply.elements) {
        if (e.type != RedisReply::Type::Integer)
            return false;
    }
    *now = reply.elements[0].integer;
    admitted->assign(keysPerCheck.size(), false);
    states->assign(keysPerCheck.size(), {});
    size_t at = 1;
    for (size_t c = 0; c < keysPerCheck.size(); ++c) {
        const size_t n = keysPerCheck[c];
        if (n > kMaxKeysPerScriptCheck)
            return false;
        const qint64 head = reply.elements[at++].integer; // admitted + 2 * fits + 2^(n+1) * full
        if (head < 0 || head >= (qint64(1) << (2 * n + 1)))
            return false;
        (*admitted)[c] = head & 1;
        const qint64 fitsMask = (head >> 1) & ((qint64(1) << n) - 1);
        const qint64 fullMask = head >> (n + 1);
        auto &s = (*states)[c];
        s.resize(n);
        for (size_t k = 0; k < n; ++k, at += 2) {
            s[k] = {reply.elements[at].integer, reply.elements[at + 1].integer};
            s[k].full = (fullMask >> k) & 1;
            s[k].fits = (fitsMask >> k) & 1;
        }
    }
    return true;
}

} // namespace sluice
