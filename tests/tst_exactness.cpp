// SPDX-License-Identifier: Apache-2.0
// Exactness across instances: 4 sluice-server processes × 64 concurrent clients against one key
// with limit 100 admit exactly 100, round after round, on one Redis and on a Redis Cluster (keys
// of a check in different slots).
#include "services.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

using namespace sluice;

namespace {

// One keep-alive connection sending `count` checks one after another.
class Client : public QObject
{
public:
    Client(quint16 port, QByteArray request, int count, QObject *parent)
        : QObject(parent), m_request(std::move(request)), m_left(count)
    {
        connect(&m_socket, &QTcpSocket::connected, this, [this] { sendNext(); });
        connect(&m_socket, &QTcpSocket::readyRead, this, [this] { onRead(); });
        connect(&m_socket, &QTcpSocket::errorOccurred, this, [this] { m_failed = true; m_left = 0; });
        m_socket.connectToHost(QHostAddress::LocalHost, port);
    }
    bool finished() const { return m_left == 0 && !m_waiting; }
    int ok = 0, limited = 0, other = 0;
    bool failed() const { return m_failed; }

private:
    void sendNext()
    {
        if (m_left == 0)
            return;
        --m_left;
        m_waiting = true;
        m_buffer.clear();
        m_socket.write(m_request);
    }
    void onRead()
    {
        m_buffer += m_socket.readAll();
        const qsizetype head = m_buffer.indexOf("\r\n\r\n");
        if (head < 0)
            return;
        const qsizetype cl = m_buffer.indexOf("Content-Length: ");
        const qint64 length = m_buffer.mid(cl + 16, m_buffer.indexOf('\r', cl) - cl - 16).toLongLong();
        if (m_buffer.size() < head + 4 + length)
            return;
        const int status = m_buffer.mid(9, 3).toInt();
        // Every answer must come from the shared store, never from the local fallback.
        if (!m_buffer.contains("\"source\":\"redis"))
            ++other;
        else if (status == 200)
            ++ok;
        else if (status == 429)
            ++limited;
        else
            ++other;
        m_waiting = false;
        sendNext();
    }

    QTcpSocket m_socket;
    QByteArray m_request;
    QByteArray m_buffer;
    int m_left;
    bool m_waiting = false;
    bool m_failed = false;
};

} // namespace

class TestExactness : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fourInstancesAdmitExactlyTheLimit_data()
    {
        QTest::addColumn<QString>("store");
        QTest::addRow("redis") << "redis";
        QTest::addRow("redis-cluster") << "redis-cluster";
    }

    void fourInstancesAdmitExactlyTheLimit()
    {
        QFETCH(QString, store);
        QString error;
        test::RedisServer redis;
        test::RedisCluster cluster;
        QStringList storeArgs;
        if (store == QStringLiteral("redis")) {
            SLUICE_REQUIRE_SERVICE(redis.start(&error), error);
            storeArgs = {QStringLiteral("--redis"), redis.url()};
        } else {
            SLUICE_REQUIRE_SERVICE(cluster.start(&error), error);
            storeArgs = {QStringLiteral("--redis-cluster"), cluster.seeds()};
        }
        // Every request of a round counts against one USER_MODEL key (limit 100), a tenant key and
        // the global key: three keys, three Cluster slots.
        QTemporaryDir dir;
        const QString registry = dir.filePath(QStringLiteral("registry.json"));
        QFile f(registry);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"tenants":[{"id":"t","name":"T"}],"users":[],"tiers":[],"models":[],"apiKeys":[],
                   "policies":[{"id":1,"scope":"USER_MODEL","windowSeconds":3600,"limit":100},
                               {"id":2,"scope":"TENANT","windowSeconds":3600,"limit":1000000000},
                               {"id":3,"scope":"GLOBAL","windowSeconds":3600,"limit":1000000000}]})");
        f.close();

        std::vector<std::unique_ptr<test::ServerProcess>> servers;
        for (int i = 0; i < 4; ++i) {
            auto s = std::make_unique<test::ServerProcess>();
            QVERIFY2(s->start(storeArgs + QStringList{QStringLiteral("--registry-file"), registry, QStringLiteral("--threads"),
                                                      QStringLiteral("1"), QStringLiteral("--instances"), QStringLiteral("4"),
                                                      QStringLiteral("--redis-timeout-ms"), QStringLiteral("2000")},
                              &error),
                     qPrintable(error));
            servers.push_back(std::move(s));
        }

        for (int round = 0; round < 20; ++round) {
            const QByteArray user = "round-" + QByteArray::number(round) + "-" + QByteArray::number(QRandomGenerator::global()->generate(), 36);
            const QByteArray body = "{\"userId\":\"" + user + "\",\"modelId\":\"gpt-4o\",\"tenantId\":\"t\"}";
            const QByteArray request = "POST /rate-limit/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\n\r\n" + body;
            std::vector<Client *> clients;
            for (int c = 0; c < 64; ++c)
                clients.push_back(new Client(servers[static_cast<size_t>(c % 4)]->port(), request, 3, this));
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < 30000
                   && !std::all_of(clients.begin(), clients.end(), [](Client *c) { return c->finished(); }))
                QTest::qWait(5);
            int ok = 0, limited = 0, other = 0;
            for (Client *c : clients) {
                QVERIFY(!c->failed());
                QVERIFY(c->finished());
                ok += c->ok;
                limited += c->limited;
                other += c->other;
                c->deleteLater();
            }
            QCOMPARE(other, 0);
            QCOMPARE(ok + limited, 192);
            QVERIFY2(ok == 100, qPrintable(QStringLiteral("round %1: %2 admitted").arg(round).arg(ok)));
        }
        for (auto &s : servers)
            QVERIFY(s->stop());
    }
};

QTEST_GUILESS_MAIN(TestExactness)
#include "tst_exactness.moc"
