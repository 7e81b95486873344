// SPDX-License-Identifier: Apache-2.0
// hiredis's async context on a Qt event loop, as a tiny unit of its own (like hiredis's
// adapters/libevent.h: attach, five hooks, cleanup). Two QSocketNotifiers parented to the adapter,
// created on attach and released in hiredis's cleanup hook: hiredis's bundled adapters/qt.h leaks
// its notifiers and uses string-based connects. Connection policy (reconnect, timeouts,
// pipelining) lives above it, in RedisConnection.
#pragma once

#include "redis/layer.h"

#include <QObject>
#include <functional>

struct redisAsyncContext;
class QSocketNotifier;

namespace sluice {

class QtEventAdapter : public QObject
{
public:
    // Takes over ctx's event hooks. `onCleanup` runs when hiredis is done with the context
    // (freed, disconnected): the adapter then releases its notifiers and deletes itself later.
    static QtEventAdapter *attach(redisAsyncContext *ctx, QObject *parent, std::function<void()> onCleanup);

private:
    QtEventAdapter(redisAsyncContext *ctx, QObject *parent, std::function<void()> onCleanup);
    static void addRead(void *self);
    static void delRead(void *self);
    static void addWrite(void *self);
    static void delWrite(void *self);
    static void cleanup(void *self);

    redisAsyncContext *m_ctx;
    QSocketNotifier *m_read;
    QSocketNotifier *m_write;
    std::function<void()> m_onCleanup;
};

} // namespace sluice
