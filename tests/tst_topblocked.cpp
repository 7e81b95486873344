// SPDX-License-Identifier: Apache-2.0
// Top blocked: counts per key, the order (most blocked, then most recent), the bound, and the
// board that merges the per-thread tables (the same key blocked on two threads adds up).
#include "engine/topblocked.h"

#include <QtTest>
#include <thread>

using namespace sluice;

class TestTopBlocked : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void countsAndOrders()
    {
        TopBlocked t;
        const QDateTime t0 = QDateTime::fromSecsSinceEpoch(1'700'000'000, Qt::UTC);
        for (int i = 0; i < 3; ++i)
            t.record("a", Scope::Tenant, QStringLiteral("tenant a"), QStringLiteral("a"), QStringLiteral("m%1").arg(i), t0);
        t.record("b", Scope::Model, QStringLiteral("model b"), QString(), QStringLiteral("b"), t0);
        t.record("c", Scope::Model, QStringLiteral("model c"), QString(), QStringLiteral("c"), t0.addSecs(5));
        const auto top = topOf(t.entries(), 2);
        QCOMPARE(top.size(), 2);
        QCOMPARE(top[0].key, QByteArray("a"));
        QCOMPARE(top[0].blocked, qint64(3));
        QCOMPARE(top[0].scope, Scope::Tenant);
        QCOMPARE(top[0].tenant, QStringLiteral("a"));
        QCOMPARE(top[0].model, QStringLiteral("m2")); // the last blocked request's
        QVERIFY(top[1].tenant.isNull());
        QCOMPARE(top[1].key, QByteArray("c")); // ties go to the most recent
    }

    void bounded()
    {
        TopBlocked t(100);
        t.record("heavy", Scope::Global, QStringLiteral("global"));
        t.record("heavy", Scope::Global, QStringLiteral("global"));
        for (int i = 0; i < 10'000; ++i)
            t.record("k" + QByteArray::number(i), Scope::Tenant, QStringLiteral("t"));
        QVERIFY2(t.size() <= 101, qPrintable(QString::number(t.size())));
        QCOMPARE(topOf(t.entries(), 1).first().key, QByteArray("heavy"));
    }

    void boardMergesThreads()
    {
        TopBlockedBoard board;
        auto a = board.add();
        auto b = board.add();
        std::thread ta([&] {
            for (int i = 0; i < 1000; ++i)
                a->record("shared", Scope::UserModel, QStringLiteral("u"));
        });
        std::thread tb([&] {
            for (int i = 0; i < 700; ++i)
                b->record("shared", Scope::UserModel, QStringLiteral("u"));
            b->record("only-b", Scope::Tenant, QStringLiteral("t"));
        });
        ta.join();
        tb.join();
        const auto top = board.top(10);
        QCOMPARE(top.size(), 2);
        QCOMPARE(top[0].key, QByteArray("shared"));
        QCOMPARE(top[0].blocked, qint64(1700));
        QCOMPARE(top[1].key, QByteArray("only-b"));
        QCOMPARE(board.top(1).size(), 1);
    }
};

QTEST_GUILESS_MAIN(TestTopBlocked)
#include "tst_topblocked.moc"
