// SPDX-License-Identifier: Apache-2.0
#include "postgres/pgrows.h"

#include "postgres/schema.h"

namespace sluice::pg {

std::optional<Priority> priorityOf(const pqxx::field &f)
{
    return f.is_null() ? std::nullopt : priorityFromName(text(f));
}

namespace {
QStringList textArray(const pqxx::field &f)
{
    QStringList out;
    if (f.is_null())
        return out;
    auto parser = f.as_array();
    for (auto step = parser.get_next(); step.first != pqxx::array_parser::done; step = parser.get_next()) {
        if (step.first == pqxx::array_parser::string_value)
            out.append(QString::fromStdString(step.second));
    }
    return out;
}
} // namespace

const char *const kPolicyColumns = "id, scope::text, tenant_id, user_id, api_key_id, model_id, model_tier_id, "
                                   "window_seconds, limit_value, enabled, description, unit, algorithm, burst, shadow, "
                                   "adaptive, min_factor, max_factor";
const char *const kApiKeyColumns = "id, tenant_id, user_id, encode(key_hash, 'hex'), prefix, "
                                   "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), revoked_at IS NOT NULL, priority";

PolicyDto policyFromRow(const pqxx::row &row)
{
    PolicyDto p;
    p.id = row[0].as<qint64>();
    p.scope = scopeFromName(text(row[1])).value_or(Scope::Global);
    p.tenantId = text(row[2]);
    p.userId = text(row[3]);
    if (!row[4].is_null())
        p.apiKeyId = row[4].as<qint64>();
    p.modelId = text(row[5]);
    p.modelTier = text(row[6]);
    p.unit = unitFromName(text(row[11])).value_or(Unit::Requests);
    p.algorithm = algorithmFromName(text(row[12])).value_or(Algorithm::SlidingLog);
    if (!row[13].is_null())
        p.burst = row[13].as<qint64>();
    p.shadow = row[14].as<bool>();
    p.adaptive = row[15].as<bool>();
    p.minFactor = row[16].as<double>();
    p.maxFactor = row[17].as<double>();
    p.windowSeconds = row[7].is_null() ? 0 : row[7].as<qint64>();
    p.limit = row[8].as<qint64>();
    p.enabled = row[9].as<bool>();
    p.description = text(row[10]);
    return p;
}

ApiKeyRow apiKeyFromRow(const pqxx::row &row)
{
    ApiKeyRow k;
    k.id = row[0].as<qint64>();
    k.tenantId = text(row[1]);
    k.userId = text(row[2]);
    k.sha256 = QByteArray::fromHex(QByteArray::fromStdString(row[3].as<std::string>()));
    k.prefix = text(row[4]);
    k.createdAt = QDateTime::fromString(text(row[5]), Qt::ISODate);
    k.revoked = row[6].as<bool>();
    k.priority = priorityOf(row[7]);
    return k;
}

RegistryData loadRegistry(pqxx::connection &connection)
{
    RegistryData d;
    // One snapshot of all six tables: REPEATABLE READ takes it at the first query, so a change
    // committed between two of these SELECTs cannot make the registry mix two states (a policy
    // naming a tenant this load did not see). Read-only: the loader never writes.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(connection);
    requireShippedSchema(tx); // never read a schema this server does not know (same snapshot)
    for (const auto &row : tx.exec("SELECT id, COALESCE(NULLIF(display_name, ''), name), priority FROM tenant ORDER BY id"))
        d.tenants.append({text(row[0]), text(row[1]), priorityOf(row[2])});
    for (const auto &row : tx.exec("SELECT id, tenant_id FROM user_account ORDER BY id"))
        d.users.append({text(row[0]), text(row[1])});
    for (const auto &row : tx.exec("SELECT id, priority FROM model_tier ORDER BY id"))
        d.tiers.append({text(row[0]), priorityOf(row[1])});
    for (const auto &row : tx.exec("SELECT id, tier_id, upstream FROM model ORDER BY id"))
        d.models.append({text(row[0]), text(row[1]), text(row[2])});
    for (const auto &row : tx.exec(std::string("SELECT ") + kApiKeyColumns + " FROM api_key ORDER BY id"))
        d.apiKeys.append(apiKeyFromRow(row));
    for (const auto &row : tx.exec(std::string("SELECT ") + kPolicyColumns + " FROM rate_limit_policy ORDER BY id"))
        d.policies.append(policyFromRow(row));
    for (const auto &row : tx.exec("SELECT p.name, p.queue_threshold, p.kv_cache_threshold, p.metrics_urls, p.queue_query, "
                                   "p.kv_cache_query, (SELECT array_agg(m.id ORDER BY m.id) FROM model m WHERE m.pool_name = p.name) "
                                   "FROM pool p ORDER BY p.name")) {
        PoolRow pool;
        pool.name = text(row[0]);
        pool.queueThreshold = row[1].as<double>();
        pool.kvCacheThreshold = row[2].as<double>();
        pool.metricsUrls = textArray(row[3]);
        pool.queueQuery = text(row[4]);
        pool.kvCacheQuery = text(row[5]);
        pool.models = textArray(row[6]);
        d.pools.append(pool);
    }
    tx.commit();
    return d;
}

} // namespace sluice::pg
