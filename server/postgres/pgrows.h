// SPDX-License-Identifier: Apache-2.0
// Reading registry rows out of libpqxx results, and the one SELECT per table that both the
// loader and the repository use. Runs on a DB thread only; never on an event-loop thread.
#pragma once

#include "postgres/layer.h"

#include "engine/registrydata.h"

#include <pqxx/pqxx>
#include <string>

namespace sluice::pg {

extern const char *const kPolicyColumns; // "id, scope, tenant_id, …" in PolicyDto order
PolicyDto policyFromRow(const pqxx::row &row);
ApiKeyRow apiKeyFromRow(const pqxx::row &row); // columns of kApiKeyColumns
extern const char *const kApiKeyColumns;
RegistryData loadRegistry(pqxx::connection &connection);

inline QString text(const pqxx::field &f) { return f.is_null() ? QString() : QString::fromStdString(f.as<std::string>()); }
inline std::string utf8(const QString &s) { return s.toStdString(); }
// A nullable text parameter: a null QString becomes SQL NULL.
inline const char *nullable(const QString &s, std::string &storage)
{
    if (s.isNull())
        return nullptr;
    storage = s.toStdString();
    return storage.c_str();
}

// A priority column: NULL → unset.
std::optional<Priority> priorityOf(const pqxx::field &f);

} // namespace sluice::pg
