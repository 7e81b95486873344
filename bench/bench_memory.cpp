// SPDX-License-Identifier: Apache-2.0
// Bytes of process memory per window key in the memory store: N distinct callers, one entry each
// (the shape of a flood of one-off user ids), measured as RSS growth and as bytes the allocator
// hands out (mallinfo2), then the same keys with a few entries each, then the key bound.
// Run: build/bench/sluice-bench-memory [keys]   (default 200000)
#include "engine/clock.h"
#include "windowkey.h"
#include "memory/memorywindowstore.h"

#include <QCoreApplication>
#include <QFile>
#include <cstdio>
#include <malloc.h>
#include <unistd.h>

using namespace sluice;

namespace {
qint64 rssBytes()
{
    QFile f(QStringLiteral("/proc/self/statm"));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> fields = f.readAll().split(' ');
    return fields.size() > 1 ? fields[1].toLongLong() * sysconf(_SC_PAGESIZE) : 0;
}
qint64 heapBytes() { return static_cast<qint64>(mallinfo2().uordblks); }

WindowBatch userBatch(int i)
{
    WindowBatch b;
    b.keys.push_back({windowKey(Scope::UserModel, QStringLiteral("user-%1").arg(i), QStringLiteral("gpt-4o")), 3600'000'000LL, 100});
    return b;
}
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const int n = argc > 1 ? std::max(1000, atoi(argv[1])) : 200'000;
    auto clock = std::make_shared<ManualClock>();
    MemoryWindowStore store(clock);
    // Warm up the allocator and the code paths, then measure from a settled heap.
    for (int i = 0; i < 1000; ++i)
        store.checkNow(userBatch(-1 - i));
    malloc_trim(0);
    const qint64 rss0 = rssBytes(), heap0 = heapBytes();
    for (int i = 0; i < n; ++i)
        store.checkNow(userBatch(i));
    const qint64 rss1 = rssBytes(), heap1 = heapBytes();
    std::printf("memory-store keys=%d entries_per_key=1 rss_bytes_per_key=%.1f heap_bytes_per_key=%.1f (key length %lld)\n", n,
                double(rss1 - rss0) / n, double(heap1 - heap0) / n, static_cast<long long>(userBatch(0).keys[0].key.size()));
    for (int round = 0; round < 3; ++round) {
        clock->advanceUs(1000);
        for (int i = 0; i < n; ++i)
            store.checkNow(userBatch(i));
    }
    const qint64 rss2 = rssBytes(), heap2 = heapBytes();
    std::printf("memory-store keys=%d entries_per_key=4 rss_bytes_per_key=%.1f heap_bytes_per_key=%.1f\n", n,
                double(rss2 - rss0) / n, double(heap2 - heap0) / n);
    std::printf("memory-store default --max-keys=%lld → about %.2f GiB of one-entry keys\n",
                static_cast<long long>(MemoryWindowStore::kDefaultMaxKeys),
                double(rss1 - rss0) / n * MemoryWindowStore::kDefaultMaxKeys / (1024.0 * 1024 * 1024));
    return 0;
}
