// SPDX-License-Identifier: Apache-2.0
// Secrets out of logs: conninfo passwords (bare and quoted), URI passwords, query passwords,
// and known secrets repeated by a library's message.
#include "engine/redact.h"

#include <QtTest>

using namespace sluice;

class TestRedact : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void conninfo_data()
    {
        QTest::addColumn<QString>("in");
        QTest::addColumn<QString>("out");
        QTest::addColumn<QString>("secret");
        QTest::addRow("bare") << QStringLiteral("host=db password=s3cret dbname=x") << QStringLiteral("host=db password=**** dbname=x") << QStringLiteral("s3cret");
        QTest::addRow("spaces") << QStringLiteral("password = s3cret host=db") << QStringLiteral("password = **** host=db") << QStringLiteral("s3cret");
        QTest::addRow("quoted") << QStringLiteral("host=db password='a b\\'c' user=u") << QStringLiteral("host=db password=**** user=u") << QStringLiteral("a b'c");
        QTest::addRow("none") << QStringLiteral("host=db user=u") << QStringLiteral("host=db user=u") << QStringLiteral("");
        QTest::addRow("uri") << QStringLiteral("postgresql://u:s3cret@db:5432/x") << QStringLiteral("postgresql://u:****@db:5432/x") << QStringLiteral("s3cret");
        QTest::addRow("uri query") << QStringLiteral("postgres://db/x?user=u&password=s3cret") << QStringLiteral("postgres://db/x?user=u&password=****") << QStringLiteral("s3cret");
        QTest::addRow("redis url") << QStringLiteral("redis://default:s3cret@h:6379/0") << QStringLiteral("redis://default:****@h:6379/0") << QStringLiteral("s3cret");
        QTest::addRow("redis no password") << QStringLiteral("redis://h:6379") << QStringLiteral("redis://h:6379") << QStringLiteral("");
    }

    void conninfo()
    {
        QFETCH(QString, in);
        QFETCH(QString, out);
        QFETCH(QString, secret);
        QCOMPARE(redactConninfo(in), out);
        QCOMPARE(secretOf(in), secret);
    }

    void knownSecretsAnywhere()
    {
        const QString msg = QStringLiteral("connection to server failed: FATAL password authentication failed (tok3n-xyz, tok3n-xyz)");
        QCOMPARE(redactSecrets(msg, {QStringLiteral("tok3n-xyz")}),
                 QStringLiteral("connection to server failed: FATAL password authentication failed (****, ****)"));
        QCOMPARE(redactSecrets(QStringLiteral("ab cab"), {QStringLiteral("ab")}), QStringLiteral("**** cab"));
        QCOMPARE(redactSecrets(QStringLiteral("x"), {QString()}), QStringLiteral("x"));
    }
};

QTEST_GUILESS_MAIN(TestRedact)
#include "tst_redact.moc"
