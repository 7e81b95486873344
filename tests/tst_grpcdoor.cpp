// SPDX-License-Identifier: Apache-2.0
// Envoy's rate limit service over gRPC against the real sluice-server process, with a real gRPC
// client (libgrpc++, stubs from our .proto files) over a real socket: scenario B (10 × OK, then
// OVER_LIMIT with duration_until_reset), hits_addend 0 looks without charging, answers that match
// POST /rate-limit/check, conflicting entries, and 200 concurrent calls against a limit of 50.
#include "httpcall.h"
#include "services.h"

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

#include <QJsonDocument>
#include <QtTest>
#include <atomic>
#include <grpcpp/grpcpp.h>
#include <thread>

using namespace sluice;
namespace rls = envoy::service::ratelimit::v3;

namespace {
rls::RateLimitRequest request(const std::vector<std::pair<std::string, std::string>> &entries, int hitsAddendDescriptor = -1)
{
    rls::RateLimitRequest r;
    r.set_domain("edge");
    auto *d = r.add_descriptors();
    for (const auto &[k, v] : entries) {
        auto *e = d->add_entries();
        e->set_key(k);
        e->set_value(v);
    }
    if (hitsAddendDescriptor >= 0)
        d->mutable_hits_addend()->set_value(static_cast<quint64>(hitsAddendDescriptor));
    return r;
}

const std::vector<std::pair<std::string, std::string>> kScenarioB = {
    {"tenant", "enterprise_co"}, {"user", "ent-user-2"}, {"model", "gpt-4o"}};
} // namespace

class TestGrpcDoor : public QObject
{
    Q_OBJECT

private:
    test::ServerProcess m_server;
    quint16 m_grpcPort = 0;
    std::unique_ptr<rls::RateLimitService::Stub> m_stub;
    QNetworkAccessManager m_nam;

    grpc::Status call(const rls::RateLimitRequest &req, rls::RateLimitResponse *resp)
    {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        return m_stub->ShouldRateLimit(&ctx, req, resp);
    }

    static QByteArray header(const rls::RateLimitResponse &r, const char *key)
    {
        for (const auto &h : r.response_headers_to_add())
            if (h.key() == key)
                return QByteArray::fromStdString(h.value());
        return {};
    }

private Q_SLOTS:
    void init()
    {
        QString error;
        m_grpcPort = test::freePort();
        QVERIFY2(m_server.start({QStringLiteral("--grpc-port"), QString::number(m_grpcPort), QStringLiteral("--admin-token"),
                                 QStringLiteral("t")},
                                &error),
                 qPrintable(error));
        // Printed once the server has started, which may be a moment after /health first answers.
        QTRY_VERIFY_WITH_TIMEOUT(m_server.output().contains("Envoy rate limit service (gRPC)"), 5000);
        m_stub = rls::RateLimitService::NewStub(
            grpc::CreateChannel("127.0.0.1:" + std::to_string(m_grpcPort), grpc::InsecureChannelCredentials()));
    }

    void cleanup()
    {
        m_stub.reset();
        QVERIFY(m_server.stop());
    }

    void scenarioBThenOverLimit()
    {
        for (int i = 1; i <= 10; ++i) {
            rls::RateLimitResponse r;
            const grpc::Status s = call(request(kScenarioB), &r);
            QVERIFY2(s.ok(), s.error_message().c_str());
            QCOMPARE(r.overall_code(), rls::RateLimitResponse::OK);
            QCOMPARE(r.statuses_size(), 1);
            QCOMPARE(r.statuses(0).current_limit().requests_per_unit(), 10u);
            QCOMPARE(r.statuses(0).current_limit().unit(), rls::RateLimitResponse::RateLimit::HOUR);
            QCOMPARE(r.statuses(0).limit_remaining(), static_cast<quint32>(10 - i));
            QCOMPARE(header(r, "X-RateLimit-Remaining"), QByteArray::number(10 - i));
        }
        rls::RateLimitResponse r;
        QVERIFY(call(request(kScenarioB), &r).ok());
        QCOMPARE(r.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
        QCOMPARE(r.statuses(0).code(), rls::RateLimitResponse::OVER_LIMIT);
        QVERIFY(r.statuses(0).duration_until_reset().seconds() > 0);
        QCOMPARE(r.statuses(0).limit_remaining(), 0u);
        QVERIFY(header(r, "Retry-After").toInt() > 0);
        QCOMPARE(header(r, "RateLimit-Policy"), QByteArray("\"user_model\";q=10;w=3600"));
        QVERIFY(QString::fromStdString(r.statuses(0).current_limit().name()).startsWith(QStringLiteral("user ent-user-2 on model gpt-4o")));
    }

    // Issue 22 through this door: the demo pool gpu-main saturated by a push; free_co's tiny-model
    // (the free tier: sheddable) is OVER_LIMIT with when to come back, enterprise_co (critical) OK.
    void aSaturatedPoolShedsThroughTheDoor()
    {
        QCOMPARE(test::pushPoolLoad(m_nam, m_server.baseUrl(), "t", QStringLiteral("gpu-main"), R"({"queue":12})"), 202);
        QTRY_VERIFY_WITH_TIMEOUT(test::firstPoolSaturated(m_nam, m_server.baseUrl(), "t"), 5000);
        rls::RateLimitResponse shed;
        QVERIFY(call(request({{"tenant", "free_co"}, {"user", "free-user-1"}, {"model", "tiny-model"}}), &shed).ok());
        QCOMPARE(shed.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
        QCOMPARE(shed.statuses_size(), 1);
        QCOMPARE(shed.statuses(0).code(), rls::RateLimitResponse::OVER_LIMIT);
        QCOMPARE(shed.statuses(0).duration_until_reset().seconds(), 1);
        QCOMPARE(header(shed, "Retry-After"), QByteArray("1"));
        rls::RateLimitResponse critical;
        QVERIFY(call(request(kScenarioB), &critical).ok());
        QCOMPARE(critical.overall_code(), rls::RateLimitResponse::OK);
        QCOMPARE(critical.statuses(0).current_limit().requests_per_unit(), 10u);
    }

    void hitsAddendZeroLooksWithoutCharging()
    {
        const auto user = std::vector<std::pair<std::string, std::string>>{{"user", "looker"}, {"model", "gpt-4o"}};
        for (int i = 0; i < 5; ++i) {
            rls::RateLimitResponse r;
            QVERIFY(call(request(user), &r).ok());
        }
        for (int i = 0; i < 20; ++i) {
            rls::RateLimitResponse r;
            QVERIFY(call(request(user, 0), &r).ok());
            QCOMPARE(r.overall_code(), rls::RateLimitResponse::OK);
            QCOMPARE(r.statuses(0).limit_remaining(), 95u); // 5 used of 100, and looking charges nothing
        }
        // A descriptor-level hits_addend of 3 charges 3 (cost is the request's weight; requests policies count 1).
        rls::RateLimitResponse r;
        QVERIFY(call(request(user, 3), &r).ok());
        QCOMPARE(r.statuses(0).limit_remaining(), 94u);
        // The same identity through the HTTP check sees the same window.
        const test::HttpAnswer a = test::httpCall(m_nam, m_server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/check"))), "POST",
                                                  R"({"userId":"looker","modelId":"gpt-4o"})");
        QCOMPARE(a.status, 200);
        QCOMPARE(a.object().value(QStringLiteral("remaining")).toInt(), 93);
        QCOMPARE(a.object().value(QStringLiteral("limit")).toInt(), 100);
    }

    // Design §10 through the gRPC door: hits_addend is the token estimate, the reservation comes
    // back as a header, and the completion (over HTTP, from whoever saw the response end) frees
    // the room the actual count did not use.
    void tokensReservedThroughGrpcCompleteOverHttp()
    {
        const test::HttpAnswer created = test::httpCall(
            m_nam, m_server.baseUrl().resolved(QUrl(QStringLiteral("/admin/policies"))), "POST",
            R"({"scope":"TENANT","tenantId":"free_co","unit":"tokens","windowSeconds":60,"limit":1000})", "application/json",
            {{"Authorization", "Bearer t"}});
        QCOMPARE(created.status, 201);
        const auto caller = std::vector<std::pair<std::string, std::string>>{
            {"tenant", "free_co"}, {"user", "free-user-1"}, {"model", "tiny-model"}};
        rls::RateLimitResponse first;
        QVERIFY(call(request(caller, 600), &first).ok());
        QCOMPARE(first.overall_code(), rls::RateLimitResponse::OK);
        const QByteArray id = header(first, "X-Sluice-Reservation");
        QVERIFY(!id.isEmpty());
        QCOMPARE(header(first, "x-ratelimit-remaining-tokens"), QByteArray("400"));
        rls::RateLimitResponse refused;
        QVERIFY(call(request(caller, 600), &refused).ok());
        QCOMPARE(refused.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
        QVERIFY(header(refused, "X-Sluice-Reservation").isEmpty());
        const test::HttpAnswer done = test::httpCall(m_nam, m_server.baseUrl().resolved(QUrl(QStringLiteral("/rate-limit/complete"))),
                                                     "POST", "{\"reservationId\":\"" + id + "\",\"tokens\":100}");
        QCOMPARE(done.status, 200);
        rls::RateLimitResponse again;
        QVERIFY(call(request(caller, 600), &again).ok());
        QCOMPARE(again.overall_code(), rls::RateLimitResponse::OK);
        QCOMPARE(header(again, "x-ratelimit-remaining-tokens"), QByteArray("300"));
        // Its checks have their own latency histogram.
        const QByteArray metrics = test::httpCall(m_nam, m_server.baseUrl().resolved(QUrl(QStringLiteral("/metrics"))), "GET").body;
        QVERIFY2(metrics.contains("sluice_check_latency_seconds_count{door=\"grpc\"} 3\n"), metrics.constData());
    }

    void badDescriptorsAreInvalidArguments()
    {
        rls::RateLimitResponse r;
        grpc::Status s = call(request({{"user", "a"}, {"user", "b"}, {"model", "gpt-4o"}}), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        QVERIFY2(s.error_message().find("two different users") != std::string::npos, s.error_message().c_str());
        s = call(request({{"model", "gpt-4o"}, {"generic_key", "x"}}), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        QVERIFY2(s.error_message() == "user is required", s.error_message().c_str());
        s = call(request({{"user", "a"}, {"model", "gpt-4o"}, {"tier", "free"}}), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT); // gpt-4o is premium
        s = call(request({{"user", "a"}, {"model", "m"}, {"api_key", "sk_bogus"}}), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
        s = call(request({{"user", "free-user-1"}, {"model", "gpt-4o"}, {"tenant", "enterprise_co"}}), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        s = call(rls::RateLimitRequest(), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        // Entries spread over several descriptors form one identity; other keys are ignored.
        rls::RateLimitRequest spread;
        for (const auto &[k, v] : std::vector<std::pair<std::string, std::string>>{{"user", "spread"}, {"generic_key", "g"}, {"model", "gpt-4o"}}) {
            auto *e = spread.add_descriptors()->add_entries();
            e->set_key(k);
            e->set_value(v);
        }
        QVERIFY(call(spread, &r).ok());
        QCOMPARE(r.statuses_size(), 3);
        QCOMPARE(r.statuses(2).limit_remaining(), 99u);
    }

    // Issue 20, defect 7: the door's input is bounded like the HTTP door's; refusals are counted
    // in the same metric as the other doors'.
    void inputIsBounded()
    {
        rls::RateLimitResponse r;
        rls::RateLimitRequest many = request({{"user", "a"}, {"model", "gpt-4o"}});
        for (int i = 0; i < 64; ++i)
            many.add_descriptors()->add_entries()->set_key("generic_key");
        grpc::Status s = call(many, &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        QVERIFY2(s.error_message() == "more than 64 descriptors", s.error_message().c_str());
        std::vector<std::pair<std::string, std::string>> wide = {{"user", "a"}, {"model", "gpt-4o"}};
        for (int i = 0; i < 15; ++i)
            wide.push_back({"generic_key", "g"});
        s = call(request(wide), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        QVERIFY2(s.error_message() == "a descriptor has more than 16 entries", s.error_message().c_str());
        s = call(request({{"user", "a"}, {"model", "gpt-4o"}, {"remote_address", std::string(1025, 'x')}}), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        QVERIFY2(s.error_message() == "a descriptor entry's key or value is longer than 1024 bytes", s.error_message().c_str());
        s = call(request({{"user", "u\xed\xa0\x80"}, {"model", "gpt-4o"}}), &r); // not UTF-8 (defect 5)
        QVERIFY(!s.ok());
        s = call(request({{"user", std::string(129, 'u')}, {"model", "gpt-4o"}}), &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        QVERIFY2(s.error_message() == "user is longer than 128 characters", s.error_message().c_str());
        rls::RateLimitRequest big = request({{"user", "a"}, {"model", "gpt-4o"}});
        big.set_domain(std::string(70 * 1024, 'd'));
        s = call(big, &r);
        QCOMPARE(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED); // over 64 KiB: gRPC's own refusal
        // Within every bound, at the bound: fine.
        std::vector<std::pair<std::string, std::string>> full = {{"user", std::string(128, 'u')}, {"model", "gpt-4o"}};
        for (int i = 0; i < 14; ++i)
            full.push_back({"generic_key", std::string(1024, 'g')});
        QVERIFY(call(request(full), &r).ok());
        const QByteArray metrics = test::httpCall(m_nam, m_server.baseUrl().resolved(QUrl(QStringLiteral("/metrics"))), "GET").body;
        QVERIFY2(metrics.contains("sluice_rejected_requests_total{status=\"400\"} 4\n"), metrics.constData());
    }

    // Exactness through the door: 200 calls at once against a limit of 50 admit exactly 50.
    void twoHundredConcurrentCallsAdmitExactlyFifty()
    {
        const QByteArray policy = R"({"scope":"USER_MODEL","userId":"ent-user-1","modelId":"gpt-4o-mini","windowSeconds":3600,"limit":50})";
        const test::HttpAnswer created = test::httpCall(m_nam, m_server.baseUrl().resolved(QUrl(QStringLiteral("/admin/policies"))), "POST",
                                                        policy, "application/json", {{"Authorization", "Bearer t"}});
        QCOMPARE(created.status, 201);
        std::atomic<int> ok{0}, over{0}, failed{0};
        std::atomic<int> ready{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 200; ++t) {
            threads.emplace_back([&] {
                auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(m_grpcPort), grpc::InsecureChannelCredentials());
                auto stub = rls::RateLimitService::NewStub(channel);
                channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
                ++ready;
                while (ready.load() < 200)
                    std::this_thread::yield();
                grpc::ClientContext ctx;
                ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
                rls::RateLimitResponse r;
                const grpc::Status s = stub->ShouldRateLimit(&ctx, request({{"tenant", "enterprise_co"}, {"user", "ent-user-1"}, {"model", "gpt-4o-mini"}}), &r);
                if (!s.ok())
                    ++failed;
                else if (r.overall_code() == rls::RateLimitResponse::OK)
                    ++ok;
                else
                    ++over;
            });
        }
        for (auto &t : threads)
            t.join();
        QCOMPARE(failed.load(), 0);
        QCOMPARE(ok.load(), 50);
        QCOMPARE(over.load(), 150);
    }
};

QTEST_GUILESS_MAIN(TestGrpcDoor)
#include "tst_grpcdoor.moc"
