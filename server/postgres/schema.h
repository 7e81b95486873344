// SPDX-License-Identifier: Apache-2.0
// The registry schema this server ships: the numbered migrations (compiled in from migrations/),
// the version a database is at (sluice_schema_version, written by each migration's last
// statement), the check the loader makes before it reads a registry, and `sluice-server migrate`.
// Blocking libpqxx calls: the DB thread, startup, or the migrate command only.
#pragma once

#include "postgres/layer.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace pqxx {
class connection_base; // libpqxx 6: pqxx::connection derives from it
class transaction_base;
} // namespace pqxx

namespace sluice::pg {

struct Migration
{
    int version = 0;   // the file name's number: 001_create_types_and_tables.sql → 1
    QString name;      // the file name without .sql
    QByteArray sql;
};

QList<Migration> shippedMigrations(); // in version order
int shippedSchemaVersion();           // the highest version shipped

// The version the database is at: the highest recorded; 0 when the version table exists but is
// empty; -1 when there is none (never migrated, or migrated before versions were recorded).
int schemaVersion(pqxx::transaction_base &tx);

// Throws std::runtime_error with what to do unless the database is at exactly shippedSchemaVersion()
// (inside the transaction that then reads the registry: one snapshot for both).
void requireShippedSchema(pqxx::transaction_base &tx);

struct MigrateOptions
{
    bool demo = false; // also apply examples/demo-seed.sql (never by default: its API key is public)
};

// Applies, in order and each in its own transaction, every shipped migration the database has not
// recorded, under an advisory lock (two instances migrating at once take turns). Refuses a
// database newer than this server. Returns false with *error; *report says what was done.
bool migrate(const QString &conninfo, const MigrateOptions &options, QString *report, QString *error);

} // namespace sluice::pg
