// SPDX-License-Identifier: Apache-2.0
// One hiredis async connection on the owning thread's Qt event loop, through our own adapter
// (qteventadapter.h). Many commands in flight
// (pipelining); each callback runs exactly once on this thread: with the reply, or with an
// error (not connected: at once; connection lost; per-call timeout). Replies arrive in order,
// so one coarse timer walks a FIFO of deadlines instead of one QTimer per call. It reconnects by
// itself with backoff. Never destroy it from inside one of its callbacks (use deleteLater).
#pragma once

#include "textbuffer.h"

#include "redis/layer.h"

#include "redis/redisreply.h"

#include <QObject>
#include <QPointer>
#include <QTimer>
#include <deque>
#include <functional>
#include <memory>

struct redisAsyncContext;
struct redisContext;

namespace sluice {

// Who this connection is to Redis (AUTH [user] password; ACL users need Redis 6+). Empty: none.
struct RedisCredentials
{
    QByteArray user;
    QByteArray password;
    bool empty() const { return password.isEmpty(); }
};
// The one rule for which credentials win: a redis:// URL that names a password brings its own
// (user and password); otherwise the configured ones (--redis-user, --redis-password-file,
// SLUICE_REDIS_PASSWORD). `url` may be empty (a Cluster, Sentinel).
RedisCredentials redisCredentialsFor(const QString &url, const RedisCredentials &configured);

// A command in Redis's protocol (RESP), written straight from its arguments: no QByteArray per
// argument, no formatting by hiredis (its sdscatfmt per argument cost more than the rest of a
// batched check's call). The number of arguments is said first; take() checks it was kept.
class RespCommand
{
public:
    RespCommand(qsizetype argc, qsizetype reserveBytes);
    RespCommand &arg(const char *p, qsizetype n);
    RespCommand &arg(const QByteArray &a) { return arg(a.constData(), a.size()); }
    RespCommand &arg(qint64 number);
    RespCommand &arg(int number) { return arg(static_cast<qint64>(number)); }
    RespCommand &arg(size_t number) { return arg(static_cast<qint64>(number)); }
    QByteArray take();

private:
    TextBuffer m_out;
    qsizetype m_argc;
    qsizetype m_written = 0;
};

// `argv` as one RESP command.
QByteArray formatRedisCommand(const QList<QByteArray> &argv);

class RedisConnection : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const RedisResult &)>;

    RedisConnection(QString host, quint16 port, int db = 0, int timeoutMs = 50, QObject *parent = nullptr);
    ~RedisConnection() override;

    // AUTH is the first command on every (re)connection; a refused one drops the connection with a
    // clear lastError() and tries again with backoff (the breaker and failure mode cover the gap).
    void setCredentials(RedisCredentials credentials) { m_credentials = std::move(credentials); }
    void open();
    bool isConnected() const { return m_connected; }
    void command(const QList<QByteArray> &argv, Callback done);
    // The same, and `late` learns what became of a call that `done` was told had failed though it
    // may have run (a timeout, a connection lost with the call on it): its reply when it comes after
    // all, or (ok false) that the connection went before one came, so its outcome is unknown (also
    // when it may never have left our buffer). Never called for a call hiredis refused at once, nor
    // for a connection being destroyed.
    void command(const QList<QByteArray> &argv, Callback done, Callback late);
    // The same for a command already in Redis's protocol (RespCommand, formatRedisCommand).
    void send(const QByteArray &resp, Callback done, Callback late = {});
    // Writes the commands queued so far now rather than at the event loop's next turn. Never from
    // inside one of its callbacks (hiredis is not re-entrant there).
    void writeNow();
    // Another server from now on (a Sentinel failover): the current connection, if any, is dropped
    // (its calls fail at once) and the new address is connected at once. Opens the connection.
    void setAddress(const QString &host, quint16 port);
    // Subscribe mode (a connection of its own: it then takes no other command): on every
    // (re)connection SUBSCRIBE `channel`; `message` gets each message's payload.
    using MessageCallback = std::function<void(const QByteArray &payload)>;
    void subscribe(const QByteArray &channel, MessageCallback message);
    int inFlight() const { return static_cast<int>(m_pending.size()); }
    QString lastError() const { return m_lastError; }
    QString address() const { return QStringLiteral("%1:%2").arg(m_host).arg(m_port); }
    // The steady clock its deadlines use, in ms (also the batchers' queue deadlines).
    static qint64 nowMs();

Q_SIGNALS:
    void connected();
    void disconnected(const QString &why);

private:
    struct Pending
    {
        Callback done;
        Callback late;
        qint64 deadlineMs = 0;
        bool finished = false;
        bool timedOut = false; // answered before its reply came (a timeout, a lost connection): `late` may follow
    };

    static void onReply(redisAsyncContext *ctx, void *reply, void *privdata);
    static void onMessage(redisAsyncContext *ctx, void *reply, void *privdata);
    static void onConnect(const redisAsyncContext *ctx, int status);
    static void onDisconnect(const redisAsyncContext *ctx, int status);

    void connectNow();
    void connectTo(const QString &ip);
    void lost(const QString &why);
    void scheduleReconnect();
    void sweepTimeouts();
    void dropContext(const QString &why);

    QString m_host;
    quint16 m_port;
    int m_db;
    int m_timeoutMs;
    redisAsyncContext *m_ctx = nullptr;
    bool m_connected = false;
    bool m_destroying = false;
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
    RedisCredentials m_credentials;
    QByteArray m_channel; // subscribe mode: the channel
    MessageCallback m_message;
};

// At startup only: one command on a blocking hiredis context (its own timeout applies); an empty
// reply when none came.
RedisReply commandNow(redisContext *context, const QList<QByteArray> &argv);

// "host:port" (the last colon splits, so an IPv6 address keeps its own).
std::pair<QString, quint16> splitHostPort(const QString &hostPort);

// "authentication failed" when a reply refuses our credentials (WRONGPASS, NOAUTH, invalid
// username-password pair); empty otherwise.
QString authenticationError(const RedisReply &reply);

// At startup only (it blocks, at most timeoutMs per step): connects to host:port, authenticates
// and PINGs. Returns why Redis refused our credentials or wants some, or an empty string — also
// when Redis cannot be reached (the failure mode covers that, and the connection retries).
QString probeRedisCredentials(const QString &host, quint16 port, const RedisCredentials &credentials, int timeoutMs);

} // namespace sluice
