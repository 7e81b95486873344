// SPDX-License-Identifier: Apache-2.0
#include "redis/qteventadapter.h"

#include <QSocketNotifier>
#include <hiredis/async.h>

namespace sluice {

QtEventAdapter *QtEventAdapter::attach(redisAsyncContext *ctx, QObject *parent, std::function<void()> onCleanup)
{
    return new QtEventAdapter(ctx, parent, std::move(onCleanup));
}

QtEventAdapter::QtEventAdapter(redisAsyncContext *ctx, QObject *parent, std::function<void()> onCleanup)
    : QObject(parent), m_ctx(ctx), m_read(new QSocketNotifier(ctx->c.fd, QSocketNotifier::Read, this)),
      m_write(new QSocketNotifier(ctx->c.fd, QSocketNotifier::Write, this)), m_onCleanup(std::move(onCleanup))
{
    m_read->setEnabled(false);
    m_write->setEnabled(false);
    connect(m_read, &QSocketNotifier::activated, this, [this] {
        if (m_ctx)
            redisAsyncHandleRead(m_ctx);
    });
    connect(m_write, &QSocketNotifier::activated, this, [this] {
        if (m_ctx)
            redisAsyncHandleWrite(m_ctx);
    });
    ctx->ev.data = this;
    ctx->ev.addRead = &QtEventAdapter::addRead;
    ctx->ev.delRead = &QtEventAdapter::delRead;
    ctx->ev.addWrite = &QtEventAdapter::addWrite;
    ctx->ev.delWrite = &QtEventAdapter::delWrite;
    ctx->ev.cleanup = &QtEventAdapter::cleanup;
}

void QtEventAdapter::addRead(void *self)
{
    if (auto *a = static_cast<QtEventAdapter *>(self); a->m_read)
        a->m_read->setEnabled(true);
}
void QtEventAdapter::delRead(void *self)
{
    if (auto *a = static_cast<QtEventAdapter *>(self); a->m_read)
        a->m_read->setEnabled(false);
}
void QtEventAdapter::addWrite(void *self)
{
    if (auto *a = static_cast<QtEventAdapter *>(self); a->m_write)
        a->m_write->setEnabled(true);
}
void QtEventAdapter::delWrite(void *self)
{
    if (auto *a = static_cast<QtEventAdapter *>(self); a->m_write)
        a->m_write->setEnabled(false);
}

void QtEventAdapter::cleanup(void *self)
{
    auto *a = static_cast<QtEventAdapter *>(self);
    a->m_ctx = nullptr;
    for (QSocketNotifier **n : {&a->m_read, &a->m_write}) {
        if (*n) {
            (*n)->setEnabled(false);
            *n = nullptr; // deleted with the adapter: we may be inside its activated() signal
        }
    }
    if (a->m_onCleanup)
        a->m_onCleanup();
    a->deleteLater();
}

} // namespace sluice
