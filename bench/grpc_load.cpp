// SPDX-License-Identifier: Apache-2.0
// A small bounded load tool for the gRPC door (ghz is not in Debian): `concurrency` calls of
// ShouldRateLimit kept in flight on one channel through the async API, for `seconds`, cycling over
// 1000 users; prints calls per second and latency percentiles.
// Run: build/bench/sluice-grpc-load <port> [concurrency=16] [seconds=10]
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <grpcpp/grpcpp.h>
#include <memory>
#include <string>
#include <vector>

namespace rls = envoy::service::ratelimit::v3;
using Clock = std::chrono::steady_clock;

namespace {
struct Call
{
    grpc::ClientContext context;
    rls::RateLimitResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<rls::RateLimitResponse>> reader;
    Clock::time_point started;
};

rls::RateLimitRequest requestFor(int n)
{
    rls::RateLimitRequest r;
    r.set_domain("bench");
    auto *d = r.add_descriptors();
    for (const auto &[k, v] : {std::pair<std::string, std::string>{"tenant", "enterprise_co"},
                               {"user", "u" + std::to_string(n % 1000)}, {"model", "gpt-4o"}}) {
        auto *e = d->add_entries();
        e->set_key(k);
        e->set_value(v);
    }
    return r;
}
} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <port> [concurrency] [seconds]\n", argv[0]);
        return 2;
    }
    const std::string target = std::string("127.0.0.1:") + argv[1];
    const int concurrency = argc > 2 ? std::max(1, atoi(argv[2])) : 16;
    const int seconds = argc > 3 ? std::max(1, atoi(argv[3])) : 10;
    auto stub = rls::RateLimitService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    grpc::CompletionQueue cq;
    int sent = 0;
    auto start = [&](int n) {
        auto *call = new Call;
        call->started = Clock::now();
        call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        call->reader = stub->AsyncShouldRateLimit(&call->context, requestFor(n), &cq);
        call->reader->Finish(&call->response, &call->status, call);
    };
    const auto begin = Clock::now();
    const auto end = begin + std::chrono::seconds(seconds);
    for (int i = 0; i < concurrency; ++i)
        start(sent++);
    std::vector<double> latenciesMs;
    latenciesMs.reserve(1 << 20);
    long ok = 0, over = 0, errors = 0;
    int inFlight = concurrency;
    void *tag = nullptr;
    bool good = false;
    while (inFlight > 0 && cq.Next(&tag, &good)) {
        std::unique_ptr<Call> call(static_cast<Call *>(tag));
        --inFlight;
        latenciesMs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - call->started).count());
        if (!good || !call->status.ok())
            ++errors;
        else if (call->response.overall_code() == rls::RateLimitResponse::OK)
            ++ok;
        else
            ++over;
        if (Clock::now() < end) {
            start(sent++);
            ++inFlight;
        }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
    std::sort(latenciesMs.begin(), latenciesMs.end());
    auto pct = [&](double p) { return latenciesMs.empty() ? 0.0 : latenciesMs[std::min(latenciesMs.size() - 1, size_t(p * latenciesMs.size()))]; };
    std::printf("door=grpc checks_per_s=%.0f p50_ms=%.3f p99_ms=%.3f ok=%ld over_limit=%ld errors=%ld concurrency=%d\n",
                double(latenciesMs.size()) / elapsed, pct(0.50), pct(0.99), ok, over, errors, concurrency);
    cq.Shutdown();
    return errors ? 1 : 0;
}
