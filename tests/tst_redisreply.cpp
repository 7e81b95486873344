// SPDX-License-Identifier: Apache-2.0
// Redis replies as Sluice reads them: hiredis's reader behind our types, and the bound on array
// sizes that fuzzing showed was missing (hiredis 0.14 callocs an array from the count the server
// announces: "*222222222" cost 1.7 GB before any element arrived), through the reader and through
// a real RedisConnection talking to a misbehaving server on a loopback socket.
#include "redis/redisconnection.h"
#include "redis/redisreply.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QtTest>
#include <malloc.h>

using namespace sluice;

namespace {
qint64 allocatedBytes()
{
    const struct mallinfo2 m = mallinfo2();
    return static_cast<qint64>(m.uordblks + m.hblkhd);
}
} // namespace

class TestRedisReply : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void readsReplies()
    {
        RedisReplyReader reader;
        reader.feed("*3\r\n:1\r\n$5\r\nhel");
        RedisReply reply;
        QCOMPARE(reader.next(&reply), RedisReplyReader::Next::NeedMore);
        reader.feed("lo\r\n-NOSCRIPT No matching script\r\n+OK\r\n$-1");
        QCOMPARE(reader.next(&reply), RedisReplyReader::Next::Reply);
        QCOMPARE(reply.type, RedisReply::Type::Array);
        QCOMPARE(reply.elements.size(), size_t(3));
        QCOMPARE(reply.elements[0].integer, qint64(1));
        QCOMPARE(reply.elements[1].str, QByteArray("hello"));
        QVERIFY(reply.elements[2].isError());
        QCOMPARE(reader.next(&reply), RedisReplyReader::Next::Reply);
        QCOMPARE(reply.type, RedisReply::Type::Status);
        QCOMPARE(reader.next(&reply), RedisReplyReader::Next::NeedMore); // "$-1" without its CRLF yet
        reader.feed("\r\n");
        QCOMPARE(reader.next(&reply), RedisReplyReader::Next::Reply);
        QCOMPARE(reply.type, RedisReply::Type::Nil);
    }

    void hugeArrayCountIsRefused()
    {
        const qint64 before = allocatedBytes();
        RedisReplyReader reader;
        reader.feed("*222222222\r\n:1\r\n");
        RedisReply reply;
        QString error;
        QCOMPARE(reader.next(&reply, &error), RedisReplyReader::Next::ProtocolError);
        QVERIFY2(error.contains(QStringLiteral("larger than")), qPrintable(error));
        QVERIFY2(allocatedBytes() - before < 64 * 1024 * 1024, qPrintable(QString::number(allocatedBytes() - before)));
        // Just under the bound is read as usual.
        RedisReplyReader ok;
        ok.feed("*2\r\n:7\r\n:8\r\n");
        QCOMPARE(ok.next(&reply), RedisReplyReader::Next::Reply);
    }

    void connectionDropsAServerThatAnnouncesAHugeArray()
    {
        QTcpServer evil; // answers every command with a gigantic array header
        QVERIFY(evil.listen(QHostAddress::LocalHost, 0));
        connect(&evil, &QTcpServer::newConnection, this, [&evil] {
            while (QTcpSocket *s = evil.nextPendingConnection())
                connect(s, &QTcpSocket::readyRead, s, [s] {
                    s->readAll();
                    s->write("*222222222\r\n");
                });
        });
        const qint64 before = allocatedBytes();
        RedisConnection conn(QStringLiteral("127.0.0.1"), evil.serverPort(), 0, 2000);
        conn.open();
        QTRY_VERIFY_WITH_TIMEOUT(conn.isConnected(), 5000);
        bool answered = false;
        RedisResult result;
        conn.command({QByteArrayLiteral("PING")}, [&](const RedisResult &r) {
            answered = true;
            result = r;
        });
        QTRY_VERIFY_WITH_TIMEOUT(answered, 5000);
        QVERIFY(!result.ok);
        QVERIFY2(allocatedBytes() - before < 64 * 1024 * 1024, qPrintable(QString::number(allocatedBytes() - before)));
    }
};

QTEST_GUILESS_MAIN(TestRedisReply)
#include "tst_redisreply.moc"
