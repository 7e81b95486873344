// SPDX-License-Identifier: Apache-2.0
// Redis replies as Sluice reads them: hiredis's reader behind our types, and the bound on array
// sizes that fuzzing showed was missing (hiredis 0.14 callocs an array from the count the server
// announces: "*222222222" cost 1.7 GB before any element arrived), through the reader and through
// a real RedisConnection talking to a misbehaving server on a loopback socket.
#include "redis/checkbatcher.h"
#include "redis/redisconnection.h"
#include "redis/redisreply.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QtTest>
#include <limits>
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
    // Commands are written in Redis's protocol by Sluice (RespCommand), not by hiredis: the bytes
    // of every kind of argument (binary, empty, numbers at their extremes).
    void writesCommands()
    {
        QCOMPARE(formatRedisCommand({"SET", "k", "v"}), QByteArray("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"));
        QCOMPARE(formatRedisCommand({"ECHO", QByteArray(), QByteArray("a\r\n\0b", 5)}),
                 QByteArray("*3\r\n$4\r\nECHO\r\n$0\r\n\r\n$5\r\na\r\n\0b\r\n", 31));
        RespCommand c(5, 8);
        c.arg(qint64(0)).arg(qint64(-1)).arg(std::numeric_limits<qint64>::min()).arg(std::numeric_limits<qint64>::max()).arg(size_t(12));
        QCOMPARE(c.take(), QByteArray("*5\r\n$1\r\n0\r\n$2\r\n-1\r\n$20\r\n-9223372036854775808\r\n$19\r\n"
                                      "9223372036854775807\r\n$2\r\n12\r\n"));
    }

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

    // window_check.lua's reply: now, then per check one number (admitted + 2 * fits + 2^(n+1) *
    // full for its n keys) and each key's used and oldest; anything else is not that reply.
    void decodesABatchReply()
    {
        auto decode = [](const QByteArray &resp, const std::vector<size_t> &shape, qint64 *now, std::vector<bool> *admitted,
                         std::vector<std::vector<KeyState>> *states) {
            RedisReplyReader reader;
            reader.feed(resp);
            RedisReply reply;
            return reader.next(&reply) == RedisReplyReader::Next::Reply && decodeBatchReply(reply, shape, now, admitted, states);
        };
        qint64 now = 0;
        std::vector<bool> admitted;
        std::vector<std::vector<KeyState>> states;
        // Check 1 (2 keys): admitted, fits key 1 only (key 2 a shadow), key 2 full: 1 + 2 * 0b01 + 8 * 0b10.
        // Check 2 (1 key): refused, key 1 full: 0 + 0 + 4 * 1.
        QVERIFY(decode("*9\r\n:1700000000000000\r\n:19\r\n:3\r\n:1699999990000000\r\n:5\r\n:-1\r\n"
                       ":4\r\n:7\r\n:1699999000000000\r\n",
                       {2, 1}, &now, &admitted, &states));
        QCOMPARE(now, qint64(1700000000000000));
        QCOMPARE(admitted, (std::vector<bool>{true, false}));
        QCOMPARE(states[0][0].used, qint64(3));
        QCOMPARE(states[0][0].oldestUs, qint64(1699999990000000));
        QVERIFY(states[0][0].fits && !states[0][0].full);
        QCOMPARE(states[0][1].oldestUs, qint64(-1));
        QVERIFY(!states[0][1].fits && states[0][1].full);
        QCOMPARE(states[1][0].used, qint64(7));
        QVERIFY(!states[1][0].fits && states[1][0].full);
        // A head past its 2n + 1 bits, a negative one, a missing element, a string: not the reply.
        QVERIFY(!decode("*4\r\n:1\r\n:8\r\n:0\r\n:-1\r\n", {1}, &now, &admitted, &states));
        QVERIFY(!decode("*4\r\n:1\r\n:-1\r\n:0\r\n:-1\r\n", {1}, &now, &admitted, &states));
        QVERIFY(!decode("*3\r\n:1\r\n:7\r\n:0\r\n", {1}, &now, &admitted, &states));
        QVERIFY(!decode("*4\r\n:1\r\n$1\r\n7\r\n:0\r\n:-1\r\n", {1}, &now, &admitted, &states));
        QVERIFY(decode("*4\r\n:1\r\n:7\r\n:0\r\n:-1\r\n", {1}, &now, &admitted, &states));
    }

    void reusedReplyObjectsCarryNothingOver()
    {
        // The reader keeps its thread's freed reply objects for the next replies (redisreply.cpp):
        // one reply's objects come back as another's of other types, sizes and nesting.
        RedisReplyReader reader;
        RedisReply reply;
        for (int round = 0; round < 3; ++round) {
            reader.feed("*4\r\n:-5\r\n*2\r\n$1\r\na\r\n:9\r\n*0\r\n$-1\r\n");
            QCOMPARE(reader.next(&reply), RedisReplyReader::Next::Reply);
            QCOMPARE(reply.elements.size(), size_t(4));
            QCOMPARE(reply.elements[0].integer, qint64(-5));
            QCOMPARE(reply.elements[1].elements.size(), size_t(2));
            QCOMPARE(reply.elements[1].elements[0].str, QByteArray("a"));
            QCOMPARE(reply.elements[1].elements[1].integer, qint64(9));
            QCOMPARE(reply.elements[2].type, RedisReply::Type::Array);
            QVERIFY(reply.elements[2].elements.empty());
            QCOMPARE(reply.elements[3].type, RedisReply::Type::Nil);
            reader.feed("*3\r\n$2\r\nxy\r\n*-1\r\n:0\r\n");
            QCOMPARE(reader.next(&reply), RedisReplyReader::Next::Reply);
            QCOMPARE(reply.elements.size(), size_t(3));
            QCOMPARE(reply.elements[0].str, QByteArray("xy"));
            QCOMPARE(reply.elements[0].integer, qint64(0));
            QCOMPARE(reply.elements[1].type, RedisReply::Type::Nil);
            QCOMPARE(reply.elements[2].type, RedisReply::Type::Integer);
            QCOMPARE(reply.elements[2].integer, qint64(0));
            QCOMPARE(reader.next(&reply), RedisReplyReader::Next::NeedMore);
        }
        {
            // A reply read halfway when its reader goes: its objects are given back too (ASan: no leak).
            RedisReplyReader partial;
            partial.feed("*3\r\n:1\r\n*2\r\n:2\r\n");
            QCOMPARE(partial.next(&reply), RedisReplyReader::Next::NeedMore);
        }
        reader.feed("*1\r\n:42\r\n");
        QCOMPARE(reader.next(&reply), RedisReplyReader::Next::Reply);
        QCOMPARE(reply.elements.size(), size_t(1));
        QCOMPARE(reply.elements[0].integer, qint64(42));
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
