// SPDX-License-Identifier: Apache-2.0
// The in-process engine: resolve the demo policies for a request and check them against the
// memory store, exactly what one HTTP check costs minus HTTP and JSON. Limits are scaled up so
// every check is admitted and writes every key (the expensive path), as in the HTTP benchmark.
// Run: build/bench/sluice-bench-engine   (figures per thread count; items_per_second = checks/s)
//      build/bench/sluice-bench-engine --iterations N --benchmark_filter=fixed   (exactly N each)
#include "engine/checkservice.h"
#include "memory/memorywindowstore.h"
#include "engine/registryjson.h"

#include <benchmark/benchmark.h>
#include <string>

using namespace sluice;

namespace {

RegistryData scaledDemoData()
{
    RegistryData data = builtInDemoRegistry();
    for (PolicyDto &p : data.policies)
        p.limit *= 1000000;
    return data;
}

std::shared_ptr<SnapshotHolder> holderOf(RegistryData data)
{
    return std::make_shared<SnapshotHolder>(std::make_shared<const PolicySnapshot>(std::move(data)));
}

std::shared_ptr<SnapshotHolder> scaledDemo() { return holderOf(scaledDemoData()); }

std::vector<CheckRequest> requests()
{
    std::vector<CheckRequest> out;
    for (int i = 0; i < 1000; ++i) {
        CheckRequest r;
        r.userId = QStringLiteral("u%1").arg(i);
        r.modelId = QStringLiteral("gpt-4o");
        r.tenantId = QStringLiteral("enterprise_co");
        r.modelTier = QStringLiteral("premium");
        out.push_back(r);
    }
    return out;
}

struct Shared
{
    std::shared_ptr<SnapshotHolder> snapshots = scaledDemo();
    MemoryWindowStore store;
    std::vector<CheckRequest> reqs = requests();
};

// Each benchmark gets its own store, so one benchmark's logs do not slow the next one down
// (windows are an hour long: logs only grow during a run).
template <int Which>
Shared &shared()
{
    static Shared s;
    return s;
}

// Resolve + memory store + decision, one request after another (what a server thread does).
void BM_ResolveCheckDecide(benchmark::State &state)
{
    Shared &s = shared<1>();
    size_t i = static_cast<size_t>(state.thread_index()) * 7;
    SnapshotHolder::Reader reader(*s.snapshots);
    for (auto _ : state) {
        const CheckRequest &r = s.reqs[i++ % s.reqs.size()];
        const ResolvedCheck resolved = PolicyResolver::resolve(reader.get(), r);
        const WindowOutcome outcome = s.store.checkNow(resolved.batch());
        const Decision d = CheckService::decide(resolved, outcome);
        benchmark::DoNotOptimize(d.allowed);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveCheckDecide)->Threads(1)->Threads(2)->UseRealTime();

// Resolve + memory store only: the rate-limit decision itself, without building the answer.
void BM_ResolveAndCheck(benchmark::State &state)
{
    Shared &s = shared<2>();
    size_t i = static_cast<size_t>(state.thread_index()) * 7;
    SnapshotHolder::Reader reader(*s.snapshots);
    for (auto _ : state) {
        const CheckRequest &r = s.reqs[i++ % s.reqs.size()];
        const ResolvedCheck resolved = PolicyResolver::resolve(reader.get(), r);
        const WindowOutcome outcome = s.store.checkNow(resolved.batch());
        benchmark::DoNotOptimize(outcome.admitted);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveAndCheck)->Threads(1)->Threads(2)->UseRealTime();

// The demo policies plus a tokens policy (per tenant, 60 s) and a concurrency policy (per model)
// applicable next to them: every check reserves, and completes at once with an actual count.
std::shared_ptr<SnapshotHolder> scaledDemoWithUnits()
{
    RegistryData data = scaledDemoData();
    PolicyDto tokens;
    tokens.id = 100;
    tokens.scope = Scope::Tenant;
    tokens.tenantId = QStringLiteral("enterprise_co");
    tokens.unit = Unit::Tokens;
    tokens.windowSeconds = 60;
    tokens.limit = 1'000'000'000'000;
    PolicyDto streams;
    streams.id = 101;
    streams.scope = Scope::Model;
    streams.modelId = QStringLiteral("gpt-4o");
    streams.unit = Unit::Concurrent;
    streams.windowSeconds = 0;
    streams.limit = 1'000'000'000;
    data.policies << tokens << streams;
    return holderOf(std::move(data));
}

void BM_CheckAndCompleteWithUnits(benchmark::State &state)
{
    static std::shared_ptr<SnapshotHolder> snapshots = scaledDemoWithUnits();
    static MemoryWindowStore store;
    static std::vector<CheckRequest> reqs = [] {
        std::vector<CheckRequest> out = requests();
        for (size_t i = 0; i < out.size(); ++i)
            out[i].cost = 500 + static_cast<qint64>(i % 1000);
        return out;
    }();
    size_t i = static_cast<size_t>(state.thread_index()) * 7;
    SnapshotHolder::Reader reader(*snapshots);
    for (auto _ : state) {
        const CheckRequest &r = reqs[i++ % reqs.size()];
        ResolvedCheck resolved = PolicyResolver::resolve(reader.get(), r);
        const WindowOutcome outcome = store.checkNow(resolved.batch());
        const Decision d = CheckService::decide(resolved, outcome);
        store.completeNow(d.reservationId, r.cost / 2);
        benchmark::DoNotOptimize(d.allowed);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["policies"] = benchmark::Counter(static_cast<double>(PolicyResolver::resolve(reader.get(), reqs[0]).applied.size()),
                                                   benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_CheckAndCompleteWithUnits)->Threads(1)->Threads(2)->UseRealTime();

// The demo with every policy a token bucket (GCRA: one timestamp per key instead of a log) and a
// shadow policy beside them: the same checks, decided on O(1) state.
void BM_ResolveCheckDecideBuckets(benchmark::State &state)
{
    static std::shared_ptr<SnapshotHolder> snapshots = [] {
        RegistryData data = scaledDemoData();
        for (PolicyDto &p : data.policies) {
            if (p.unit != Unit::Concurrent) {
                p.algorithm = Algorithm::TokenBucket;
                p.burst = p.limit;
            }
        }
        PolicyDto shadow;
        shadow.id = 102;
        shadow.scope = Scope::Model;
        shadow.modelId = QStringLiteral("gpt-4o");
        shadow.windowSeconds = 60;
        shadow.limit = 10; // refuses almost everything: it would, it never does
        shadow.shadow = true;
        data.policies << shadow;
        return holderOf(std::move(data));
    }();
    static MemoryWindowStore store;
    static std::vector<CheckRequest> reqs = requests();
    size_t i = static_cast<size_t>(state.thread_index()) * 7;
    SnapshotHolder::Reader reader(*snapshots);
    for (auto _ : state) {
        const CheckRequest &r = reqs[i++ % reqs.size()];
        const ResolvedCheck resolved = PolicyResolver::resolve(reader.get(), r);
        const Decision d = CheckService::decide(resolved, store.checkNow(resolved.batch()));
        benchmark::DoNotOptimize(d.allowed);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveCheckDecideBuckets)->Threads(1)->Threads(2)->UseRealTime();

// The answer's JSON, for scale.
void BM_DecisionToJson(benchmark::State &state)
{
    Shared &s = shared<3>();
    const ResolvedCheck resolved = PolicyResolver::resolve(s.snapshots->current(), s.reqs[0]);
    const Decision d = CheckService::decide(resolved, s.store.checkNow(resolved.batch()));
    for (auto _ : state)
        benchmark::DoNotOptimize(d.toJson());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecisionToJson);

} // namespace

// `--iterations N` (first argument): every benchmark on one thread runs exactly N iterations, so
// that instruction counts (valgrind --tool=callgrind) compare two builds exactly (the logs grow
// during a run: a time-based run's cost per check depends on how long it ran).
int main(int argc, char **argv)
{
    if (argc > 2 && std::string(argv[1]) == "--iterations") {
        const benchmark::IterationCount n = std::stoll(argv[2]);
        benchmark::RegisterBenchmark("fixed/ResolveCheckDecide", BM_ResolveCheckDecide)->Iterations(n);
        benchmark::RegisterBenchmark("fixed/ResolveAndCheck", BM_ResolveAndCheck)->Iterations(n);
        benchmark::RegisterBenchmark("fixed/CheckAndCompleteWithUnits", BM_CheckAndCompleteWithUnits)->Iterations(n);
        benchmark::RegisterBenchmark("fixed/ResolveCheckDecideBuckets", BM_ResolveCheckDecideBuckets)->Iterations(n);
        argv[2] = argv[0];
        argc -= 2;
        argv += 2;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
