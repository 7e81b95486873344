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

namespace {

// One character at a time: the bytes a JSON string of `text` is written as.
QByteArray reference(const QString &text)
{
    QByteArray out = "\"";
    for (const char c : text.toUtf8()) {
        const auto u = static_cast<unsigned char>(c);
        if (u == '"')
            out += "\\\"";
        else if (u == '\\')
            out += "\\\\";
        else if (u == '\n')
            out += "\\n";
        else if (u == '\r')
            out += "\\r";
        else if (u == '\t')
            out += "\\t";
        else if (u < 0x20)
            out += "\\u00" + QByteArray::number(u, 16).rightJustified(2, '0');
        else
            out += c;
    }
    return out + "\"";
}

} // namespace

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
        // Every width around the one- and two-digit shortcut, and the negatives beside it.
        for (qint64 v : {qint64(-100), qint64(-99), qint64(-10), qint64(-9), qint64(-1), qint64(1), qint64(9), qint64(10),
                         qint64(11), qint64(42), qint64(99), qint64(100), qint64(101), qint64(999), qint64(1000), qint64(3600)}) {
            JsonWriter one;
            one.value(v);
            QCOMPARE(one.take(), QByteArray::number(v));
        }
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

    // The writer copies 8 or 16 characters at a time while none needs an escape: every length
    // around those blocks, with an escape or a non-ASCII character at every position, written as a
    // QString and as UTF-8 bytes, after another value (the comma) — byte for byte as one character
    // at a time would write it.
    void blocksAndTheirEdges()
    {
        const QString specials[] = {QStringLiteral("\""), QStringLiteral("\\"), QStringLiteral("\n"), QString(QChar(1)),
                                    QString(QChar(0x1f)), QString(QChar(0x7f)), QString::fromUtf8("é"), QString::fromUtf8("日"),
                                    QString::fromUtf8("🚀"), QString(QChar(0x8000)), QString(QChar(0xff))};
        for (int length = 0; length <= 40; ++length) {
            for (int at = 0; at <= length; ++at) {
                for (const QString &special : specials) {
                    QString text(length, QLatin1Char('a'));
                    for (int i = 0; i < length; ++i)
                        text[i] = QLatin1Char(char('a' + i % 26));
                    text.insert(at, special);
                    const QByteArray expected = "[7," + reference(text) + "," + reference(text) + "]";
                    JsonWriter w(16); // (small: the buffer grows while strings are written)
                    w.beginArray().value(qint64(7)).value(text).value(text.toUtf8()).endArray();
                    const QByteArray out = w.take();
                    QVERIFY2(out == expected, qPrintable(QStringLiteral("length %1 at %2: %3").arg(length).arg(at).arg(QString::fromUtf8(out))));
                    // A character beyond ASCII after the special one (an escape written before the
                    // encoder takes over: the string starts again at its quote).
                    const QString twice = text + QString::fromUtf8("é");
                    JsonWriter w2(16);
                    w2.beginArray().value(twice).value(twice.toUtf8()).endArray();
                    QCOMPARE(w2.take(), QByteArray("[" + reference(twice) + "," + reference(twice) + "]"));
                }
            }
        }
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
