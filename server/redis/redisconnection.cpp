// SPDX-License-Identifier: Apache-2.0
#include "redis/redisconnection.h"

#include <QUrl>

#include "redis/qteventadapter.h"
#include "textbuffer.h"

#include <QHostAddress>
#include <QHostInfo>
#include <charconv>
#include <chrono>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace sluice {

namespace {

RedisConnection *owner(const redisAsyncContext *ctx) { return static_cast<RedisConnection *>(ctx->data); }

} // namespace

RedisConnection::RedisConnection(QString host, quint16 port, int db, int timeoutMs, QObject *parent)
    : QObject(parent), m_host(std::move(host)), m_port(port), m_db(db), m_timeoutMs(timeoutMs)
{
    m_sweep.setInterval(5);
    connect(&m_sweep, &QTimer::timeout, this, &RedisConnection::sweepTimeouts);
    m_reconnect.setSingleShot(true);
    connect(&m_reconnect, &QTimer::timeout, this, &RedisConnection::connectNow);
    m_connectTimeout.setSingleShot(true);
    connect(&m_connectTimeout, &QTimer::timeout, this, [this] {
        if (!m_connected)
            dropContext(QStringLiteral("connect to %1 timed out").arg(address()));
    });
}

RedisConnection::~RedisConnection()
{
    m_open = false;
    m_destroying = true;
    // Callers of a connection being destroyed are not called back: mark everything finished.
    for (auto &p : m_pending)
        p->finished = true;
    m_pending.clear();
    if (m_ctx) {
        redisAsyncContext *ctx = m_ctx;
        ctx->onDisconnect = nullptr;
        redisAsyncFree(ctx); // runs the reply callbacks with NULL (ignored: finished) and our cleanup hook
    }
}

RedisCredentials redisCredentialsFor(const QString &url, const RedisCredentials &configured)
{
    const QUrl u(url);
    if (url.isEmpty() || u.password().isEmpty())
        return configured;
    return {u.userName(QUrl::FullyDecoded).toUtf8(), u.password(QUrl::FullyDecoded).toUtf8()};
}

qint64 RedisConnection::nowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void RedisConnection::open()
{
    m_open = true;
    if (!m_ctx)
        connectNow();
}

void RedisConnection::connectNow()
{
    if (!m_open || m_ctx || m_resolving)
        return;
    // hiredis resolves names with a blocking getaddrinfo: resolve asynchronously first, and hand
    // hiredis an address.
    QHostAddress address;
    if (!address.setAddress(m_host)) {
        m_resolving = true;
        QHostInfo::lookupHost(m_host, this, [this](const QHostInfo &info) {
            m_resolving = false;
            if (info.error() != QHostInfo::NoError || info.addresses().isEmpty()) {
                lost(QStringLiteral("cannot resolve %1: %2").arg(m_host, info.errorString()));
                return;
            }
            connectTo(info.addresses().constFirst().toString());
        });
        return;
    }
    connectTo(m_host);
}

void RedisConnection::connectTo(const QString &ip)
{
    if (!m_open || m_ctx)
        return;
    redisAsyncContext *ctx = redisAsyncConnect(ip.toUtf8().constData(), m_port);
    if (!ctx || ctx->err) {
        const QString why = ctx ? QString::fromLocal8Bit(ctx->errstr) : QStringLiteral("out of memory");
        if (ctx)
            redisAsyncFree(ctx);
        lost(QStringLiteral("cannot connect to %1: %2").arg(address(), why));
        return;
    }
    m_ctx = ctx;
    ctx->data = this;
    boundReplyReader(ctx->c.reader); // a huge array count from the server must not allocate gigabytes
    QtEventAdapter::attach(ctx, this, [this, ctx] {
        if (m_ctx == ctx)
            m_ctx = nullptr;
    });
    redisAsyncSetConnectCallback(ctx, &RedisConnection::onConnect);
    redisAsyncSetDisconnectCallback(ctx, &RedisConnection::onDisconnect);
    // The connect began before the adapter was attached, so nobody asked for writability yet:
    // writability is what tells hiredis that the non-blocking connect finished.
    ctx->ev.addWrite(ctx->ev.data);
    m_connectTimeout.start(std::max(1000, 10 * m_timeoutMs));
}

void RedisConnection::onConnect(const redisAsyncContext *ctx, int status)
{
    RedisConnection *self = owner(ctx);
    if (status != REDIS_OK) {
        // hiredis frees the context when this returns.
        self->m_ctx = nullptr;
        self->lost(QStringLiteral("cannot connect to %1: %2").arg(self->address(), QString::fromLocal8Bit(ctx->errstr)));
        return;
    }
    self->m_connectTimeout.stop();
    self->m_connected = true;
    self->m_backoffMs = 50;
    self->m_lastError.clear();
    if (!self->m_credentials.empty()) {
        // First on the wire: Redis answers in order, so nothing after it runs unauthenticated.
        QList<QByteArray> auth{QByteArrayLiteral("AUTH")};
        if (!self->m_credentials.user.isEmpty())
            auth << self->m_credentials.user;
        auth << self->m_credentials.password;
        QPointer<RedisConnection> guard(self);
        self->command(auth, [guard](const RedisResult &r) {
            if (!guard || !r.ok)
                return;
            const QString why = r.reply.isError() ? QString::fromUtf8(r.reply.str) : QString();
            if (why.isEmpty())
                return;
            // Dropped from the event loop, not from inside hiredis' reply callback. The message
            // never holds the password: Redis does not echo it.
            const QString message = QStringLiteral("Redis at %1 refused the credentials: %2").arg(guard->address(), why);
            guard->m_lastError = message;
            QTimer::singleShot(0, guard, [guard, message] {
                if (guard)
                    guard->dropContext(message);
            });
        });
    }
    if (self->m_db != 0)
        self->command({QByteArrayLiteral("SELECT"), QByteArray::number(self->m_db)}, [](const RedisResult &) {});
    if (!self->m_channel.isEmpty()) {
        // Outside m_pending: hiredis calls onMessage for the confirmation and for every message.
        const char *args[] = {"SUBSCRIBE", self->m_channel.constData()};
        const size_t lens[] = {9, static_cast<size_t>(self->m_channel.size())};
        redisAsyncCommandArgv(self->m_ctx, &RedisConnection::onMessage, nullptr, 2, args, lens);
    }
    Q_EMIT self->connected();
}

void RedisConnection::onDisconnect(const redisAsyncContext *ctx, int status)
{
    RedisConnection *self = owner(ctx);
    self->m_ctx = nullptr; // freed by hiredis after this returns
    self->lost(status == REDIS_OK ? QStringLiteral("disconnected from %1").arg(self->address())
                                  : QStringLiteral("connection to %1 lost: %2").arg(self->address(), QString::fromLocal8Bit(ctx->errstr)));
}

void RedisConnection::lost(const QString &why)
{
    const bool wasConnected = m_connected;
    m_connected = false;
    m_lastError = why;
    m_connectTimeout.stop();
    m_awaiting = 0;
    // Calls still waiting fail now; their hiredis callbacks (if any are left) will find them finished.
    auto pending = std::move(m_pending);
    m_pending.clear();
    for (auto &p : pending) {
        if (!p->finished) {
            p->finished = true;
            p->timedOut = true; // (it may have run: `late` hears of it when hiredis lets it go)
            p->done(RedisResult{false, why, {}});
        }
    }
    if (wasConnected)
        Q_EMIT disconnected(why);
    scheduleReconnect();
}

void RedisConnection::scheduleReconnect()
{
    if (!m_open || m_reconnect.isActive())
        return;
    m_reconnect.start(m_backoffMs);
    m_backoffMs = std::min(2000, m_backoffMs * 2);
}

void RedisConnection::dropContext(const QString &why)
{
    if (m_ctx) {
        redisAsyncContext *ctx = m_ctx;
        ctx->onDisconnect = nullptr; // we report it ourselves, once
        redisAsyncFree(ctx);
        m_ctx = nullptr;
    }
    lost(why);
}

void RedisConnection::command(const QList<QByteArray> &argv, Callback done)
{
    command(argv, std::move(done), Callback());
}

RespCommand::RespCommand(qsizetype argc, qsizetype reserveBytes) : m_out(reserveBytes + 16), m_argc(argc)
{
    m_out.put('*');
    m_out.number(argc);
    m_out.append("\r\n", 2);
}

RespCommand &RespCommand::arg(const char *p, qsizetype n)
{
    ++m_written;
    // "$<n>\r\n<bytes>\r\n" written as one run into room reserved once.
    char *out = m_out.room(n + 26);
    *out++ = '$';
    out = TextBuffer::literal(TextBuffer::decimal(out, n), "\r\n");
    if (n > 0)
        std::memcpy(out, p, static_cast<size_t>(n));
    m_out.setEnd(TextBuffer::literal(out + n, "\r\n"));
    return *this;
}

RespCommand &RespCommand::arg(qint64 number)
{
    char digits[24];
    return arg(digits, std::to_chars(digits, digits + sizeof digits, number).ptr - digits);
}

QByteArray RespCommand::take()
{
    if (m_written != m_argc)
        qFatal("RespCommand: %lld arguments announced, %lld written", static_cast<long long>(m_argc), static_cast<long long>(m_written));
    return m_out.take();
}

QByteArray formatRedisCommand(const QList<QByteArray> &argv)
{
    qsizetype bytes = 0;
    for (const QByteArray &a : argv)
        bytes += a.size() + 16;
    RespCommand resp(argv.size(), bytes);
    for (const QByteArray &a : argv)
        resp.arg(a);
    return resp.take();
}

void RedisConnection::command(const QList<QByteArray> &argv, Callback done, Callback late)
{
    send(formatRedisCommand(argv), std::move(done), std::move(late));
}

void RedisConnection::send(const QByteArray &resp, Callback done, Callback late)
{
    if (!m_connected || !m_ctx) {
        done(RedisResult{false, m_lastError.isEmpty() ? QStringLiteral("not connected to %1").arg(address()) : m_lastError, {}});
        return;
    }
    auto pending = std::make_shared<Pending>();
    pending->done = std::move(done);
    pending->late = std::move(late);
    pending->deadlineMs = nowMs() + m_timeoutMs;
    auto *holder = new std::shared_ptr<Pending>(pending);
    if (redisAsyncFormattedCommand(m_ctx, &RedisConnection::onReply, holder, resp.constData(), static_cast<size_t>(resp.size())) != REDIS_OK) {
        delete holder;
        pending->finished = true;
        pending->done(RedisResult{false, QStringLiteral("cannot send to %1").arg(address()), {}});
        return;
    }
    m_pending.push_back(std::move(pending));
    if (m_awaiting++ == 0)
        m_lastProgressMs = nowMs();
    if (!m_sweep.isActive())
        m_sweep.start();
}

void RedisConnection::writeNow()
{
    if (m_ctx && m_connected) // (not while connecting: hiredis would take the socket as connected)
        redisAsyncHandleWrite(m_ctx);
}

void RedisConnection::setAddress(const QString &host, quint16 port)
{
    const bool moved = host != m_host || port != m_port;
    m_host = host;
    m_port = port;
    if (moved && (m_ctx || m_connected))
        dropContext(QStringLiteral("the primary moved to %1").arg(address()));
    m_backoffMs = 50;
    m_reconnect.stop();
    open();
}

void RedisConnection::subscribe(const QByteArray &channel, MessageCallback message)
{
    m_channel = channel;
    m_message = std::move(message);
}

void RedisConnection::onMessage(redisAsyncContext *ctx, void *reply, void *)
{
    if (!reply)
        return; // the context is going away
    RedisConnection *self = owner(ctx);
    const RedisReply r = redisReplyFromHiredis(reply);
    // ["message", channel, payload] (also ["subscribe", channel, count] once)
    if (r.type == RedisReply::Type::Array && r.elements.size() == 3 && r.elements[0].str == "message" && self->m_message)
        self->m_message(r.elements[2].str);
}

void RedisConnection::onReply(redisAsyncContext *ctx, void *reply, void *privdata)
{
    std::unique_ptr<std::shared_ptr<Pending>> holder(static_cast<std::shared_ptr<Pending> *>(privdata));
    const std::shared_ptr<Pending> p = *holder;
    RedisConnection *self = owner(ctx);
    if (self->m_awaiting > 0)
        --self->m_awaiting;
    self->m_lastProgressMs = nowMs();
    if (p->finished) {
        // Timed out earlier: what it did after all (or that nobody will ever know) goes to `late`.
        if (p->timedOut && p->late && !self->m_destroying) {
            const Callback late = std::move(p->late);
            p->late = nullptr;
            late(reply ? RedisResult{true, QString(), redisReplyFromHiredis(reply)}
                       : RedisResult{false, QStringLiteral("the connection to %1 went before the reply came").arg(self->address()), {}});
        }
        return; // (or the connection is going away)
    }
    p->finished = true;
    RedisResult result;
    if (reply) {
        result.ok = true;
        result.reply = redisReplyFromHiredis(reply);
    } else {
        result.error = ctx->errstr[0] ? QString::fromLocal8Bit(ctx->errstr) : QStringLiteral("connection closed");
    }
    while (!self->m_pending.empty() && self->m_pending.front()->finished)
        self->m_pending.pop_front();
    const Callback late = reply || self->m_destroying ? Callback() : std::move(p->late);
    p->done(result);
    // The connection went with the call on it: it may have run. Its outcome is unknown.
    if (late)
        late(RedisResult{false, QStringLiteral("the connection to %1 went before the reply came").arg(self->address()), {}});
}

void RedisConnection::sweepTimeouts()
{
    const qint64 now = nowMs();
    while (!m_pending.empty()) {
        const std::shared_ptr<Pending> p = m_pending.front();
        if (!p->finished) {
            if (p->deadlineMs > now)
                break;
            p->finished = true;
            p->timedOut = true;
            m_pending.pop_front();
            p->done(RedisResult{false, QStringLiteral("timeout after %1 ms").arg(m_timeoutMs), {}});
            continue;
        }
        m_pending.pop_front();
    }
    // A connection whose replies stopped coming long ago (a hung server, a half-open socket) is
    // dropped and made again; callers were answered by their own timeouts meanwhile.
    const qint64 stallMs = std::max<qint64>(1000, 20LL * m_timeoutMs);
    if (m_ctx && m_awaiting > 0 && now - m_lastProgressMs > stallMs) {
        dropContext(QStringLiteral("no reply from %1 for %2 ms").arg(address()).arg(now - m_lastProgressMs));
        return;
    }
    if (m_pending.empty() && m_awaiting == 0)
        m_sweep.stop();
}

RedisReply commandNow(redisContext *c, const QList<QByteArray> &argv)
{
    std::vector<const char *> args;
    std::vector<size_t> lens;
    for (const QByteArray &a : argv) {
        args.push_back(a.constData());
        lens.push_back(static_cast<size_t>(a.size()));
    }
    auto *reply = static_cast<redisReply *>(redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data()));
    RedisReply r = reply ? redisReplyFromHiredis(reply) : RedisReply();
    if (reply)
        freeReplyObject(reply);
    return r;
}

QString probeRedisCredentials(const QString &host, quint16 port, const RedisCredentials &credentials, int timeoutMs)
{
    const timeval timeout{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host.toUtf8().constData(), port, timeout);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return QString(); // unreachable now: not a credentials problem
    }
    redisSetTimeout(c, timeout);
    const QString address = QStringLiteral("%1:%2").arg(host).arg(port);
    QString why;
    if (!credentials.empty()) {
        QList<QByteArray> auth{QByteArrayLiteral("AUTH")};
        if (!credentials.user.isEmpty())
            auth << credentials.user;
        auth << credentials.password;
        const RedisReply r = commandNow(c, auth);
        if (r.isError())
            why = QStringLiteral("Redis at %1 refused the credentials: %2").arg(address, QString::fromUtf8(r.str));
    }
    if (why.isEmpty()) {
        const QString refused = authenticationError(commandNow(c, {QByteArrayLiteral("PING")}));
        if (!refused.isEmpty())
            why = QStringLiteral("Redis at %1 wants a password (%2): give it in the URL, --redis-password-file or "
                                 "SLUICE_REDIS_PASSWORD").arg(address, refused);
    }
    redisFree(c);
    return why;
}

std::pair<QString, quint16> splitHostPort(const QString &hostPort)
{
    return {hostPort.section(QLatin1Char(':'), 0, -2), hostPort.section(QLatin1Char(':'), -1).toUShort()};
}

QString authenticationError(const RedisReply &reply)
{
    if (!reply.isError())
        return QString();
    const QByteArray &e = reply.str;
    if (e.startsWith("WRONGPASS") || e.startsWith("NOAUTH") || e.contains("invalid password") || e.contains("invalid username-password"))
        return QString::fromUtf8(e);
    return QString();
}

} // namespace sluice
