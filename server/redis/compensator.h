// SPDX-License-Identifier: Apache-2.0
// Calls that must reach Redis even though nobody waits for them: taking back an admission whose
// caller was told something else (a call that timed out but ran, a Cluster check refused by one
// slot group after another had admitted it). Each is tried until Redis takes it, with backoff,
// from an event of the compensator's own (never inside a connection's callback). Bounded: at most
// kMaxPending wait, none longer than kGiveUpMs; past either, it is dropped, counted and logged (what
// it would have given back then stays charged until its window or lease ends: never over-admission).
// Lives on, and must be used from, its store's thread.
#pragma once

#include "redis/layer.h"

#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QTimer>
#include <deque>
#include <functional>

namespace sluice {

class Compensator
{
public:
    // One attempt: calls done(true) when Redis took it, done(false, why) when it must be tried again.
    using Attempt = std::function<void(std::function<void(bool ok, const QString &why)> done)>;

    static constexpr size_t kMaxPending = 10'000;
    static constexpr qint64 kGiveUpMs = 15 * 60 * 1000;

    Compensator();
    Compensator(const Compensator &) = delete;
    Compensator &operator=(const Compensator &) = delete;

    // what: a few words for the log ("take back r12 on 127.0.0.1:7001"). The first attempt is made
    // no earlier than delayMs from now.
    void add(const QString &what, Attempt attempt, int delayMs = 0);

    qint64 pending() const { return static_cast<qint64>(m_queue.size()) + m_inFlight; }
    qint64 done() const { return m_done; }
    qint64 retries() const { return m_retries; }
    qint64 dropped() const { return m_dropped; }
    QString lastError() const { return m_lastError; }

private:
    struct Entry
    {
        QString what;
        Attempt attempt;
        qint64 addedMs = 0;
        qint64 dueMs = 0;
        int backoffMs = 100;
    };
    void run();
    void schedule();

    std::deque<Entry> m_queue;
    QObject m_context; // the timer's and the answers' context: dies with the compensator
    QTimer m_timer;
    qint64 m_inFlight = 0;
    qint64 m_done = 0;
    qint64 m_retries = 0;
    qint64 m_dropped = 0;
    QString m_lastError;
};

// {pending, done, retries, dropped, lastError} for a store's /health.
QJsonObject compensationHealth(const Compensator &c);

} // namespace sluice
