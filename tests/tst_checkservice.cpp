// SPDX-License-Identifier: Apache-2.0
// Policy semantics of design §2 over the built-in demo registry, with the memory store and a
// clock the test drives: which policies apply, in which order, the primary, the cause string,
// reset and retry-after, and the identity rules (API key, tenant, tier).
#include "engine/checkservice.h"
#include "memory/memorywindowstore.h"
#include "engine/registryjson.h"
#include "engine/windowrules.h"

#include <QtTest>

using namespace sluice;

class TestCheckService : public QObject
{
    Q_OBJECT

private:
    std::shared_ptr<ManualClock> m_clock;
    std::unique_ptr<MemoryWindowStore> m_store;
    std::shared_ptr<SnapshotHolder> m_snapshots;
    std::unique_ptr<CheckService> m_service;
    QStringList m_unexpected; // errors a check() got instead of a decision

    void reset(RegistryData data = builtInDemoRegistry())
    {
        m_clock = std::make_shared<ManualClock>();
        m_store = std::make_unique<MemoryWindowStore>(m_clock);
        m_snapshots = std::make_shared<SnapshotHolder>(std::make_shared<const PolicySnapshot>(std::move(data)));
        m_service = std::make_unique<CheckService>(m_snapshots, m_store.get(), std::make_shared<Metrics>());
    }

    Decision check(const QString &tenant, const QString &user, const QString &model, const QString &tier = QString(),
                   const QString &apiKey = QString(), qint64 cost = 1)
    {
        CheckRequest r;
        r.tenantId = tenant;
        r.userId = user;
        r.modelId = model;
        r.modelTier = tier;
        r.apiKey = apiKey;
        r.cost = cost;
        Decision out;
        bool called = false;
        m_service->check(r, QString(), [&](const ApiError *error, const Decision &d) {
            called = true;
            if (error) // (not a refusal: the test fails in cleanup())
                m_unexpected << QStringLiteral("unexpected error %1: %2").arg(error->status()).arg(error->message());
            out = d;
        });
        if (!called)
            m_unexpected << QStringLiteral("the memory store must answer synchronously");
        return out;
    }

    static QStringList scopes(const Decision &d)
    {
        QStringList s;
        for (const PolicyUsage &u : d.policies)
            s << scopeName(u.scope);
        return s;
    }

private Q_SLOTS:
    void init()
    {
        m_unexpected.clear();
        reset();
    }
    // A check helper that got an error instead of a decision fails the test: an error must never
    // pass for a refusal.
    void cleanup() { QVERIFY2(m_unexpected.isEmpty(), qPrintable(m_unexpected.join(QStringLiteral("; ")))); }

    void applicablePoliciesInSpecificityOrder_data()
    {
        QTest::addColumn<QString>("tenant");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("apiKey");
        QTest::addColumn<QStringList>("expected");
        QTest::addColumn<QString>("primary");
        QTest::addColumn<qint64>("primaryLimit");

        const QStringList four{QStringLiteral("USER_MODEL"), QStringLiteral("TENANT"), QStringLiteral("MODEL_TIER"),
                               QStringLiteral("GLOBAL")};
        QTest::addRow("enterprise user on gpt-4o")
            << "enterprise_co" << "ent-user-1" << "gpt-4o" << QString() << four << "USER_MODEL" << qint64(100);
        QTest::addRow("override ent-user-2 on gpt-4o")
            << "enterprise_co" << "ent-user-2" << "gpt-4o" << QString() << four << "USER_MODEL" << qint64(10);
        QTest::addRow("free user on tiny-model: tier has least headroom")
            << "free_co" << "free-user-1" << "tiny-model" << QString() << four << "MODEL_TIER" << qint64(10);
        QTest::addRow("api key adds API_KEY")
            << "free_co" << "free-user-1" << "gpt-4o" << "sluice-demo-free-co-key"
            << QStringList{QStringLiteral("USER_MODEL"), QStringLiteral("API_KEY"), QStringLiteral("TENANT"),
                           QStringLiteral("MODEL_TIER"), QStringLiteral("GLOBAL")}
            << "API_KEY" << qint64(20);
        QTest::addRow("unknown tenant and user get the defaults")
            << "nobody_inc" << "someone" << "gpt-4o" << QString()
            << QStringList{QStringLiteral("USER_MODEL"), QStringLiteral("MODEL_TIER"), QStringLiteral("GLOBAL")}
            << "USER_MODEL" << qint64(100);
        QTest::addRow("unknown model has no tier")
            << "enterprise_co" << "ent-user-1" << "mystery-model" << QString()
            << QStringList{QStringLiteral("USER_MODEL"), QStringLiteral("TENANT"), QStringLiteral("GLOBAL")}
            << "USER_MODEL" << qint64(100);
    }

    void applicablePoliciesInSpecificityOrder()
    {
        QFETCH(QString, tenant);
        QFETCH(QString, user);
        QFETCH(QString, model);
        QFETCH(QString, apiKey);
        QFETCH(QStringList, expected);
        QFETCH(QString, primary);
        QFETCH(qint64, primaryLimit);
        const Decision d = check(tenant, user, model, QString(), apiKey);
        QVERIFY(d.allowed);
        QCOMPARE(scopes(d), expected);
        QVERIFY(d.primary.has_value());
        QCOMPARE(scopeName(d.primary->scope), primary);
        QCOMPARE(d.limit, primaryLimit);
        QCOMPARE(d.count, qint64(1));
        QCOMPARE(d.remaining, primaryLimit - 1);
        QCOMPARE(d.windowSeconds, qint64(3600));
        QCOMPARE(d.resetSeconds, qint64(3600));
        QCOMPARE(d.source, QStringLiteral("memory"));
        QVERIFY(d.cause.isNull());
    }

    void overrideBlocksTheEleventh()
    {
        for (int i = 1; i <= 10; ++i) {
            const Decision d = check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"),
                                     QStringLiteral("premium"));
            QVERIFY2(d.allowed, qPrintable(QString::number(i)));
            QCOMPARE(d.count, qint64(i));
            m_clock->advanceSeconds(1);
        }
        const Decision d = check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"));
        QVERIFY(!d.allowed);
        QCOMPARE(scopeName(d.primary->scope), QStringLiteral("USER_MODEL"));
        QCOMPARE(d.limit, qint64(10));
        QCOMPARE(d.count, qint64(11));
        QCOMPARE(d.remaining, qint64(0));
        QCOMPARE(d.cause, QStringLiteral("USER_MODEL exceeded: 11/10 in the last 3600 seconds "
                                         "(key=sluice:{user_model:ent-user-2:gpt-4o})"));
        // The oldest entry is 10 s old: it leaves the window in 3590 s.
        QCOMPARE(d.retryAfterSeconds, qint64(3590));
        QCOMPARE(d.resetSeconds, qint64(3590));
        // The default still applies to ent-user-2 on another model.
        QVERIFY(check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o-mini")).allowed);
    }

    void freeTierBlocksTheEleventh()
    {
        for (int i = 1; i <= 10; ++i)
            QVERIFY(check(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("tiny-model")).allowed);
        const Decision d = check(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("tiny-model"));
        QVERIFY(!d.allowed);
        QCOMPARE(scopeName(d.primary->scope), QStringLiteral("MODEL_TIER"));
        QCOMPARE(d.cause, QStringLiteral("MODEL_TIER exceeded: 11/10 in the last 3600 seconds (key=sluice:{model_tier:free})"));
        // Another free user is blocked by the shared tier too.
        QVERIFY(!check(QStringLiteral("free_co"), QStringLiteral("free-user-2"), QStringLiteral("tiny-model")).allowed);
    }

    void deniedRequestsAreNotRecorded()
    {
        for (int i = 0; i < 10; ++i)
            QVERIFY(check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o")).allowed);
        for (int i = 0; i < 50; ++i)
            QVERIFY(!check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o")).allowed);
        // The tenant counted the 10 admitted requests only.
        const Decision d = check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-1"), QStringLiteral("gpt-4o"));
        QCOMPARE(d.policies.at(1).count, qint64(11));
        m_clock->advanceSeconds(3600);
        QVERIFY(check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o")).allowed);
    }

    void twoViolatedPoliciesNameBoth()
    {
        RegistryData data = builtInDemoRegistry();
        for (PolicyDto &p : data.policies) {
            if (p.scope == Scope::ModelTier && p.modelTier == QStringLiteral("premium"))
                p.limit = 3;
            if (p.scope == Scope::Global)
                p.limit = 3;
        }
        PolicyDto user;
        user.id = 100;
        user.scope = Scope::UserModel;
        user.userId = QStringLiteral("ent-user-1");
        user.modelId = QStringLiteral("gpt-4o");
        user.limit = 3;
        user.windowSeconds = 60;
        data.policies.append(user);
        reset(data);
        for (int i = 0; i < 3; ++i)
            QVERIFY(check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-1"), QStringLiteral("gpt-4o")).allowed);
        m_clock->advanceSeconds(30);
        const Decision d = check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-1"), QStringLiteral("gpt-4o"));
        QVERIFY(!d.allowed);
        QCOMPARE(scopeName(d.primary->scope), QStringLiteral("USER_MODEL"));
        QCOMPARE(d.cause, QStringLiteral("USER_MODEL exceeded: 4/3 in the last 60 seconds (key=sluice:{user_model:ent-user-1:gpt-4o}); "
                                         "also violated: MODEL_TIER (4/3), GLOBAL (4/3)"));
        QCOMPARE(d.policies.at(0).violated, true);
        QCOMPARE(d.policies.at(1).violated, false); // TENANT 500
        QCOMPARE(d.policies.at(2).violated, true);
        // Retry when every violated policy has room: the hour-long tier/global windows decide.
        QCOMPARE(d.retryAfterSeconds, qint64(3600 - 30));
    }

    void tierComesFromTheRegistry()
    {
        QVERIFY(check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-1"), QStringLiteral("gpt-4o"),
                      QStringLiteral("premium")).allowed);
        CheckRequest r;
        r.userId = QStringLiteral("free-user-1");
        r.tenantId = QStringLiteral("free_co");
        r.modelId = QStringLiteral("tiny-model");
        r.modelTier = QStringLiteral("premium");
        try {
            m_service->check(r, QString(), [](const ApiError *, const Decision &) { QFAIL("must not reach the store"); });
            QFAIL("a contradicting modelTier must be rejected");
        } catch (const ApiError &e) {
            QCOMPARE(e.status(), 400);
            QVERIFY(e.message().contains(QStringLiteral("tiny-model is free")));
        }
        QCOMPARE(m_store->keyCount(), qint64(4)); // only the first, admitted request wrote
    }

    void identityRules_data()
    {
        QTest::addColumn<QString>("tenant");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QString>("apiKey");
        QTest::addColumn<int>("status");
        QTest::addRow("unknown key") << "free_co" << "free-user-1" << "not-a-key" << 401;
        QTest::addRow("key of another tenant") << "enterprise_co" << "ent-user-1" << "sluice-demo-free-co-key" << 403;
        QTest::addRow("user of another tenant") << "free_co" << "ent-user-1" << QString() << 403;
    }

    void identityRules()
    {
        QFETCH(QString, tenant);
        QFETCH(QString, user);
        QFETCH(QString, apiKey);
        QFETCH(int, status);
        CheckRequest r;
        r.tenantId = tenant;
        r.userId = user;
        r.modelId = QStringLiteral("gpt-4o");
        r.apiKey = apiKey;
        try {
            m_service->check(r, QString(), [](const ApiError *, const Decision &) {});
            QFAIL("expected an ApiError");
        } catch (const ApiError &e) {
            QCOMPARE(e.status(), status);
        }
        QCOMPARE(m_store->keyCount(), qint64(0));
    }

    void keyFillsAMissingTenant()
    {
        const Decision d = check(QString(), QStringLiteral("someone-new"), QStringLiteral("gpt-4o-mini"), QString(),
                                 QStringLiteral("sluice-demo-free-co-key"));
        QVERIFY(d.allowed);
        QVERIFY(scopes(d).contains(QStringLiteral("TENANT")));
        QCOMPARE(d.policies.at(2).label, QStringLiteral("tenant free_co"));
        QCOMPARE(d.policies.at(2).limit, qint64(50));
    }

    void baseRuleWhenTheRegistryHasNone()
    {
        RegistryData data = builtInDemoRegistry();
        data.policies.clear();
        reset(data);
        const Decision d = check(QString(), QStringLiteral("u"), QStringLiteral("m"));
        QCOMPARE(scopes(d), QStringList{QStringLiteral("USER_MODEL")});
        QCOMPARE(d.limit, qint64(100));
        QCOMPARE(d.windowSeconds, qint64(3600));
    }

    void limitZeroBlocksEverything()
    {
        RegistryData data = builtInDemoRegistry();
        for (PolicyDto &p : data.policies) {
            if (p.scope == Scope::Tenant && p.tenantId == QStringLiteral("free_co"))
                p.limit = 0;
        }
        reset(data);
        const Decision d = check(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("gpt-4o-mini"));
        QVERIFY(!d.allowed);
        QCOMPARE(scopeName(d.primary->scope), QStringLiteral("TENANT"));
        QCOMPARE(d.retryAfterSeconds, qint64(3600));
        QCOMPARE(m_store->keyCount(), qint64(0));
    }

    // Issue 20, defect 6: a log holds at most kMaxLogEntries entries whatever its limit (a row
    // written before the bound, or a tokens log of cost-1 requests); the refusal says why and
    // what to use instead.
    void aFullLogRefusesAndSaysWhy()
    {
        RegistryData data = builtInDemoRegistry();
        data.policies.clear();
        PolicyDto p;
        p.id = 1;
        p.scope = Scope::UserModel;
        p.windowSeconds = 3600;
        p.limit = 5'000'000; // over the bound: as an old Postgres row could hold it
        data.policies.append(p);
        reset(data);
        for (qint64 i = 0; i < kMaxLogEntries; ++i) {
            bool ok = false;
            CheckRequest r;
            r.userId = QStringLiteral("u");
            r.modelId = QStringLiteral("m");
            m_service->check(r, QString(), [&](const ApiError *, const Decision &d) { ok = d.allowed; });
            if (!ok)
                QFAIL(qPrintable(QStringLiteral("refused at %1").arg(i)));
        }
        const Decision d = check(QString(), QStringLiteral("u"), QStringLiteral("m"));
        QVERIFY(!d.allowed);
        QCOMPARE(d.count, kMaxLogEntries + 1);
        QCOMPARE(d.cause, QStringLiteral("USER_MODEL exceeded: its log holds 1000000 entries, the most a sliding-log key keeps "
                                         "(key=sluice:{user_model:u:m}); use algorithm token_bucket for rates this high"));
    }

    // Issue 21, defect 4 and its review: a look (peek, gRPC hits_addend 0) judges every key by
    // the check's own rules — a shadow policy over its limit never refuses, a bucket is held to
    // its burst (not its rate), a log over its limit refuses.
    void aLookJudgesByTheCheckRules()
    {
        RegistryData data = builtInDemoRegistry();
        data.policies.clear();
        PolicyDto base;
        base.id = 1;
        base.scope = Scope::UserModel;
        base.windowSeconds = 3600;
        base.limit = 3;
        PolicyDto shadow;
        shadow.id = 2;
        shadow.scope = Scope::Global;
        shadow.windowSeconds = 3600;
        shadow.limit = 3; // (it keeps what it would have admitted: the first 3 checks)
        shadow.shadow = true;
        PolicyDto bucket;
        bucket.id = 3;
        bucket.scope = Scope::Model;
        bucket.windowSeconds = 3600;
        bucket.limit = 2;
        bucket.burst = 5;
        bucket.algorithm = Algorithm::TokenBucket;
        data.policies = {base, shadow, bucket};
        reset(data);
        auto look = [this](const QString &user) {
            CheckRequest r;
            r.userId = user;
            r.modelId = QStringLiteral("m");
            Decision out;
            m_service->peek(r, QString(), [&](const ApiError *error, const Decision &d) {
                if (error)
                    m_unexpected << error->message();
                out = d;
            });
            return out;
        };
        QVERIFY(look(QStringLiteral("a")).allowed);
        for (int i = 0; i < 3; ++i)
            QVERIFY(check(QString(), QStringLiteral("u%1").arg(i), QStringLiteral("m")).allowed);
        QVERIFY(check(QString(), QStringLiteral("a"), QStringLiteral("m")).allowed); // 4 of the burst of 5
        Decision d = look(QStringLiteral("b"));
        QVERIFY2(d.allowed, qPrintable(d.cause)); // 4 drained > the rate of 2, within the burst of 5
        QVERIFY(check(QString(), QStringLiteral("a"), QStringLiteral("m")).allowed);  // the bucket's 5th
        QVERIFY(!check(QString(), QStringLiteral("a"), QStringLiteral("m")).allowed); // no 6th
        d = look(QStringLiteral("a")); // a: 2 of 3 requests, the bucket at its burst: within both
        QVERIFY2(d.allowed, qPrintable(d.cause));
        RegistryData over = data;
        over.policies[1].limit = 1; // the shadow policy: 3 kept, its limit now 1: over, and a look goes on
        m_snapshots->swap(std::make_shared<const PolicySnapshot>(over));
        d = look(QStringLiteral("a"));
        QVERIFY2(d.allowed, qPrintable(d.cause));
        QCOMPARE(d.policies.last().scope, Scope::Global); // (most specific first)
        QVERIFY(d.policies.last().shadow && d.policies.last().violated); // (reported, as a check would)
        over.policies[0].limit = 1; // a: 2 counted, the limit now 1: over
        m_snapshots->swap(std::make_shared<const PolicySnapshot>(over));
        d = look(QStringLiteral("a"));
        QVERIFY(!d.allowed);
        QCOMPARE(d.primary->scope, Scope::UserModel);
    }

    void costIsCarriedButRequestsWeighOne()
    {
        // Every policy counts requests today: a request weighs 1 whatever its cost (token-unit
        // policies, coming, will weigh it by cost; the stores keep weights already).
        const Decision a = check(QStringLiteral("free_co"), QStringLiteral("free-user-1"), QStringLiteral("gpt-4o-mini"),
                                 QString(), QString(), 40);
        QVERIFY(a.allowed);
        QCOMPARE(a.policies.at(1).count, qint64(1));
        CheckRequest r;
        r.userId = QStringLiteral("u");
        r.modelId = QStringLiteral("m");
        r.cost = 7;
        QCOMPARE(PolicyResolver::resolve(m_snapshots->current(), r).cost, qint64(7));
    }

    // Defect: decide() hard-coded the request's weight as 1 while the store was given the batch's
    // cost. The count a decision reports is what the store was asked to add, whatever it is.
    void decisionCountsTheWeightTheStoreAdds()
    {
        CheckRequest r;
        r.userId = QStringLiteral("ent-user-1");
        r.modelId = QStringLiteral("gpt-4o");
        ResolvedCheck resolved = PolicyResolver::resolve(m_snapshots->current(), r);
        for (WindowSpec &spec : resolved.windows.keys)
            spec.weight = 5; // a weighted entry (as on a tokens policy)
        WindowOutcome outcome;
        outcome.admitted = true;
        outcome.nowUs = 1'700'000'000'000'000;
        outcome.source = QStringLiteral("memory");
        outcome.keys.assign(resolved.applied.size(), KeyState{3, outcome.nowUs - 1'000'000});
        const Decision admitted = CheckService::decide(resolved, outcome);
        QCOMPARE(admitted.policies.at(0).count, qint64(8)); // 3 counted + 5 this request
        QCOMPARE(admitted.remaining, qint64(admitted.limit - 8));
        // Refused: 98 counted + 5 > 100 on the USER_MODEL default.
        outcome.admitted = false;
        outcome.keys.assign(resolved.applied.size(), KeyState{98, outcome.nowUs - 1'000'000});
        for (size_t i = 0; i < outcome.keys.size(); ++i) // (a store reports whether each key fits)
            outcome.keys[i].fits = window::fits(resolved.windows.keys[i], outcome.keys[i]);
        const Decision refused = CheckService::decide(resolved, outcome);
        QVERIFY(!refused.allowed);
        QCOMPARE(refused.primary->scope, Scope::UserModel);
        QVERIFY(refused.policies.at(0).violated);
        QCOMPARE(refused.count, qint64(103));
        QCOMPARE(refused.retryAfterSeconds, qint64(3599)); // its oldest entry (1 s old) leaves the hour
        QVERIFY2(refused.cause.startsWith(QStringLiteral("USER_MODEL exceeded: 103/100")), qPrintable(refused.cause));
    }

    void disabledPolicyFallsBackToTheDefault()
    {
        RegistryData data = builtInDemoRegistry();
        for (PolicyDto &p : data.policies) {
            if (p.id == 9)
                p.enabled = false;
        }
        reset(data);
        const Decision d = check(QStringLiteral("enterprise_co"), QStringLiteral("ent-user-2"), QStringLiteral("gpt-4o"));
        QCOMPARE(d.policies.at(0).limit, qint64(100));
    }
};

QTEST_GUILESS_MAIN(TestCheckService)
#include "tst_checkservice.moc"
