// SPDX-License-Identifier: Apache-2.0
// Configuration precedence (flags > environment > file) and every refusal of a bad value.
#include "serverconfig.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace sluice;

class TestServerConfig : public QObject
{
    Q_OBJECT

private:
    static std::optional<ServerConfig> parse(const QStringList &args, const QProcessEnvironment &env, QString *error)
    {
        return ServerConfig::parse(QStringList{QStringLiteral("sluice-server")} + args, env, error);
    }

private Q_SLOTS:
    void defaultsServeTheEmbeddedMode()
    {
        QString error;
        const auto c = parse({}, QProcessEnvironment(), &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->bind, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(c->port, quint16(8000));
        QCOMPARE(c->storeName(), QStringLiteral("memory"));
        QCOMPARE(c->failureMode, QStringLiteral("local"));
        QCOMPARE(c->instances, 1);
        QCOMPARE(c->redisTimeoutMs, 50);
        QVERIFY(c->adminToken.isEmpty());
        QVERIFY(c->postgres.isEmpty());
    }

    void flagsBeatEnvironmentBeatFile()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("server.conf"));
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("port = 7001\nthreads = 3\nredis-timeout-ms = 70\nfailure-mode = fail-open\n");
        f.close();
        QProcessEnvironment env;
        env.insert(QStringLiteral("SLUICE_PORT"), QStringLiteral("7002"));
        env.insert(QStringLiteral("SLUICE_THREADS"), QStringLiteral("2"));
        env.insert(QStringLiteral("SLUICE_ADMIN_TOKEN"), QStringLiteral("from-env"));
        QString error;
        const auto c = parse({QStringLiteral("--config"), file, QStringLiteral("--port"), QStringLiteral("7003")}, env, &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->port, quint16(7003));      // flag
        QCOMPARE(c->threads, 2);               // env over file
        QCOMPARE(c->redisTimeoutMs, 70);       // file
        QCOMPARE(c->failureMode, QStringLiteral("fail-open"));
        QCOMPARE(c->adminToken, QStringLiteral("from-env"));
        QCOMPARE(c->configFile, file);
    }

    void storesFromFlags()
    {
        QString error;
        auto c = parse({QStringLiteral("--redis"), QStringLiteral("redis://127.0.0.1:6380/2")}, QProcessEnvironment(), &error);
        QVERIFY(c);
        QCOMPARE(c->storeName(), QStringLiteral("redis"));
        c = parse({QStringLiteral("--redis-cluster"), QStringLiteral("127.0.0.1:7000, redis://127.0.0.1:7001")}, QProcessEnvironment(), &error);
        QVERIFY(c);
        QCOMPARE(c->storeName(), QStringLiteral("redis-cluster"));
        QCOMPARE(c->redisCluster, (QStringList{QStringLiteral("127.0.0.1:7000"), QStringLiteral("127.0.0.1:7001")}));
    }

    void badValuesAreRefused_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::addRow("port out of range") << QStringList{QStringLiteral("--port"), QStringLiteral("70000")} << "--port";
        QTest::addRow("port not a number") << QStringList{QStringLiteral("--port"), QStringLiteral("http")} << "--port";
        QTest::addRow("bind not an address") << QStringList{QStringLiteral("--bind"), QStringLiteral("example.org")} << "--bind";
        QTest::addRow("redis scheme") << QStringList{QStringLiteral("--redis"), QStringLiteral("http://x:1")} << "redis://host:port";
        QTest::addRow("rediss not yet") << QStringList{QStringLiteral("--redis"), QStringLiteral("rediss://x:1")} << "rediss";
        QTest::addRow("cluster seed without port") << QStringList{QStringLiteral("--redis-cluster"), QStringLiteral("host")} << "host:port";
        QTest::addRow("both redis kinds") << QStringList{QStringLiteral("--redis"), QStringLiteral("redis://a:1"), QStringLiteral("--redis-cluster"), QStringLiteral("a:1")} << "exclude";
        QTest::addRow("failure mode") << QStringList{QStringLiteral("--failure-mode"), QStringLiteral("maybe")} << "fail-closed";
        QTest::addRow("instances zero") << QStringList{QStringLiteral("--instances"), QStringLiteral("0")} << "--instances";
        QTest::addRow("unknown flag") << QStringList{QStringLiteral("--frobnicate")} << "frobnicate";
        QTest::addRow("missing config file") << QStringList{QStringLiteral("--config"), QStringLiteral("/nonexistent/sluice.conf")} << "does not exist";
    }

    void badValuesAreRefused()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        QString error;
        QVERIFY(!parse(args, QProcessEnvironment(), &error));
        QVERIFY2(error.contains(message), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestServerConfig)
#include "tst_serverconfig.moc"
