// SPDX-License-Identifier: Apache-2.0
// One hiredis async connection on the owning thread's Qt event loop, through our own adapter
// (qteventadapter.h). Many commands in flight
// (pipelining); each callback runs exactly once on this thread: with the reply, or with an
// error (not connected: at once; connection lost; per-call timeout). Replies arrive in order,
// so one coarse timer walks a FIFO of deadlines instead of one QTimer per call. It reconnects by
// itself with backoff. Never destroy it from inside one of its callbacks (use deleteLater).
#pragma once

#include "redis/layer.h"

#include "redis/redisreply.h"

#include <QObject>
#include <QPointer>
#include <QTimer>
#include <deque>
#include <functional>
#include <memory>

struct redisAsyncContext;

namespace sluice {

class RedisConnection : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const RedisResult &)>;

    RedisConnection(QString host, quint16 port, int db = 0, int timeoutMs = 50, QObject *parent = nullptr);
    ~RedisConnection() override;

    void open();
    bool isConnected() const { return m_connected; }
    void command(const QList<QByteArray> &argv, Callback done);
    int inFlight() const { return static_cast<int>(m_pending.size()); }
    QString lastError() const { return m_lastError; }
    QString address() const { return QStringLiteral("%1:%2").arg(m_host).arg(m_port); }

Q_SIGNALS:
    void connected();
    void disconnected(const QString &why);

private:
    struct Pending
    {
        Callback done;
        qint64 deadlineMs = 0;
        bool finished = false;
    };

    static void onReply(redisAsyncContext *ctx, void *reply, void *privdata);
    static void onConnect(const redisAsyncContext *ctx, int status);
    static void onDisconnect(const redisAsyncContext *ctx, int status);

    void connectNow();
    void connectTo(const QString &ip);
    void lost(const QString &why);
    void scheduleReconnect();
    void sweepTimeouts();
    void dropContext(const QString &why);
    static qint64 nowMs();

    QString m_host;
    quint16 m_port;
    int m_db;
    int m_timeoutMs;
    redisAsyncContext *m_ctx = nullptr;
    bool m_connected = false;
    bool m_open = false;
    bool m_resolving = false;
    std::deque<std::shared_ptr<Pending>> m_pending;
    QTimer m_sweep;
    QTimer m_reconnect;
    QTimer m_connectTimeout;
    int m_awaiting = 0;         // sent and not yet answered by hiredis (timed-out ones included)
    qint64 m_lastProgressMs = 0;
    int m_backoffMs = 50;
    QString m_lastError;
};

} // namespace sluice
