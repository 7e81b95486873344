// SPDX-License-Identifier: Apache-2.0
// sluice-server: parses the configuration, starts SluiceServer, runs until SIGINT/SIGTERM.
#include "engine/redact.h"
#include "postgres/schema.h"
#include "serverconfig.h"
#include "sluiceserver.h"

#include <QCoreApplication>
#include <openssl/crypto.h>
#include <QSocketNotifier>
#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

namespace {
int g_signalPipe[2] = {-1, -1};

// Every log line goes through here: secrets of the configuration are masked wherever a library's
// message repeats them (a libpq error quoting the conninfo, say).
QStringList g_secrets;
QtMessageHandler g_defaultHandler = nullptr;
void redactingHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    g_defaultHandler(type, context, sluice::redactSecrets(message, g_secrets));
}
void onSignal(int)
{
    const char c = 1;
    [[maybe_unused]] const auto n = ::write(g_signalPipe[1], &c, 1);
}
} // namespace

int main(int argc, char *argv[])
{
    // OpenSSL (in the process through libpq and gRPC) frees its global state from an at-exit
    // handler, while a thread that has just left QThread::wait() may still run OpenSSL's
    // thread-local destructors against that state (a crash at SIGTERM, issue 20). The process is
    // ending: the kernel frees it all. First, before anything initialises OpenSSL.
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
    // The plain UNIX event dispatcher costs less per socket event than the GLib one.
    if (!qEnvironmentVariableIsSet("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sluice-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SLUICE_VERSION_STRING));

    // `sluice-server migrate [--demo] [options]`: bring the Postgres schema to this server's
    // version (the same configuration: --postgres, SLUICE_POSTGRES or `postgres =` in the file).
    QStringList arguments = QCoreApplication::arguments();
    const bool migrateCommand = arguments.size() > 1 && arguments.at(1) == QLatin1String("migrate");
    sluice::pg::MigrateOptions migrateOptions;
    if (migrateCommand) {
        arguments.removeAt(1);
        migrateOptions.demo = arguments.removeAll(QStringLiteral("--demo")) > 0;
    }
    QString error;
    bool exitNow = false;
    const auto config = sluice::ServerConfig::parse(arguments, QProcessEnvironment::systemEnvironment(), &error, &exitNow);
    if (!config) {
        if (exitNow)
            return 0;
        std::fprintf(stderr, "sluice-server: %s\n", qPrintable(error));
        return 2;
    }
    if (migrateCommand) {
        if (config->postgres.isEmpty()) {
            std::fprintf(stderr, "sluice-server migrate: no Postgres to migrate (--postgres, SLUICE_POSTGRES or "
                                 "`postgres =` in the config file)\n");
            return 2;
        }
        QString report;
        if (!sluice::pg::migrate(config->postgres, migrateOptions, &report, &error)) {
            std::fprintf(stderr, "sluice-server migrate: %s\n", qPrintable(sluice::redactSecrets(error, config->secrets())));
            return 1;
        }
        std::printf("sluice-server migrate: %s\n", qPrintable(report));
        return 0;
    }
    if (config->checkOnly) {
        std::printf("sluice-server: configuration OK\n%s", qPrintable(config->describe()));
        return 0;
    }

    g_secrets = config->secrets();
    g_defaultHandler = qInstallMessageHandler(redactingHandler);

    // Ctrl-C / SIGTERM → leave the event loop and shut the threads down in order.
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_signalPipe) == 0) {
        auto *notifier = new QSocketNotifier(g_signalPipe[0], QSocketNotifier::Read, &app);
        QObject::connect(notifier, &QSocketNotifier::activated, &app, [] { QCoreApplication::quit(); });
        std::signal(SIGINT, onSignal);
        std::signal(SIGTERM, onSignal);
    }
    std::signal(SIGPIPE, SIG_IGN);

    sluice::SluiceServer server(*config);
    if (!server.start(&error)) {
        std::fprintf(stderr, "sluice-server: %s\n", qPrintable(sluice::redactSecrets(error, config->secrets())));
        return 1;
    }
    std::printf("sluice-server listening on http://%s:%u (store: %s, registry: %s, %d threads)\n",
                qPrintable(config->bind.toString()), server.port(), qPrintable(config->storeName()),
                config->postgres.isEmpty() ? (config->registryFile.isEmpty() ? "built-in demo" : "file") : "postgres",
                config->effectiveThreads());
    for (const QString &w : config->warnings())
        std::fprintf(stderr, "sluice-server: warning: %s\n", qPrintable(w));
    if (server.grpcPort())
        std::printf("sluice-server: Envoy rate limit service (gRPC) on %s:%u\n", qPrintable(config->bind.toString()), server.grpcPort());
    std::fflush(stdout);
    const int rc = QCoreApplication::exec();
    server.stop();
    return rc;
}
