// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 framing on its own (no sockets): header blocks parsed line by line, bodies counted by
// Content-Length across arbitrary splits, pipelined requests, and every refusal.
#include "http/framingguard.h"

#include <QtTest>

using namespace sluice;

class TestFraming : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void requestsAcrossSplits()
    {
        const QByteArray stream = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                                  "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "POST /c HTTP/1.1\r\ncontent-length:3\r\n\r\nabc";
        for (int chunk : {1, 2, 3, 7, 64, 4096}) {
            HttpFraming f(16 * 1024);
            for (qsizetype i = 0; i < stream.size(); i += chunk)
                QVERIFY(!f.feed(stream.mid(i, chunk)));
            QCOMPARE(f.completedRequests(), qint64(3));
            QVERIFY(!f.inRequest());
        }
        HttpFraming f(16 * 1024);
        QVERIFY(!f.feed("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel"));
        QVERIFY(f.inRequest());
        QCOMPARE(f.completedRequests(), qint64(0));
    }

    // Defect: a request with any Transfer-Encoding header (identity, say) and the text "chunked"
    // anywhere else (a User-Agent) was a 411.
    void chunkedTextInAnotherHeaderIsFine()
    {
        HttpFraming f(16 * 1024);
        QVERIFY(!f.feed("POST /a HTTP/1.1\r\nTransfer-Encoding: identity\r\nX-Note: transfer-encoding: chunked please\r\n"
                        "User-Agent: chunked/1.0\r\nContent-Length: 2\r\n\r\nok"));
        QCOMPARE(f.completedRequests(), qint64(1));
    }

    void refusals_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<int>("status");
        QTest::addRow("chunked") << QByteArray("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") << 411;
        QTest::addRow("chunked, odd case and spaces") << QByteArray("POST / HTTP/1.1\r\ntRaNsFeR-EnCoDiNg :  gzip, Chunked\r\n\r\n") << 411;
        QTest::addRow("other coding") << QByteArray("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") << 411;
        QTest::addRow("too large") << QByteArray("POST / HTTP/1.1\r\nContent-Length: 16385\r\n\r\n") << 413;
        QTest::addRow("huge number") << QByteArray("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n") << 413;
        QTest::addRow("not a number") << QByteArray("POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n") << 400;
        QTest::addRow("negative") << QByteArray("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") << 400;
        QTest::addRow("two lengths") << QByteArray("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n") << 400;
        QTest::addRow("chunked, bare LF lines") << QByteArray("POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n") << 411;
        QTest::addRow("too large, bare LF lines") << QByteArray("POST / HTTP/1.1\nContent-Length: 20000\n\n") << 413;
        QTest::addRow("header block too large") << ("GET / HTTP/1.1\r\nX-Big: " + QByteArray(40 * 1024, 'a')) << 431;
    }

    void refusals()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(int, status);
        HttpFraming f(16 * 1024);
        const auto error = f.feed(bytes);
        QVERIFY(error);
        QCOMPARE(error->status(), status);
        QVERIFY(f.feed("GET / HTTP/1.1\r\n\r\n")); // stays refused
    }

    // Review finding: Qt's parser accepts header blocks ending in bare LF LF; the guard must too,
    // or such requests would skip every check above.
    void bareLineFeedsAreFramed()
    {
        for (int chunk : {1, 3, 4096}) {
            HttpFraming f(16 * 1024);
            const QByteArray stream = "POST /a HTTP/1.1\nContent-Length: 3\n\nabcGET /b HTTP/1.1\r\nHost: x\n\r\n";
            for (qsizetype i = 0; i < stream.size(); i += chunk)
                QVERIFY(!f.feed(stream.mid(i, chunk)));
            QCOMPARE(f.completedRequests(), qint64(2));
            QVERIFY(!f.inRequest());
        }
    }

    void identityAndAgreeingLengthsPass()
    {
        HttpFraming f(16 * 1024);
        QVERIFY(!f.feed("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx"));
        QCOMPARE(f.completedRequests(), qint64(1));
    }
};

QTEST_GUILESS_MAIN(TestFraming)
#include "tst_framing.moc"
