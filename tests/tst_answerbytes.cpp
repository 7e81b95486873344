// SPDX-License-Identifier: Apache-2.0
// The bytes of an answer, pinned: a check's JSON body, its rate-limit header lines and the whole
// HTTP answer for fixed decisions, compared byte for byte with what the server wrote before the
// hot path was rewritten for speed (issue 24: "answers byte-identical for the same decisions").
// Also: the check body's fast reader gives exactly the general reader's answer (or error) for
// every body in a table of look-alikes.
#include "checkrequest.h"
#include "decision.h"
#include "http/httpresponder.h"

#include <QtTest>

using namespace sluice;

namespace {

PolicyUsage usage(Scope scope, const QString &label, const QByteArray &key, qint64 limit, qint64 count, qint64 window,
                  Unit unit = Unit::Requests, Algorithm algorithm = Algorithm::SlidingLog)
{
    PolicyUsage u;
    u.scope = scope;
    u.label = label;
    u.key = key;
    u.limit = limit;
    u.count = count;
    u.windowSeconds = window;
    u.unit = unit;
    u.algorithm = algorithm;
    u.remaining = std::max<qint64>(0, limit - count);
    u.resetSeconds = window;
    return u;
}

// The benchmark's answer: four request policies, all admitted.
Decision admitted()
{
    Decision d;
    d.allowed = true;
    d.modelTier = QStringLiteral("premium");
    d.source = QStringLiteral("memory");
    d.policies = {usage(Scope::UserModel, QStringLiteral("user u1 on model gpt-4o (default)"), "sluice:{user_model:u1:gpt-4o}", 100000000, 1, 3600),
                  usage(Scope::Tenant, QStringLiteral("tenant enterprise_co"), "sluice:{tenant:enterprise_co}", 500000000, 1, 3600),
                  usage(Scope::ModelTier, QStringLiteral("tier premium"), "sluice:{model_tier:premium}", 1000000000, 1, 3600),
                  usage(Scope::Global, QStringLiteral("global"), "sluice:{global}", 1000000000000, 1, 3600)};
    d.primary = d.policies.front();
    d.limit = d.primary->limit;
    d.count = 1;
    d.remaining = d.primary->remaining;
    d.windowSeconds = 3600;
    d.resetSeconds = 3600;
    return d;
}

// A refusal with every kind of field: tokens, a bucket, a lease, a shadow policy, text that needs
// escaping and characters beyond ASCII.
Decision refused()
{
    Decision d;
    d.allowed = false;
    d.modelTier = QString::fromUtf8("tïer \"β\"");
    d.source = QStringLiteral("redis-cluster");
    PolicyUsage tokens = usage(Scope::Tenant, QString::fromUtf8("tenant «日本» \\ \t"), "sluice:{tenant:%E6%97%A5}:tokens", 1000, 1200, 60, Unit::Tokens);
    tokens.violated = true;
    tokens.remaining = 0;
    tokens.resetSeconds = 37;
    PolicyUsage bucket = usage(Scope::UserModel, QStringLiteral("user a on model b"), "sluice:{user_model:a:b}:bucket", 10, 3, 1,
                               Unit::Requests, Algorithm::TokenBucket);
    bucket.remaining = 7;
    bucket.resetSeconds = 1;
    PolicyUsage leases = usage(Scope::ApiKey, QStringLiteral("api key 7"), "sluice:{api_key:7}:concurrent", 2, 3, 0, Unit::Concurrent);
    leases.violated = true;
    leases.remaining = 0;
    leases.resetSeconds = 599;
    PolicyUsage shadow = usage(Scope::Global, QString::fromUtf8("global 🚀\n\x01"), "sluice:{global}", 5, 9, 3725);
    shadow.shadow = true;
    shadow.violated = true;
    shadow.remaining = 0;
    d.policies = {bucket, leases, tokens, shadow};
    d.primary = tokens;
    d.limit = 1000;
    d.count = 1200;
    d.remaining = 0;
    d.windowSeconds = 60;
    d.resetSeconds = 37;
    d.retryAfterSeconds = 37;
    d.cause = QString::fromUtf8("tenant «日本» over its tokens: \"1200 > 1000\"");
    return d;
}

// Admitted with a reservation (a lease and tokens): the ids the caller completes with.
Decision reserved()
{
    Decision d = admitted();
    PolicyUsage lease = usage(Scope::Tenant, QStringLiteral("tenant t"), "sluice:{tenant:t}:concurrent", 4, 1, 0, Unit::Concurrent);
    lease.resetSeconds = 600;
    d.policies.prepend(lease);
    d.reservationId = QStringLiteral("r1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7");
    d.leaseExpiresInSeconds = 600;
    return d;
}

// A model nobody governs: no policy, no tier.
Decision ungoverned()
{
    Decision d;
    d.allowed = true;
    d.source = QStringLiteral("memory");
    return d;
}

} // namespace

// Written by the server before issue 24 rewrote the JSON writer and the check body reader.
const char ADMITTED_JSON[] =
    "{\"allowed\":true,\"limit\":100000000,\"count\":1,\"remaining\":99999999,\"windowSeconds\":3600,"
    "\"resetSeconds\":3600,\"retryAfterSeconds\":0,\"modelTier\":\"premium\",\"cause\":null,\"source\""
    ":\"memory\",\"algorithm\":\"sliding_log\",\"primary\":{\"scope\":\"USER_MODEL\",\"label\":\"user"
    " u1 on model gpt-4o (default)\",\"key\":\"sluice:{user_model:u1:gpt-4o}\",\"limit\":100000000,\""
    "count\":1,\"windowSeconds\":3600,\"unit\":\"requests\",\"algorithm\":\"sliding_log\"},\"policies"
    "\":[{\"scope\":\"USER_MODEL\",\"label\":\"user u1 on model gpt-4o (default)\",\"key\":\"sluice:{"
    "user_model:u1:gpt-4o}\",\"limit\":100000000,\"count\":1,\"windowSeconds\":3600,\"unit\":\"reques"
    "ts\",\"algorithm\":\"sliding_log\",\"remaining\":99999999,\"resetSeconds\":3600,\"violated\":fal"
    "se},{\"scope\":\"TENANT\",\"label\":\"tenant enterprise_co\",\"key\":\"sluice:{tenant:enterprise"
    "_co}\",\"limit\":500000000,\"count\":1,\"windowSeconds\":3600,\"unit\":\"requests\",\"algorithm\""
    ":\"sliding_log\",\"remaining\":499999999,\"resetSeconds\":3600,\"violated\":false},{\"scope\":\""
    "MODEL_TIER\",\"label\":\"tier premium\",\"key\":\"sluice:{model_tier:premium}\",\"limit\":100000"
    "0000,\"count\":1,\"windowSeconds\":3600,\"unit\":\"requests\",\"algorithm\":\"sliding_log\",\"re"
    "maining\":999999999,\"resetSeconds\":3600,\"violated\":false},{\"scope\":\"GLOBAL\",\"label\":\""
    "global\",\"key\":\"sluice:{global}\",\"limit\":1000000000000,\"count\":1,\"windowSeconds\":3600,"
    "\"unit\":\"requests\",\"algorithm\":\"sliding_log\",\"remaining\":999999999999,\"resetSeconds\":"
    "3600,\"violated\":false}]}";
const char ADMITTED_HEADERS[] =
    "RateLimit-Policy: \"user_model\";q=100000000;w=3600\r\n"
    "RateLimit: \"user_model\";r=99999999;t=3600\r\n"
    "X-RateLimit-Limit: 100000000\r\n"
    "X-RateLimit-Remaining: 99999999\r\n"
    "X-RateLimit-Reset: 1796479497\r\n"
    "X-RateLimit-Strategy: sliding_window\r\n"
    "x-ratelimit-limit-requests: 100000000\r\n"
    "x-ratelimit-remaining-requests: 99999999\r\n"
    "x-ratelimit-reset-requests: 1h0m0s\r\n";
const char REFUSED_JSON[] =
    "{\"allowed\":false,\"limit\":1000,\"count\":1200,\"remaining\":0,\"windowSeconds\":60,\"resetSec"
    "onds\":37,\"retryAfterSeconds\":37,\"modelTier\":\"t\303\257er \\\"\316\262\\\"\",\"cause\":\"te"
    "nant \302\253\346\227\245\346\234\254\302\273 over its tokens: \\\"1200 > 1000\\\"\",\"source\":"
    "\"redis-cluster\",\"algorithm\":\"sliding_log\",\"primary\":{\"scope\":\"TENANT\",\"label\":\"te"
    "nant \302\253\346\227\245\346\234\254\302\273 \\\\ \\t\",\"key\":\"sluice:{tenant:%E6%97%A5}:tok"
    "ens\",\"limit\":1000,\"count\":1200,\"windowSeconds\":60,\"unit\":\"tokens\",\"algorithm\":\"sli"
    "ding_log\"},\"policies\":[{\"scope\":\"USER_MODEL\",\"label\":\"user a on model b\",\"key\":\"sl"
    "uice:{user_model:a:b}:bucket\",\"limit\":10,\"count\":3,\"windowSeconds\":1,\"unit\":\"requests\""
    ",\"algorithm\":\"token_bucket\",\"remaining\":7,\"resetSeconds\":1,\"violated\":false},{\"scope\""
    ":\"API_KEY\",\"label\":\"api key 7\",\"key\":\"sluice:{api_key:7}:concurrent\",\"limit\":2,\"cou"
    "nt\":3,\"windowSeconds\":0,\"unit\":\"concurrent\",\"algorithm\":\"sliding_log\",\"remaining\":0"
    ",\"resetSeconds\":599,\"violated\":true},{\"scope\":\"TENANT\",\"label\":\"tenant \302\253\346\227"
    "\245\346\234\254\302\273 \\\\ \\t\",\"key\":\"sluice:{tenant:%E6%97%A5}:tokens\",\"limit\":1000,"
    "\"count\":1200,\"windowSeconds\":60,\"unit\":\"tokens\",\"algorithm\":\"sliding_log\",\"remainin"
    "g\":0,\"resetSeconds\":37,\"violated\":true},{\"scope\":\"GLOBAL\",\"label\":\"global \360\237\232"
    "\200\\n\\u0001\",\"key\":\"sluice:{global}\",\"limit\":5,\"count\":9,\"windowSeconds\":3725,\"un"
    "it\":\"requests\",\"algorithm\":\"sliding_log\",\"shadow\":true,\"remaining\":0,\"resetSeconds\""
    ":3725,\"violated\":true}]}";
const char REFUSED_HEADERS[] =
    "RateLimit-Policy: \"tenant\";q=1000;w=60\r\n"
    "RateLimit: \"tenant\";r=0;t=37\r\n"
    "X-RateLimit-Limit: 1000\r\n"
    "X-RateLimit-Remaining: 0\r\n"
    "X-RateLimit-Reset: 1796475934\r\n"
    "X-RateLimit-Strategy: sliding_window\r\n"
    "x-ratelimit-limit-requests: 10\r\n"
    "x-ratelimit-remaining-requests: 7\r\n"
    "x-ratelimit-reset-requests: 1s\r\n"
    "x-ratelimit-limit-tokens: 1000\r\n"
    "x-ratelimit-remaining-tokens: 0\r\n"
    "x-ratelimit-reset-tokens: 37s\r\n"
    "Retry-After: 37\r\n";
const char RESERVED_JSON[] =
    "{\"allowed\":true,\"limit\":100000000,\"count\":1,\"remaining\":99999999,\"windowSeconds\":3600,"
    "\"resetSeconds\":3600,\"retryAfterSeconds\":0,\"modelTier\":\"premium\",\"cause\":null,\"source\""
    ":\"memory\",\"algorithm\":\"sliding_log\",\"primary\":{\"scope\":\"USER_MODEL\",\"label\":\"user"
    " u1 on model gpt-4o (default)\",\"key\":\"sluice:{user_model:u1:gpt-4o}\",\"limit\":100000000,\""
    "count\":1,\"windowSeconds\":3600,\"unit\":\"requests\",\"algorithm\":\"sliding_log\"},\"policies"
    "\":[{\"scope\":\"TENANT\",\"label\":\"tenant t\",\"key\":\"sluice:{tenant:t}:concurrent\",\"limi"
    "t\":4,\"count\":1,\"windowSeconds\":0,\"unit\":\"concurrent\",\"algorithm\":\"sliding_log\",\"re"
    "maining\":3,\"resetSeconds\":600,\"violated\":false},{\"scope\":\"USER_MODEL\",\"label\":\"user "
    "u1 on model gpt-4o (default)\",\"key\":\"sluice:{user_model:u1:gpt-4o}\",\"limit\":100000000,\"c"
    "ount\":1,\"windowSeconds\":3600,\"unit\":\"requests\",\"algorithm\":\"sliding_log\",\"remaining\""
    ":99999999,\"resetSeconds\":3600,\"violated\":false},{\"scope\":\"TENANT\",\"label\":\"tenant ent"
    "erprise_co\",\"key\":\"sluice:{tenant:enterprise_co}\",\"limit\":500000000,\"count\":1,\"windowS"
    "econds\":3600,\"unit\":\"requests\",\"algorithm\":\"sliding_log\",\"remaining\":499999999,\"rese"
    "tSeconds\":3600,\"violated\":false},{\"scope\":\"MODEL_TIER\",\"label\":\"tier premium\",\"key\""
    ":\"sluice:{model_tier:premium}\",\"limit\":1000000000,\"count\":1,\"windowSeconds\":3600,\"unit\""
    ":\"requests\",\"algorithm\":\"sliding_log\",\"remaining\":999999999,\"resetSeconds\":3600,\"viol"
    "ated\":false},{\"scope\":\"GLOBAL\",\"label\":\"global\",\"key\":\"sluice:{global}\",\"limit\":1"
    "000000000000,\"count\":1,\"windowSeconds\":3600,\"unit\":\"requests\",\"algorithm\":\"sliding_lo"
    "g\",\"remaining\":999999999999,\"resetSeconds\":3600,\"violated\":false}],\"reservationId\":\"r1"
    "a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7\",\"leaseExpiresInSeconds\":600}";
const char RESERVED_HEADERS[] =
    "RateLimit-Policy: \"user_model\";q=100000000;w=3600\r\n"
    "RateLimit: \"user_model\";r=99999999;t=3600\r\n"
    "X-RateLimit-Limit: 100000000\r\n"
    "X-RateLimit-Remaining: 99999999\r\n"
    "X-RateLimit-Reset: 1796479497\r\n"
    "X-RateLimit-Strategy: sliding_window\r\n"
    "x-ratelimit-limit-requests: 100000000\r\n"
    "x-ratelimit-remaining-requests: 99999999\r\n"
    "x-ratelimit-reset-requests: 1h0m0s\r\n"
    "X-Sluice-Reservation: r1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7\r\n"
    "X-Sluice-Lease-Expires-In: 600\r\n";
const char UNGOVERNED_JSON[] =
    "{\"allowed\":true,\"limit\":0,\"count\":0,\"remaining\":0,\"windowSeconds\":0,\"resetSeconds\":0"
    ",\"retryAfterSeconds\":0,\"modelTier\":null,\"cause\":null,\"source\":\"memory\",\"algorithm\":n"
    "ull,\"primary\":null,\"policies\":[]}";
const char UNGOVERNED_HEADERS[] =
    "";
class TestAnswerBytes : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void answers_data()
    {
        QTest::addColumn<int>("which");
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QByteArray>("headers");
        QTest::addRow("admitted") << 0 << QByteArray(ADMITTED_JSON) << QByteArray(ADMITTED_HEADERS);
        QTest::addRow("refused") << 1 << QByteArray(REFUSED_JSON) << QByteArray(REFUSED_HEADERS);
        QTest::addRow("reserved") << 2 << QByteArray(RESERVED_JSON) << QByteArray(RESERVED_HEADERS);
        QTest::addRow("ungoverned") << 3 << QByteArray(UNGOVERNED_JSON) << QByteArray(UNGOVERNED_HEADERS);
    }

    void answers()
    {
        QFETCH(int, which);
        QFETCH(QByteArray, json);
        QFETCH(QByteArray, headers);
        const Decision d = which == 0 ? admitted() : which == 1 ? refused() : which == 2 ? reserved() : ungoverned();
        QCOMPARE(d.toJson(), json);
        QCOMPARE(decisionHeaderLines(d, 1796475897), headers);
        // And the JSON still reads back as the decision it came from.
        const std::optional<Decision> back = Decision::fromJson(d.toJson());
        QVERIFY(back);
        QCOMPARE(back->toJson(), json);
    }

    void httpAnswers()
    {
        const Decision d = refused();
        QCOMPARE(buildHttpResponse(429, "application/json", d.toJson(), {}, HttpResponder::Framing::KeepAlive,
                                   decisionHeaderLines(d, 1796475897)),
                 QByteArray("HTTP/1.1 429 Too Many Requests\r\nServer: sluice\r\nContent-Type: application/json\r\nContent-Length: "
                            + QByteArray::number(d.toJson().size()) + "\r\n" + REFUSED_HEADERS + "\r\n" + REFUSED_JSON));
        QCOMPARE(buildHttpResponse(200, "text/plain; version=0.0.4", "x 1\n", {{"Allow", "GET, HEAD"}, {"X-A", ""}},
                                   HttpResponder::Framing::Close),
                 QByteArray("HTTP/1.1 200 OK\r\nServer: sluice\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 4\r\n"
                            "Allow: GET, HEAD\r\nX-A: \r\nConnection: close\r\n\r\nx 1\n"));
        QCOMPARE(buildHttpResponse(204, "application/json", QByteArray(), {}, HttpResponder::Framing::KeepAlive10),
                 QByteArray("HTTP/1.1 204 No Content\r\nServer: sluice\r\nContent-Type: application/json\r\nContent-Length: 0\r\n"
                            "Connection: keep-alive\r\n\r\n"));
    }
};

QTEST_GUILESS_MAIN(TestAnswerBytes)
#include "tst_answerbytes.moc"
