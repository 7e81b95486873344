// SPDX-License-Identifier: Apache-2.0
#include "redis/compensator.h"

#include "redis/redisconnection.h"

#include <QPointer>

namespace sluice {

Compensator::Compensator()
{
    m_timer.setSingleShot(true);
    QObject::connect(&m_timer, &QTimer::timeout, &m_context, [this] { run(); });
}

void Compensator::add(const QString &what, Attempt attempt, int delayMs)
{
    if (m_queue.size() >= kMaxPending) {
        ++m_dropped;
        m_lastError = QStringLiteral("more than %1 compensations wait: dropped '%2'").arg(kMaxPending).arg(what);
        qWarning("redis: %s", qPrintable(m_lastError));
        return;
    }
    const qint64 now = RedisConnection::nowMs();
    m_queue.push_back({what, std::move(attempt), now, now + std::max(0, delayMs), 100});
    schedule();
}

void Compensator::schedule()
{
    if (m_queue.empty())
        return;
    qint64 due = m_queue.front().dueMs;
    for (const Entry &e : m_queue)
        due = std::min(due, e.dueMs);
    const qint64 wait = std::max<qint64>(0, due - RedisConnection::nowMs());
    if (!m_timer.isActive() || m_timer.remainingTime() > wait)
        m_timer.start(static_cast<int>(wait));
}

void Compensator::run()
{
    const qint64 now = RedisConnection::nowMs();
    std::deque<Entry> later;
    std::deque<Entry> due;
    for (Entry &e : m_queue)
        (e.dueMs <= now ? due : later).push_back(std::move(e));
    m_queue = std::move(later);
    for (Entry &e : due) {
        ++m_inFlight;
        auto entry = std::make_shared<Entry>(std::move(e));
        const QPointer<QObject> alive(&m_context);
        entry->attempt([this, alive, entry](bool ok, const QString &why) {
            if (!alive)
                return; // the store is gone: so is what it would have compensated
            --m_inFlight;
            if (ok) {
                ++m_done;
                return;
            }
            m_lastError = QStringLiteral("%1: %2").arg(entry->what, why);
            if (RedisConnection::nowMs() - entry->addedMs > kGiveUpMs) {
                ++m_dropped;
                qWarning("redis: gave up (after %lld s): %s", static_cast<long long>(kGiveUpMs / 1000), qPrintable(m_lastError));
                return;
            }
            ++m_retries;
            entry->dueMs = RedisConnection::nowMs() + entry->backoffMs;
            entry->backoffMs = std::min(2000, entry->backoffMs * 2);
            m_queue.push_back(std::move(*entry));
            schedule();
        });
    }
    schedule();
}

QJsonObject compensationHealth(const Compensator &c)
{
    QJsonObject o{{QStringLiteral("pending"), c.pending()},
                  {QStringLiteral("done"), c.done()},
                  {QStringLiteral("retries"), c.retries()},
                  {QStringLiteral("dropped"), c.dropped()}};
    if (!c.lastError().isEmpty())
        o.insert(QStringLiteral("lastError"), c.lastError());
    return o;
}

} // namespace sluice
