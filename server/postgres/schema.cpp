// SPDX-License-Identifier: Apache-2.0
#include "postgres/schema.h"

#include "postgres/registryloader.h"

#include "engine/redact.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <algorithm>
#include <pqxx/pqxx>
#include <stdexcept>

namespace sluice::pg {

namespace {

// Tracks sluice_schema_version; any number unlikely to be taken by another application.
constexpr long long kMigrateLockId = 0x736c7569636531LL; // "sluice1"

QByteArray resource(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

QList<Migration> shippedMigrations()
{
    static const QList<Migration> migrations = [] {
        QList<Migration> out;
        static const QRegularExpression numbered(QStringLiteral("^(\\d{3})_[a-z0-9_]+\\.sql$"));
        const QDir dir(QStringLiteral(":/migrations"));
        for (const QString &file : dir.entryList(QDir::Files, QDir::Name)) {
            const auto m = numbered.match(file);
            if (!m.hasMatch())
                continue;
            out.append({m.captured(1).toInt(), file.chopped(4), resource(dir.filePath(file))});
        }
        std::sort(out.begin(), out.end(), [](const Migration &a, const Migration &b) { return a.version < b.version; });
        return out;
    }();
    return migrations;
}

int shippedSchemaVersion()
{
    const auto all = shippedMigrations();
    return all.isEmpty() ? 0 : all.constLast().version;
}

int schemaVersion(pqxx::transaction_base &tx)
{
    if (tx.exec1("SELECT to_regclass('sluice_schema_version') IS NULL")[0].as<bool>())
        return -1;
    return tx.exec1("SELECT coalesce(max(version), 0) FROM sluice_schema_version")[0].as<int>();
}

void requireShippedSchema(pqxx::transaction_base &tx)
{
    const int have = schemaVersion(tx);
    const int want = shippedSchemaVersion();
    if (have == want)
        return;
    QString why;
    if (have < 0)
        why = QStringLiteral("the database has no Sluice schema version (table sluice_schema_version): run "
                             "`sluice-server migrate` to bring it to version %1")
                  .arg(want);
    else if (have < want)
        why = QStringLiteral("the database schema is at version %1, this sluice-server needs version %2: run "
                             "`sluice-server migrate`")
                  .arg(have)
                  .arg(want);
    else
        why = QStringLiteral("the database schema is at version %1, newer than this sluice-server understands "
                             "(version %2): upgrade sluice-server")
                  .arg(have)
                  .arg(want);
    throw std::runtime_error(why.toStdString());
}

bool migrate(const QString &conninfo, const MigrateOptions &options, QString *report, QString *error)
{
    const QString secret = secretOf(conninfo);
    QStringList done;
    try {
        pqxx::connection c(withConnectTimeout(conninfo));
        {
            pqxx::nontransaction lock(c);
            lock.exec("SET client_min_messages = warning");
            lock.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrateLockId) + ")");
        }
        auto versionNow = [&c] {
            pqxx::nontransaction tx(c);
            return schemaVersion(tx);
        };
        const int before = versionNow();
        if (before > shippedSchemaVersion()) {
            *error = QStringLiteral("the database schema is at version %1, newer than this sluice-server (version %2): "
                                    "migrate with the newer sluice-server")
                         .arg(before)
                         .arg(shippedSchemaVersion());
            return false;
        }
        QList<int> recorded;
        if (before >= 0) {
            pqxx::nontransaction tx(c);
            for (const auto &row : tx.exec("SELECT version FROM sluice_schema_version"))
                recorded.append(row[0].as<int>());
        }
        for (const Migration &m : shippedMigrations()) {
            if (recorded.contains(m.version))
                continue;
            try {
                pqxx::work tx(c);
                tx.exec(m.sql.toStdString());
                tx.commit();
            } catch (const std::exception &e) {
                *error = QStringLiteral("migration %1 failed (nothing of it was applied): %2")
                             .arg(m.name, redactSecrets(QString::fromUtf8(e.what()).trimmed(), {secret}));
                return false;
            }
            done.append(m.name);
        }
        const int after = versionNow();
        if (!done.isEmpty()) {
            // Running servers re-read the registry (and so check the new version) at once.
            pqxx::nontransaction notify(c);
            notify.exec("NOTIFY sluice_policy_changed");
        }
        if (done.isEmpty())
            *report = QStringLiteral("the schema is already at version %1").arg(after);
        else
            *report = QStringLiteral("applied %1; the schema is at version %2").arg(done.join(QStringLiteral(", "))).arg(after);
        if (options.demo) {
            pqxx::work tx(c);
            tx.exec(resource(QStringLiteral(":/examples/demo-seed.sql")).toStdString());
            tx.commit();
            *report += QStringLiteral("; the demo registry is seeded (its API key is public: not for real traffic)");
        }
        return true;
    } catch (const std::exception &e) {
        *error = redactSecrets(QString::fromUtf8(e.what()).trimmed(), {secret});
        if (!done.isEmpty())
            *error += QStringLiteral(" (applied before that: %1)").arg(done.join(QStringLiteral(", ")));
        return false;
    }
}

} // namespace sluice::pg
