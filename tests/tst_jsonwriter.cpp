// SPDX-License-Identifier: Apache-2.0
// The hot path's JSON writer: commas, nesting, numbers, null strings and every escape, checked by
// parsing what it writes back with QJsonDocument.
#include "jsonwriter.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>
#include <limits>

using namespace sluice;

class TestJsonWriter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void structure()
    {
        JsonWriter w;
        w.beginObject().key("a").value(qint64(1)).key("b").beginArray().value(true).value(false).null().endArray();
        w.key("c").beginObject().endObject().key("d").value(QString()).endObject();
        QCOMPARE(w.take(), QByteArray(R"({"a":1,"b":[true,false,null],"c":{},"d":null})"));
    }

    void numbers()
    {
        JsonWriter w;
        w.beginArray().value(std::numeric_limits<qint64>::min()).value(std::numeric_limits<qint64>::max()).value(0).value(-7).endArray();
        QCOMPARE(w.take(), QByteArray("[-9223372036854775808,9223372036854775807,0,-7]"));
    }

    void escapes_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addRow("quote and backslash") << QStringLiteral("a\"b\\c");
        QTest::addRow("controls") << QString::fromUtf8("\n\r\t\x01\x1f");
        QTest::addRow("unicode") << QString::fromUtf8("ü 🚀 日本");
        QTest::addRow("key-like") << QStringLiteral("sluice:{user_model:a%3Ab:m}");
        QTest::addRow("empty") << QString(QLatin1String(""));
    }

    void escapes()
    {
        QFETCH(QString, text);
        JsonWriter w;
        w.beginObject().key("s").value(text).endObject();
        const QByteArray out = w.take();
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(out, &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(doc.object().value(QStringLiteral("s")).toString(), text);
        for (char c : out)
            QVERIFY2(static_cast<unsigned char>(c) >= 0x20, out.constData()); // no raw control byte
    }

    void rawIsInsertedAsIs()
    {
        JsonWriter w;
        w.beginArray().raw(QByteArrayLiteral("{\"x\":1}")).value(qint64(2)).endArray();
        QCOMPARE(w.take(), QByteArray(R"([{"x":1},2])"));
    }
};

QTEST_GUILESS_MAIN(TestJsonWriter)
#include "tst_jsonwriter.moc"
