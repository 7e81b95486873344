// SPDX-License-Identifier: Apache-2.0
// Redis at saturation, without HTTP in the way (issue 11): the real RedisWindowStore keeps many
// 4-key checks in flight (the bench registry's shape: GLOBAL, TENANT, MODEL_TIER shared by every
// check, USER_MODEL over 1000 users) so that Redis, not the client, is the bottleneck; prints
// checks/s, Redis process CPU per check (INFO cpu user+sys delta ÷ checks: scripts and network),
// script µs per check, checks per script call and bytes per logged request.
// Usage: sluice-bench-redis <port> [--seconds N] [--batch N] [--in-flight N]   (bench/redis-store.sh runs it)
#include "redis/rediswindowstore.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTimer>
#include <cstdio>
#include <hiredis/hiredis.h>

using namespace sluice;

namespace {
QByteArray info(redisContext *c, const char *section)
{
    auto *r = static_cast<redisReply *>(redisCommand(c, "INFO %s", section));
    QByteArray out = r && r->type == REDIS_REPLY_STRING ? QByteArray(r->str, static_cast<qsizetype>(r->len)) : QByteArray();
    if (r)
        freeReplyObject(r);
    return out;
}
double field(const QByteArray &text, const QByteArray &name)
{
    for (const QByteArray &line : text.split('\n')) {
        if (line.startsWith(name + ':'))
            return line.mid(name.size() + 1).trimmed().toDouble();
    }
    return 0;
}
// cmdstat_evalsha:calls=N,usec=U,…
std::pair<qint64, qint64> evalshaStats(redisContext *c)
{
    for (const QByteArray &line : info(c, "commandstats").split('\n')) {
        if (!line.startsWith("cmdstat_evalsha:"))
            continue;
        qint64 calls = 0, usec = 0;
        for (const QByteArray &kv : line.mid(16).split(',')) {
            if (kv.startsWith("calls="))
                calls = kv.mid(6).toLongLong();
            else if (kv.startsWith("usec="))
                usec = kv.mid(5).toLongLong();
        }
        return {calls, usec};
    }
    return {0, 0};
}
qint64 integerReply(redisContext *c, const char *fmt, const char *key)
{
    auto *r = static_cast<redisReply *>(redisCommand(c, fmt, key));
    const qint64 v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return v;
}
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: %s <redis port> [--seconds N] [--batch N] [--in-flight N]\n", argv[0]);
        return 2;
    }
    const quint16 port = args.at(1).toUShort();
    int seconds = 10, batch = 64, inFlight = 1024;
    for (int i = 2; i + 1 < args.size(); i += 2) {
        if (args[i] == QStringLiteral("--seconds"))
            seconds = args[i + 1].toInt();
        else if (args[i] == QStringLiteral("--batch"))
            batch = args[i + 1].toInt();
        else if (args[i] == QStringLiteral("--in-flight"))
            inFlight = args[i + 1].toInt();
    }
    redisContext *admin = redisConnect("127.0.0.1", port);
    if (!admin || admin->err) {
        std::fprintf(stderr, "cannot reach Redis on 127.0.0.1:%u\n", port);
        return 1;
    }
    RedisWindowStore store(QStringLiteral("127.0.0.1"), port, 0, 2000);
    store.setBatchLimit(batch);
    QElapsedTimer wait;
    wait.start();
    while (!store.connection().isConnected() && wait.elapsed() < 5000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    constexpr qint64 kHour = 3600LL * 1000000;
    std::vector<WindowBatch> shapes(1000);
    for (int u = 0; u < 1000; ++u) {
        shapes[static_cast<size_t>(u)].keys = {{QByteArrayLiteral("sluice:{global}"), kHour, 1'000'000'000'000},
                                               {QByteArrayLiteral("sluice:{tenant:enterprise_co}"), kHour, 500'000'000},
                                               {QByteArrayLiteral("sluice:{model_tier:premium}"), kHour, 1'000'000'000},
                                               {"sluice:{user_model:u" + QByteArray::number(u) + ":gpt-4o}", kHour, 100'000'000}};
    }
    qint64 done = 0, sent = 0, failed = 0;
    bool running = true;
    std::function<void()> next = [&] {
        const WindowBatch &b = shapes[static_cast<size_t>(sent++ % 1000)];
        store.check(b, [&](WindowOutcome o) {
            ++done;
            if (o.status != WindowOutcome::Status::Ok || !o.admitted)
                ++failed;
            if (running)
                next();
        });
    };
    // warm-up: a second of load before measuring
    for (int i = 0; i < inFlight; ++i)
        next();
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 1000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    const QByteArray cpu0 = info(admin, "cpu");
    const auto [calls0, usec0] = evalshaStats(admin);
    const qint64 done0 = done;
    t.restart();
    while (t.elapsed() < seconds * 1000LL)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    const qint64 elapsedMs = t.elapsed();
    const qint64 checks = done - done0;
    const QByteArray cpu1 = info(admin, "cpu");
    const auto [calls1, usec1] = evalshaStats(admin);
    running = false;
    wait.restart();
    while (done < sent && wait.elapsed() < 5000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    const double cpuUs = (field(cpu1, "used_cpu_user") + field(cpu1, "used_cpu_sys") - field(cpu0, "used_cpu_user")
                          - field(cpu0, "used_cpu_sys")) * 1e6;
    const qint64 entries = integerReply(admin, "LLEN %s", "sluice:{global}");
    const qint64 bytes = integerReply(admin, "MEMORY USAGE %s SAMPLES 0", "sluice:{global}");
    std::printf("redis-store batch=%d in_flight=%d checks_per_s=%.0f redis_process_cpu_us_per_check=%.2f script_us_per_check=%.2f "
                "checks_per_script_call=%.1f bytes_per_logged_request=%.1f refused_or_failed=%lld\n",
                batch, inFlight, checks * 1000.0 / static_cast<double>(elapsedMs), checks ? cpuUs / static_cast<double>(checks) : 0.0,
                checks ? static_cast<double>(usec1 - usec0) / static_cast<double>(checks) : 0.0,
                calls1 > calls0 ? static_cast<double>(checks) / static_cast<double>(calls1 - calls0) : 0.0,
                entries > 0 ? static_cast<double>(bytes) / static_cast<double>(entries) : 0.0, failed);
    redisFree(admin);
    return 0;
}
