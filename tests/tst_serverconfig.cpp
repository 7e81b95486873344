// SPDX-License-Identifier: Apache-2.0
// Configuration precedence (flags > environment > file), every refusal of a bad value, the strict
// config file (each way the old QSettings reader dropped values silently), and --check-config
// run on the real binary with its secrets masked.
#include "serverconfig.h"

#include <QProcess>
#include <QRegularExpression>
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

    static QString writeFile(const QTemporaryDir &dir, const QByteArray &text, const QString &name = QStringLiteral("server.conf"))
    {
        const QString file = dir.filePath(name);
        QFile f(file);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return QString();
        f.write(text);
        return file;
    }

    static int runServer(const QStringList &args, QByteArray *output)
    {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("SLUICE_ADMIN_TOKEN"));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(SLUICE_SERVER_BINARY), args);
        if (!p.waitForFinished(20000)) {
            p.kill();
            p.waitForFinished();
            return -1;
        }
        *output = p.readAll();
        return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    }

private Q_SLOTS:
    // Defect: option help written in UTF-8 was printed as Latin-1 ("host:port,â¦").
    void helpIsUtf8AndNamesTheMigrateCommand()
    {
        QByteArray out;
        QCOMPARE(runServer({QStringLiteral("--help")}, &out), 0);
        const QString text = QString::fromUtf8(out);
        QVERIFY2(text.contains(QStringLiteral("host:port,host:port,\u2026")), out.constData());
        QVERIFY2(!text.contains(QStringLiteral("\u00e2")), out.constData());
        QVERIFY2(text.contains(QStringLiteral("sluice-server migrate [--demo]")), out.constData());
    }

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
        QCOMPARE(c->redisBatch, 64);
        c = parse({QStringLiteral("--redis-sentinel"), QStringLiteral("10.0.0.1:26379, 10.0.0.2:26379"), QStringLiteral("--redis-master"),
                   QStringLiteral("sluice"), QStringLiteral("--redis-batch"), QStringLiteral("1")},
                  QProcessEnvironment(), &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->storeName(), QStringLiteral("redis"));
        QCOMPARE(c->redisSentinels, (QStringList{QStringLiteral("10.0.0.1:26379"), QStringLiteral("10.0.0.2:26379")}));
        QCOMPARE(c->redisMaster, QStringLiteral("sluice"));
        QCOMPARE(c->redisBatch, 1);
    }

    // Issue 20, defect 9: a fleet that forgot Redis limits per instance: said, not silent.
    void postgresWithoutAStoreIsAWarning()
    {
        QString error;
        auto c = parse({QStringLiteral("--postgres"), QStringLiteral("host=db dbname=sluice")}, QProcessEnvironment(), &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->warnings().size(), 1);
        QVERIFY(c->warnings().first().contains(QStringLiteral("each instance admits every limit on its own")));
        QVERIFY(c->describe().contains(QStringLiteral("# warning: the registry is in Postgres but the counts are in this process's memory")));
        for (const QStringList &store : {QStringList{QStringLiteral("--redis"), QStringLiteral("redis://r:6379")},
                                         QStringList{QStringLiteral("--redis-cluster"), QStringLiteral("r:7000")},
                                         QStringList{QStringLiteral("--redis-sentinel"), QStringLiteral("s:26379"), QStringLiteral("--redis-master"), QStringLiteral("m")}}) {
            c = parse(QStringList{QStringLiteral("--postgres"), QStringLiteral("host=db")} + store, QProcessEnvironment(), &error);
            QVERIFY2(c, qPrintable(error));
            QVERIFY(c->warnings().isEmpty());
        }
        c = parse({}, QProcessEnvironment(), &error); // the embedded default: one process, nothing to warn about
        QVERIFY(c && c->warnings().isEmpty());
    }

    void badValuesAreRefused_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::addRow("port out of range") << QStringList{QStringLiteral("--port"), QStringLiteral("70000")} << "--port";
        QTest::addRow("port not a number") << QStringList{QStringLiteral("--port"), QStringLiteral("http")} << "--port";
        QTest::addRow("bind not an address") << QStringList{QStringLiteral("--bind"), QStringLiteral("example.org")} << "--bind";
        QTest::addRow("redis scheme") << QStringList{QStringLiteral("--redis"), QStringLiteral("http://x:1")} << "redis://[user:password@]host:port";
        QTest::addRow("rediss not yet") << QStringList{QStringLiteral("--redis"), QStringLiteral("rediss://x:1")} << "rediss";
        QTest::addRow("cluster seed without port") << QStringList{QStringLiteral("--redis-cluster"), QStringLiteral("host")} << "host:port";
        QTest::addRow("both redis kinds") << QStringList{QStringLiteral("--redis"), QStringLiteral("redis://a:1"), QStringLiteral("--redis-cluster"), QStringLiteral("a:1")} << "exclude";
        QTest::addRow("sentinel without master") << QStringList{QStringLiteral("--redis-sentinel"), QStringLiteral("a:26379")} << "go together";
        QTest::addRow("master without sentinel") << QStringList{QStringLiteral("--redis-master"), QStringLiteral("m")} << "go together";
        QTest::addRow("sentinel without port") << QStringList{QStringLiteral("--redis-sentinel"), QStringLiteral("a"), QStringLiteral("--redis-master"), QStringLiteral("m")} << "host:port";
        QTest::addRow("sentinel and redis") << QStringList{QStringLiteral("--redis-sentinel"), QStringLiteral("a:1"), QStringLiteral("--redis-master"), QStringLiteral("m"), QStringLiteral("--redis"), QStringLiteral("redis://a:1")} << "exclude";
        QTest::addRow("batch zero") << QStringList{QStringLiteral("--redis-batch"), QStringLiteral("0")} << "--redis-batch";
        QTest::addRow("batch too big") << QStringList{QStringLiteral("--redis-batch"), QStringLiteral("5000")} << "--redis-batch";
        QTest::addRow("failure mode") << QStringList{QStringLiteral("--failure-mode"), QStringLiteral("maybe")} << "fail-closed";
        QTest::addRow("instances zero") << QStringList{QStringLiteral("--instances"), QStringLiteral("0")} << "--instances";
        QTest::addRow("unknown flag") << QStringList{QStringLiteral("--frobnicate")} << "frobnicate";
        QTest::addRow("missing config file") << QStringList{QStringLiteral("--config"), QStringLiteral("/nonexistent/sluice.conf")} << "does not exist";
        QTest::addRow("stray argument") << QStringList{QStringLiteral("redis://x:1")} << "unexpected argument";
        QTest::addRow("max keys too small") << QStringList{QStringLiteral("--max-keys"), QStringLiteral("5")} << "--max-keys";
        QTest::addRow("request timeout zero") << QStringList{QStringLiteral("--request-timeout"), QStringLiteral("0")} << "--request-timeout";
        QTest::addRow("idle timeout not a number") << QStringList{QStringLiteral("--idle-timeout"), QStringLiteral("1m")} << "--idle-timeout";
        // The inference door (issue 25)
        QTest::addRow("upstream https") << QStringList{QStringLiteral("--upstream"), QStringLiteral("https://models:443")} << "TLS sidecar";
        QTest::addRow("upstream not a URL") << QStringList{QStringLiteral("--upstream"), QStringLiteral("models:8000")} << "http://host:port[/prefix]";
        QTest::addRow("upstream with credentials") << QStringList{QStringLiteral("--upstream"), QStringLiteral("http://u:secret@models:8000")} << "--upstream-api-key-file";
        QTest::addRow("upstream with a query") << QStringList{QStringLiteral("--upstream"), QStringLiteral("http://models:8000/?x=1")} << "http://host:port[/prefix]";
        QTest::addRow("upstream key file missing") << QStringList{QStringLiteral("--upstream-api-key-file"), QStringLiteral("/nonexistent/key")} << "cannot read /nonexistent/key";
        QTest::addRow("door body limit too small") << QStringList{QStringLiteral("--door-max-body-bytes"), QStringLiteral("100")} << "--door-max-body-bytes";
        QTest::addRow("door in flight zero") << QStringList{QStringLiteral("--door-max-in-flight"), QStringLiteral("0")} << "--door-max-in-flight";
        QTest::addRow("upstream timeout zero") << QStringList{QStringLiteral("--upstream-first-byte-timeout-ms"), QStringLiteral("0")} << "--upstream-first-byte-timeout-ms";
        QTest::addRow("door default max tokens") << QStringList{QStringLiteral("--door-default-max-tokens"), QStringLiteral("x")} << "--door-default-max-tokens";
    }

    void badValuesAreRefused()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        QString error;
        QVERIFY(!parse(args, QProcessEnvironment(), &error));
        QVERIFY2(error.contains(message), qPrintable(error));
    }

    // Defect: the shipped example `redis-cluster = a:7000,b:7001,c:7002`, uncommented, started the
    // memory store (QSettings read the commas as a list): a fleet admitting N times its limits.
    void fileKeepsCommasAndSemicolons()
    {
        QTemporaryDir dir;
        const QString file = writeFile(dir, "# a comment\n\n  redis-cluster = 10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002\n"
                                            "postgres = host=db dbname=sluice user=sluice password=a;b#c\n"
                                            "admin-token = tok;en\n");
        QString error;
        const auto c = parse({QStringLiteral("--config"), file}, QProcessEnvironment(), &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->storeName(), QStringLiteral("redis-cluster"));
        QCOMPARE(c->redisCluster.size(), 3);
        QCOMPARE(c->redisCluster.at(2), QStringLiteral("10.0.0.3:7002"));
        QCOMPARE(c->postgres, QStringLiteral("host=db dbname=sluice user=sluice password=a;b#c"));
        QCOMPARE(c->adminToken, QStringLiteral("tok;en"));
    }

    // The shipped example parses as it is, and with every example line uncommented.
    void shippedExampleParses()
    {
        QFile shipped(QStringLiteral(SLUICE_SOURCE_DIR "/packaging/server.conf"));
        QVERIFY(shipped.open(QIODevice::ReadOnly));
        const QByteArray text = shipped.readAll();
        QTemporaryDir dir;
        QString error;
        auto c = parse({QStringLiteral("--config"), writeFile(dir, text)}, QProcessEnvironment(), &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->storeName(), QStringLiteral("memory"));
        // Uncomment the cluster example (and the settings around it, but not the other store, nor
        // the credentials: they name a file that exists only on a real machine).
        QByteArray uncommented;
        for (const QByteArray &line : text.split('\n')) {
            static const QRegularExpression setting(QStringLiteral("^# [a-z-]+ = "));
            if (setting.match(QString::fromUtf8(line)).hasMatch() && !line.startsWith("# redis =") && !line.startsWith("# postgres =")
                && !line.startsWith("# redis-user =") && !line.startsWith("# redis-password-file ="))
                uncommented += line.mid(2) + '\n';
            else
                uncommented += line + '\n';
        }
        c = parse({QStringLiteral("--config"), writeFile(dir, uncommented)}, QProcessEnvironment(), &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->storeName(), QStringLiteral("redis-cluster"));
        QCOMPARE(c->redisCluster.size(), 3);
    }

    void badFilesAreRefused_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("message");
        QTest::addRow("misspelled key") << QByteArray("port = 8000\nredis-clustr = a:1\n") << QStringLiteral("line 2: unknown key 'redis-clustr'");
        QTest::addRow("ini section") << QByteArray("[General]\nport = 1\n") << QStringLiteral("line 1: expected 'key = value'");
        QTest::addRow("no equals") << QByteArray("port 8000\n") << QStringLiteral("line 1: expected 'key = value'");
        QTest::addRow("twice") << QByteArray("port = 1\nport = 2\n") << QStringLiteral("line 2: 'port' is already set on line 1");
        QTest::addRow("bad value names its line") << QByteArray("\nthreads = many\n") << QStringLiteral("line 2) must be an integer");
        QTest::addRow("bad mode") << QByteArray("failure-mode = open\n") << QStringLiteral("must be local, fail-open or fail-closed");
    }

    void badFilesAreRefused()
    {
        QFETCH(QByteArray, text);
        QFETCH(QString, message);
        QTemporaryDir dir;
        const QString file = writeFile(dir, text);
        QString error;
        QVERIFY(!parse({QStringLiteral("--config"), file}, QProcessEnvironment(), &error));
        QVERIFY2(error.contains(message), qPrintable(error));
        QVERIFY2(error.contains(file), qPrintable(error));
    }

    void unreadableFileIsRefused()
    {
        QTemporaryDir dir;
        QString error;
        // A directory where the file should be (unreadable as a file even for root).
        QVERIFY(!parse({QStringLiteral("--config"), dir.path()}, QProcessEnvironment(), &error));
        QVERIFY2(error.contains(QStringLiteral("cannot read config file")), qPrintable(error));
        QProcessEnvironment env;
        env.insert(QStringLiteral("SLUICE_CONFIG"), dir.path());
        QVERIFY(!parse({}, env, &error));
        QVERIFY2(error.contains(QStringLiteral("cannot read config file")), qPrintable(error));
    }

    // The binary: a bad file is exit 2 with the reason; --check-config prints the effective
    // configuration with every secret masked and exits 0, and starts nothing.
    void checkConfigOnTheBinary()
    {
        QTemporaryDir dir;
        QByteArray out;
        QString file = writeFile(dir, "port = 8000\nredis-clustr = a:1\n");
        QCOMPARE(runServer({QStringLiteral("--config"), file, QStringLiteral("--check-config")}, &out), 2);
        QVERIFY2(out.contains("unknown key 'redis-clustr'"), out.constData());
        QCOMPARE(runServer({QStringLiteral("--config"), file}, &out), 2); // and never starts on defaults
        QVERIFY2(out.contains("unknown key"), out.constData());

        file = writeFile(dir, "port = 18123\nadmin-token = Admin-Secret-77\n"
                              "postgres = host=db dbname=sluice user=sluice password=Pg-Secret-88\n");
        QCOMPARE(runServer({QStringLiteral("--config"), file, QStringLiteral("--check-config")}, &out), 0);
        QVERIFY2(out.contains("configuration OK"), out.constData());
        QVERIFY2(out.contains("port = 18123  # file line 1"), out.constData());
        QVERIFY2(out.contains("admin-token = ****"), out.constData());
        QVERIFY2(out.contains("password=****"), out.constData());
        QVERIFY2(!out.contains("Admin-Secret-77") && !out.contains("Pg-Secret-88"), out.constData());
        QVERIFY2(out.contains("redis-cluster =  # default"), out.constData());
    }

    void redisUrlErrorsHideThePassword()
    {
        QString error;
        QVERIFY(!parse({QStringLiteral("--redis"), QStringLiteral("rediss://u:Redis-Secret-9@h:1")}, QProcessEnvironment(), &error));
        QVERIFY2(!error.contains(QStringLiteral("Redis-Secret-9")), qPrintable(error));
        QVERIFY2(error.contains(QStringLiteral("u:****@h")), qPrintable(error));
    }

    // Redis credentials off the command line: SLUICE_REDIS_PASSWORD or a password file (its first
    // line), an ACL user by flag or environment; every one a secret the logs mask.
    void redisCredentialsFromTheEnvironmentOrAFile()
    {
        QString error;
        QProcessEnvironment env;
        env.insert(QStringLiteral("SLUICE_REDIS_PASSWORD"), QStringLiteral("Env-Secret-7"));
        env.insert(QStringLiteral("SLUICE_REDIS_USER"), QStringLiteral("sluice"));
        auto c = parse({QStringLiteral("--redis-cluster"), QStringLiteral("127.0.0.1:7000")}, env, &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->redisUser, QStringLiteral("sluice"));
        QCOMPARE(c->redisPassword, QStringLiteral("Env-Secret-7"));
        QVERIFY(c->secrets().contains(QStringLiteral("Env-Secret-7")));
        QVERIFY(!c->describe().contains(QStringLiteral("Env-Secret-7")));

        QTemporaryDir dir;
        const QString file = writeFile(dir, "File-Secret-8\nsecond line ignored\n", QStringLiteral("redis.pw"));
        c = parse({QStringLiteral("--redis"), QStringLiteral("redis://h:1"), QStringLiteral("--redis-password-file"), file}, env, &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->redisPassword, QStringLiteral("File-Secret-8")); // the file wins over the environment
        QVERIFY(c->describe().contains(file));
        QVERIFY(!c->describe().contains(QStringLiteral("File-Secret-8")));

        QVERIFY(!parse({QStringLiteral("--redis-password-file"), dir.filePath(QStringLiteral("missing"))}, QProcessEnvironment(), &error));
        QVERIFY2(error.contains(QStringLiteral("cannot read")), qPrintable(error));
        const QString empty = writeFile(dir, QByteArray(), QStringLiteral("empty.pw"));
        QVERIFY(!parse({QStringLiteral("--redis-password-file"), empty}, QProcessEnvironment(), &error));
        QVERIFY2(error.contains(QStringLiteral("holds no password")), qPrintable(error));
        QVERIFY(!parse({QStringLiteral("--redis-user"), QStringLiteral("u")}, QProcessEnvironment(), &error));
        QVERIFY2(error.contains(QStringLiteral("needs a password")), qPrintable(error));
        // A password in the URL is accepted now (and masked).
        c = parse({QStringLiteral("--redis"), QStringLiteral("redis://u:Url-Secret-9@h:1/2")}, QProcessEnvironment(), &error);
        QVERIFY2(c, qPrintable(error));
        QVERIFY(c->secrets().contains(QStringLiteral("Url-Secret-9")));
        QVERIFY(!c->describe().contains(QStringLiteral("Url-Secret-9")));
    }
};

QTEST_GUILESS_MAIN(TestServerConfig)
#include "tst_serverconfig.moc"
