// SPDX-License-Identifier: Apache-2.0
// Window keys: built for every scope, parsed back to the same scope and ids (awkward ids
// included), separators escaped so two different ids never share a key, and foreign bytes refused.
#include "windowkey.h"

#include <QtTest>

using namespace sluice;

class TestWindowKey : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roundTrip_data()
    {
        QTest::addColumn<int>("scope");
        QTest::addColumn<QString>("id1");
        QTest::addColumn<QString>("id2");
        QTest::addRow("global") << int(Scope::Global) << QString() << QString();
        QTest::addRow("tenant") << int(Scope::Tenant) << QStringLiteral("enterprise_co") << QString();
        QTest::addRow("api key") << int(Scope::ApiKey) << QStringLiteral("17") << QString();
        QTest::addRow("model") << int(Scope::Model) << QStringLiteral("gpt-4o") << QString();
        QTest::addRow("tier") << int(Scope::ModelTier) << QStringLiteral("premium") << QString();
        QTest::addRow("user model") << int(Scope::UserModel) << QStringLiteral("ent-user-2") << QStringLiteral("gpt-4o");
        QTest::addRow("separators") << int(Scope::UserModel) << QStringLiteral("a:b}{c%") << QStringLiteral("}:{");
        QTest::addRow("percent-looking") << int(Scope::Tenant) << QStringLiteral("%3A%25") << QString();
        QTest::addRow("unicode") << int(Scope::UserModel) << QString::fromUtf8("ü🚀") << QString::fromUtf8("日本");
    }

    void roundTrip()
    {
        QFETCH(int, scope);
        QFETCH(QString, id1);
        QFETCH(QString, id2);
        const QByteArray key = windowKey(static_cast<Scope>(scope), id1, id2);
        QVERIFY(key.startsWith("sluice:{") && key.endsWith('}'));
        QCOMPARE(key.count('{'), qsizetype(1)); // one hash tag: the whole key is one cluster slot
        const auto parsed = parseWindowKey(key);
        QVERIFY2(parsed, key.constData());
        QCOMPARE(int(parsed->scope), scope);
        QCOMPARE(parsed->id1, id1);
        QCOMPARE(parsed->id2, id2);
    }

    void separatorsCannotCollide()
    {
        QVERIFY(windowKey(Scope::UserModel, QStringLiteral("a:b"), QStringLiteral("c"))
                != windowKey(Scope::UserModel, QStringLiteral("a"), QStringLiteral("b:c")));
        QVERIFY(windowKey(Scope::Tenant, QStringLiteral("x}")) != windowKey(Scope::Tenant, QStringLiteral("x")) + '}');
    }

    void foreignBytesAreRefused_data()
    {
        QTest::addColumn<QByteArray>("key");
        QTest::addRow("empty") << QByteArray();
        QTest::addRow("no prefix") << QByteArray("{tenant:a}");
        QTest::addRow("unknown scope") << QByteArray("sluice:{planet:earth}");
        QTest::addRow("unclosed") << QByteArray("sluice:{tenant:a");
        QTest::addRow("missing id") << QByteArray("sluice:{tenant}");
        QTest::addRow("bad escape") << QByteArray("sluice:{tenant:%zz}");
    }

    void foreignBytesAreRefused()
    {
        QFETCH(QByteArray, key);
        QVERIFY(!parseWindowKey(key));
    }

    // Issue 21: every scope × unit × algorithm makes a key that parses back to itself (the bucket
    // suffixes were unknown to the parser: /admin/usage refused a bucket's key).
    void everyKindRoundTrips()
    {
        const QString awkward = QStringLiteral("a:b{c}%d é");
        for (Scope scope : kScopesBySpecificity) {
            const int ids = scope == Scope::Global ? 0 : scope == Scope::UserModel ? 2 : 1;
            const QString id1 = ids >= 1 ? (scope == Scope::ApiKey ? QStringLiteral("42") : awkward) : QString();
            const QString id2 = ids == 2 ? QStringLiteral("gpt:4o") : QString();
            for (Unit unit : {Unit::Requests, Unit::Tokens, Unit::Concurrent}) {
                for (Algorithm algorithm : {Algorithm::SlidingLog, Algorithm::TokenBucket}) {
                    if (unit == Unit::Concurrent && algorithm == Algorithm::TokenBucket)
                        continue; // (no such policy)
                    const QByteArray base = windowKey(scope, id1, id2);
                    const QByteArray key = base + windowKeySuffix(unit, algorithm);
                    const auto parsed = parseWindowKey(key);
                    QVERIFY2(parsed, key.constData());
                    QCOMPARE(parsed->scope, scope);
                    QCOMPARE(parsed->id1, id1);
                    QCOMPARE(parsed->id2, id2);
                    QCOMPARE(parsed->unit, unit);
                    QCOMPARE(parsed->algorithm, algorithm);
                    QCOMPARE(parsed->scopeKey, base);
                }
            }
        }
        QVERIFY(!parseWindowKey("sluice:{global}:bucket:tokens")); // (the order is fixed)
        QVERIFY(!parseWindowKey("sluice:{global}:leases:bucket"));
    }
};

QTEST_GUILESS_MAIN(TestWindowKey)
#include "tst_windowkey.moc"
