// SPDX-License-Identifier: Apache-2.0
// The bytes of an answer, pinned: a check's JSON body, its rate-limit header lines and the whole
// HTTP answer for fixed decisions, compared byte for byte with what the server wrote before the
// hot path was rewritten for speed (issue 24: "answers byte-identical for the same decisions").
// Also: the check body's fast reader gives exactly the general reader's answer (or error) for
// every body in a table of look-alikes.
#include "apierror.h"
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

    void checkBodyReadersAgree_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<bool>("fast"); // the fast reader takes it (else the general one decides)
        auto row = [](const char *name, const QByteArray &body, bool fast) { QTest::addRow("%s", name) << body << fast; };
        row("benchmark's", "{\"userId\":\"u1\",\"modelId\":\"gpt-4o\",\"tenantId\":\"enterprise_co\",\"modelTier\":\"premium\"}", true);
        row("blanks everywhere", " \t\r\n{ \"userId\" : \"u\" ,\n\"modelId\":\"m\" , \"cost\" : 7 }\n ", true);
        row("every field", "{\"userId\":\"u\",\"modelId\":\"m\",\"tenantId\":\"t\",\"modelTier\":\"x\",\"apiKey\":\"sluice-k\",\"cost\":1000000000}", true);
        row("nulls", "{\"userId\":\"u\",\"modelId\":\"m\",\"tenantId\":null,\"modelTier\":null,\"apiKey\":null,\"cost\":null}", true);
        row("unknown keys", "{\"other\":\"x\",\"n\":12,\"z\":null,\"userId\":\"u\",\"modelId\":\"m\"}", true);
        row("cost 0", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":0}", false);
        row("cost too large", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":1000000001}", false);
        row("cost 1.0", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":1.0}", false);
        row("cost 1.5", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":1.5}", false);
        row("cost 1e3", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":1e3}", false);
        row("cost negative", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":-5}", false);
        row("cost zero-led", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":007}", false);
        row("cost string", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":\"5\"}", false);
        row("cost huge", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":99999999999999999999999}", false);
        row("cost true", "{\"userId\":\"u\",\"modelId\":\"m\",\"cost\":true}", false);
        row("user missing", "{\"modelId\":\"m\"}", false);
        row("user null", "{\"userId\":null,\"modelId\":\"m\"}", false);
        row("user empty", "{\"userId\":\"\",\"modelId\":\"m\"}", false);
        row("user number", "{\"userId\":5,\"modelId\":\"m\"}", false);
        row("user 128", "{\"userId\":\"" + QByteArray(128, 'a') + "\",\"modelId\":\"m\"}", true);
        row("user 129", "{\"userId\":\"" + QByteArray(129, 'a') + "\",\"modelId\":\"m\"}", false);
        row("api key 256", "{\"userId\":\"u\",\"modelId\":\"m\",\"apiKey\":\"" + QByteArray(256, 'k') + "\"}", true);
        row("api key 257", "{\"userId\":\"u\",\"modelId\":\"m\",\"apiKey\":\"" + QByteArray(257, 'k') + "\"}", false);
        row("user twice", "{\"userId\":\"a\",\"modelId\":\"m\",\"userId\":\"b\"}", false);
        row("escaped key", "{\"user\\u0049d\":\"a\",\"modelId\":\"m\"}", false);
        row("escaped value", "{\"userId\":\"a\\\"b\",\"modelId\":\"m\"}", false);
        row("escaped NUL", "{\"userId\":\"a\\u0000\",\"modelId\":\"m\"}", false);
        row("lone surrogate", "{\"userId\":\"\\ud800\",\"modelId\":\"m\"}", false);
        row("UTF-8 id", "{\"userId\":\"J\xc3\xbcrgen\",\"modelId\":\"m\"}", false);
        row("invalid UTF-8", "{\"userId\":\"a\xff\",\"modelId\":\"m\"}", false);
        row("raw control", "{\"userId\":\"a\x01\",\"modelId\":\"m\"}", false);
        row("DEL", "{\"userId\":\"a\x7f\",\"modelId\":\"m\"}", false);
        row("nested", "{\"userId\":\"u\",\"modelId\":\"m\",\"x\":{\"y\":[1,2]}}", false);
        row("trailing comma", "{\"userId\":\"u\",\"modelId\":\"m\",}", false);
        row("trailing bytes", "{\"userId\":\"u\",\"modelId\":\"m\"} x", false);
        row("two objects", "{\"userId\":\"u\",\"modelId\":\"m\"}{}", false);
        row("array", "[{\"userId\":\"u\",\"modelId\":\"m\"}]", false);
        row("empty object", "{}", false);
        row("empty body", "", false);
        row("truncated", "{\"userId\":\"u\",\"modelId\":\"m\"", false);
        row("truncated string", "{\"userId\":\"u\",\"modelId\":\"m", false);
        row("nul", "{\"userId\":\"u\",\"modelId\":\"m\", \"x\": nul}", false);
        row("single quotes", "{'userId':'u','modelId':'m'}", false);
        row("BOM", "\xef\xbb\xbf{\"userId\":\"u\",\"modelId\":\"m\"}", false);
        row("NUL byte after", QByteArray("{\"userId\":\"u\",\"modelId\":\"m\"}") + '\0', false);
    }

    void checkBodyReadersAgree()
    {
        QFETCH(QByteArray, body);
        QFETCH(bool, fast);
        auto describe = [](const CheckRequest &r) {
            QByteArray out = r.toJson();
            for (const QString *s : {&r.tenantId, &r.modelTier, &r.apiKey})
                out += s->isNull() ? "|null" : "|set";
            return out;
        };
        auto outcome = [&body, &describe](CheckRequest (*read)(const QByteArray &)) -> QByteArray {
            try {
                return describe(read(body));
            } catch (const ApiError &e) {
                return QByteArray::number(e.status()) + ' ' + e.toJson();
            }
        };
        const QByteArray general = outcome(&CheckRequest::fromJsonDocument);
        QCOMPARE(outcome(&CheckRequest::fromJson), general);
        // The fast reader takes exactly the rows meant for it, and reads them as the general one.
        const std::optional<CheckRequest> flat = CheckRequest::fromFlatJson(body);
        QCOMPARE(flat.has_value(), fast);
        if (flat)
            QCOMPARE(describe(*flat), general);
    }

    // The fast reader scans strings sixteen bytes at a time and shares ids it read before: plain
    // ids of every length around the block edges are read whole (twice: the second from its table
    // of recent ids), and a byte it must leave to the general reader, wherever it sits, is left.
    void checkBodyReaderBlocks()
    {
        const QByteArray specials[] = {"\\\"", "\\n", QByteArray(1, '\x01'), QByteArray(1, '\x7f'), "\xc3\xbc",
                                       QByteArray(1, '\x80'), QByteArray(1, '\xff')};
        for (int length = 1; length <= 40; ++length) {
            QByteArray id(length, 'a');
            for (int i = 0; i < length; ++i)
                id[i] = char('a' + i % 26);
            for (int pass = 0; pass < 2; ++pass) {
                const QByteArray body = "{\"modelId\":\"m\",\"userId\":\"" + id + "\"}";
                const std::optional<CheckRequest> flat = CheckRequest::fromFlatJson(body);
                QVERIFY2(flat && flat->userId == QString::fromLatin1(id), body.constData());
            }
            for (int at = 0; at <= length; ++at) {
                for (const QByteArray &special : specials) {
                    QByteArray odd = id;
                    odd.insert(at, special);
                    const QByteArray body = "{\"modelId\":\"m\",\"userId\":\"" + odd + "\"}";
                    QVERIFY2(!CheckRequest::fromFlatJson(body), body.constData());
                    QByteArray viaFast, viaGeneral;
                    try {
                        viaFast = CheckRequest::fromJson(body).toJson();
                    } catch (const ApiError &e) {
                        viaFast = e.toJson();
                    }
                    try {
                        viaGeneral = CheckRequest::fromJsonDocument(body).toJson();
                    } catch (const ApiError &e) {
                        viaGeneral = e.toJson();
                    }
                    QCOMPARE(viaFast, viaGeneral);
                }
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestAnswerBytes)
#include "tst_answerbytes.moc"
