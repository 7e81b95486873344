// SPDX-License-Identifier: Apache-2.0
// The sliding-window-log store interface (design §4). Asynchronous so that the memory, Redis and
// Redis Cluster stores fit behind it unchanged: the callback runs on the calling thread, exactly
// once, either before check() returns (memory) or later from that thread's event loop (Redis).
//
// Semantics every store must share (the data-driven store suite holds them to it):
// - an entry counts while its timestamp t satisfies now - window < t <= now;
// - a request is admitted only if, for every key, used + cost <= limit; then one entry of weight
//   `cost` is appended to every key; a refused request writes nothing;
// - entries carry their weight; `used` is the weight sum of the counted entries.
#pragma once

#include "engine/layer.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <functional>
#include <vector>

namespace sluice {

struct WindowSpec
{
    QByteArray key;       // from windowKey(): "sluice:{<scope>:<escaped ids>}"
    qint64 windowUs = 0;  // window length in microseconds (> 0)
    qint64 limit = 0;     // >= 0
};

struct WindowBatch
{
    std::vector<WindowSpec> keys;
    qint64 cost = 1;      // weight of the entry this request would add
};

struct KeyState
{
    qint64 used = 0;      // weight counted in the window before this request
    // Timestamp of the oldest counted entry before this request; -1 when none. A store may leave
    // it -1 for keys the decision does not read (neither the admitted primary nor violated).
    qint64 oldestUs = -1;
};

struct WindowOutcome
{
    // Unavailable: the store could not answer; Full: it would have to hold more keys than its bound.
    enum class Status { Ok, Unavailable, Full };
    Status status = Status::Ok;
    QString error;                // for Unavailable: why (timeout, connection refused, …)
    bool admitted = false;
    qint64 nowUs = 0;             // the store's clock at the decision (Redis TIME for Redis)
    std::vector<KeyState> keys;   // one per WindowBatch::keys, same order
    QString source;               // "memory", "redis", "redis-cluster", "local", "fail-open"
};

struct KeyUsage
{
    QByteArray key;
    qint64 used = 0;
    qint64 oldestUs = -1;
    qint64 nowUs = 0;
};

class WindowStore
{
public:
    using CheckCallback = std::function<void(WindowOutcome)>;
    using UsageCallback = std::function<void(bool ok, std::vector<KeyUsage>)>;
    using DoneCallback = std::function<void(bool ok)>;

    virtual ~WindowStore() = default;

    virtual void check(const WindowBatch &batch, CheckCallback done) = 0;
    // Current usage of keys without recording anything (admin usage, live charts).
    virtual void usage(const std::vector<WindowSpec> &keys, UsageCallback done) = 0;
    // Forgets a key's log (admin reset).
    virtual void reset(const QByteArray &key, DoneCallback done) = 0;
    // "memory", "redis", "redis-cluster"
    virtual QString source() const = 0;
    // State for /health (connection, breaker, …); {} when there is nothing to say.
    virtual QJsonObject health() const { return {}; }
};

} // namespace sluice
