// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 request parser on its own (no sockets): requests across arbitrary splits, pipelined
// requests, what a request carries (method, target, headers, body, keep-alive), and every refusal.
#include "http/httpparser.h"

#include <QtTest>

using namespace sluice;

namespace {

// Feeds `stream` in pieces of `chunk` bytes; the requests that came out, and the refusal (0: none).
QList<ParsedRequest> parseAll(const QByteArray &stream, qsizetype chunk, int *refusal = nullptr, HttpRequestParser *parser = nullptr)
{
    HttpRequestParser own(16 * 1024);
    HttpRequestParser &p = parser ? *parser : own;
    QList<ParsedRequest> out;
    int refused = 0;
    for (qsizetype i = 0; i < stream.size() && refused == 0; i += chunk) {
        p.append(stream.mid(i, chunk));
        for (;;) {
            ParsedRequest r;
            const auto step = p.next(&r);
            if (step == HttpRequestParser::Step::Request) {
                out.append(r);
                continue;
            }
            if (step == HttpRequestParser::Step::Refused)
                refused = p.refusal()->status();
            break;
        }
    }
    if (refusal)
        *refusal = refused;
    return out;
}

QByteArray header(const ParsedRequest &r, const QByteArray &name)
{
    for (const auto &h : r.headers) {
        if (h.first == name)
            return h.second;
    }
    return {};
}

} // namespace

class TestFraming : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void requestsAcrossSplits()
    {
        const QByteArray stream = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                                  "GET /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "POST /c HTTP/1.1\r\nHost: x\r\ncontent-length:3\r\nX-Mixed-Case:  v a l  \r\n\r\nabc";
        for (int chunk : {1, 2, 3, 7, 64, 4096}) {
            HttpRequestParser p(16 * 1024);
            const QList<ParsedRequest> got = parseAll(stream, chunk, nullptr, &p);
            QCOMPARE(got.size(), 3);
            QCOMPARE(got[0].method, QByteArray("POST"));
            QCOMPARE(got[0].target, QByteArray("/a"));
            QCOMPARE(got[0].body, QByteArray("hello"));
            QCOMPARE(got[1].method, QByteArray("GET"));
            QCOMPARE(got[1].target, QByteArray("/b?q=1"));
            QVERIFY(got[1].body.isEmpty());
            QCOMPARE(got[2].body, QByteArray("abc"));
            QCOMPARE(header(got[2], "x-mixed-case"), QByteArray("v a l"));
            QCOMPARE(p.completedRequests(), qint64(3));
            QVERIFY(!p.inRequest());
        }
        HttpRequestParser p(16 * 1024);
        parseAll("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel", 4096, nullptr, &p);
        QVERIFY(p.inRequest());
        QCOMPARE(p.completedRequests(), qint64(0));
    }

    // Defect: a request with any Transfer-Encoding header (identity, say) and the text "chunked"
    // anywhere else (a User-Agent) was a 411.
    void chunkedTextInAnotherHeaderIsFine()
    {
        int refusal = -1;
        const auto got = parseAll("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nX-Note: transfer-encoding: chunked please\r\n"
                                  "User-Agent: chunked/1.0\r\nContent-Length: 2\r\n\r\nok",
                                  4096, &refusal);
        QCOMPARE(refusal, 0);
        QCOMPARE(got.size(), 1);
        QCOMPARE(got[0].body, QByteArray("ok"));
    }

    void refusals_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<int>("status");
        QTest::addRow("chunked") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n") << 411;
        QTest::addRow("chunked, odd case") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\ntRaNsFeR-EnCoDiNg:  gzip, Chunked\r\n\r\n") << 411;
        QTest::addRow("other coding") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n") << 411;
        QTest::addRow("too large") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 16385\r\n\r\n") << 413;
        QTest::addRow("huge number") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n") << 413;
        QTest::addRow("not a number") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n") << 400;
        QTest::addRow("negative") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n") << 400;
        QTest::addRow("a list") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n") << 400;
        QTest::addRow("two lengths") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n") << 400;
        QTest::addRow("chunked, bare LF lines") << QByteArray("POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n") << 411;
        QTest::addRow("too large, bare LF lines") << QByteArray("POST / HTTP/1.1\nHost: x\nContent-Length: 20000\n\n") << 413;
        QTest::addRow("header block too large") << ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + QByteArray(40 * 1024, 'a')) << 431;
        QByteArray many = "GET / HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 101; ++i)
            many += "X-H" + QByteArray::number(i) + ": v\r\n";
        QTest::addRow("101 header lines") << (many + "\r\n") << 431;
        // Issue 20, defect 8: hostile heads get a clear answer.
        QTest::addRow("no colon") << QByteArray("GET / HTTP/1.1\r\nHost x\r\n\r\n") << 400;
        QTest::addRow("blank before colon") << QByteArray("POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello") << 400;
        QTest::addRow("name not a token") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nX(y): 1\r\n\r\n") << 400;
        QTest::addRow("folded line") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  more\r\n\r\n") << 400;
        QTest::addRow("control character") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01" "b\r\n\r\n") << 400;
        QTest::addRow("bare CR") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n") << 400;
        static const char nul[] = "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n";
        QTest::addRow("NUL in a value") << QByteArray(nul, sizeof nul - 1) << 400;
        QTest::addRow("URL of 2 MiB, unfinished") << ("GET /" + QByteArray(2 * 1024 * 1024, 'a')) << 414;
        QTest::addRow("request line over 8 KiB") << ("GET /" + QByteArray(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n") << 414;
        QTest::addRow("no version") << QByteArray("GET /\r\n\r\n") << 400;
        QTest::addRow("two spaces") << QByteArray("GET  / HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
        QTest::addRow("HTTP/2.0") << QByteArray("GET / HTTP/2.0\r\n\r\n") << 505;
        QTest::addRow("not HTTP") << QByteArray("GET / FTP/1.1\r\n\r\n") << 400;
        QTest::addRow("target not a path") << QByteArray("GET index.html HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
        QTest::addRow("method not a token") << QByteArray("G{T / HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
        QTest::addRow("HTTP/1.1 without Host") << QByteArray("GET / HTTP/1.1\r\nX-A: 1\r\n\r\n") << 400;
        QTest::addRow("two Hosts") << QByteArray("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") << 400;
    }

    void refusals()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(int, status);
        for (int chunk : {1, 5, 1 << 30}) {
            if (chunk == 1 && bytes.size() > 100000)
                continue;
            HttpRequestParser p(16 * 1024);
            int refusal = 0;
            parseAll(bytes, chunk, &refusal, &p);
            QCOMPARE(refusal, status);
            p.append("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); // stays refused
            ParsedRequest r;
            QCOMPARE(p.next(&r), HttpRequestParser::Step::Refused);
        }
    }

    // Review finding: bare LF line ends are accepted, and so framed like CRLF ones.
    void bareLineFeedsAreFramed()
    {
        for (int chunk : {1, 3, 4096}) {
            HttpRequestParser p(16 * 1024);
            const QList<ParsedRequest> got = parseAll("POST /a HTTP/1.1\nHost: x\nContent-Length: 3\n\nabcGET /b HTTP/1.1\r\nHost: x\n\r\n", chunk, nullptr, &p);
            QCOMPARE(got.size(), 2);
            QCOMPARE(got[0].body, QByteArray("abc"));
            QCOMPARE(got[1].target, QByteArray("/b"));
            QVERIFY(!p.inRequest());
        }
    }

    void identityAndAgreeingLengthsPass()
    {
        const auto got = parseAll("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx", 4096);
        QCOMPARE(got.size(), 1);
        QCOMPARE(got[0].body, QByteArray("x"));
    }

    void keepAliveAndContinue()
    {
        const auto got = parseAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n"
                                  "GET / HTTP/1.0\r\n\r\n"
                                  "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
                                  "\r\n\r\n" // empty lines between requests are skipped
                                  "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
                                  4096);
        QCOMPARE(got.size(), 5);
        QCOMPARE(got[0].keepAlive, true);
        QCOMPARE(got[1].keepAlive, false);
        QCOMPARE(got[2].keepAlive, false);
        QCOMPARE(got[2].minorVersion, 0);
        QCOMPARE(got[3].keepAlive, true);
        QCOMPARE(got[4].expectsContinue, true);
        HttpRequestParser p(16 * 1024);
        p.append("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
        ParsedRequest r;
        QCOMPARE(p.next(&r), HttpRequestParser::Step::NeedMore);
        QVERIFY(p.awaitsContinue());
        p.append("ok");
        QCOMPARE(p.next(&r), HttpRequestParser::Step::Request);
        QVERIFY(!p.awaitsContinue());
    }

    // What the parser holds is one request's worth: consumed bytes are dropped as it goes.
    void heldBytesStayBounded()
    {
        HttpRequestParser p(16 * 1024);
        const QByteArray one = "POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789";
        qsizetype most = 0;
        for (int i = 0; i < 20000; ++i) {
            p.append(one);
            ParsedRequest r;
            QCOMPARE(p.next(&r), HttpRequestParser::Step::Request);
            most = std::max(most, p.buffered());
        }
        QCOMPARE(most, qsizetype(0));
        QCOMPARE(p.completedRequests(), qint64(20000));
    }
};

QTEST_GUILESS_MAIN(TestFraming)
#include "tst_framing.moc"
