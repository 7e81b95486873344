// SPDX-License-Identifier: Apache-2.0
#include "postgres/registryrepository.h"

#include "postgres/pgrows.h"
#include "postgres/registryloader.h"

#include <QPointer>
#include <pqxx/pqxx>

namespace sluice {

namespace {

// Maps a Postgres error to what the admin API says about it.
ApiError translate(const std::exception &e, const PolicyDto *policy)
{
    const QString what = QString::fromUtf8(e.what());
    if (dynamic_cast<const pqxx::unique_violation *>(&e))
        return ApiError::conflict(QStringLiteral("a policy with this scope, these selectors and this unit already exists"));
    if (dynamic_cast<const pqxx::foreign_key_violation *>(&e)) {
        struct { const char *column; const char *field; } fields[] = {
            {"tenant_id", "tenantId"}, {"user_id", "userId"}, {"api_key_id", "apiKeyId"},
            {"model_tier_id", "modelTier"}, {"model_id", "modelId"}};
        for (const auto &f : fields) {
            if (what.contains(QLatin1String(f.column))) {
                QString value;
                if (policy) {
                    const QLatin1String field(f.field);
                    value = field == QLatin1String("tenantId") ? policy->tenantId
                        : field == QLatin1String("userId")     ? policy->userId
                        : field == QLatin1String("modelId")    ? policy->modelId
                        : field == QLatin1String("modelTier")  ? policy->modelTier
                        : policy->apiKeyId ? QString::number(*policy->apiKeyId) : QString();
                }
                return ApiError::badRequest(QStringLiteral("%1 '%2' does not exist").arg(QLatin1String(f.field), value));
            }
        }
        return ApiError::badRequest(QStringLiteral("a referenced entity does not exist"));
    }
    if (dynamic_cast<const pqxx::check_violation *>(&e))
        return ApiError::badRequest(QStringLiteral("the policy breaks a rule of the schema: %1").arg(what.section(QLatin1Char('\n'), 0, 0)));
    if (dynamic_cast<const pqxx::broken_connection *>(&e))
        return ApiError::unavailable(QStringLiteral("Postgres is unavailable: %1").arg(what.trimmed()));
    return ApiError::unavailable(QStringLiteral("Postgres error: %1").arg(what.section(QLatin1Char('\n'), 0, 0)));
}

std::string sql(const char *head, const char *tail = "")
{
    return std::string(head) + tail;
}

} // namespace

RegistryRepository::RegistryRepository(const QString &conninfo) : m_conninfo(withConnectTimeout(conninfo))
{
    m_thread = std::thread([this] { run(); });
}

RegistryRepository::~RegistryRepository()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    m_thread.join();
}

void RegistryRepository::run()
{
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stop || !m_jobs.empty(); });
            if (m_stop)
                return;
            job = std::move(m_jobs.front());
            m_jobs.pop_front();
        }
        job();
    }
}

template <typename T>
void RegistryRepository::submit(QObject *context, std::function<T(pqxx::connection &)> work, std::function<void(Result<T>)> done)
{
    QPointer<QObject> guard(context);
    auto job = [this, guard, work = std::move(work), done = std::move(done)]() {
        std::optional<Result<T>> result;
        for (int attempt = 0; attempt < 2 && !result; ++attempt) {
            try {
                if (!m_connection || !m_connection->is_open())
                    m_connection = std::make_unique<pqxx::connection>(m_conninfo);
                result = work(*m_connection);
            } catch (const ApiError &e) {
                result = e;
            } catch (const pqxx::broken_connection &e) {
                m_connection.reset(); // a stale connection: try once more on a fresh one
                if (attempt == 1)
                    result = translate(e, nullptr);
            } catch (const std::exception &e) {
                result = translate(e, nullptr);
            }
        }
        if (!guard)
            return; // the caller is gone: nobody to answer
        QMetaObject::invokeMethod(
            guard.data(),
            [guard, done, result = std::move(*result)]() {
                if (guard)
                    done(result);
            },
            Qt::QueuedConnection);
    };
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_jobs.push_back(std::move(job));
    }
    m_wake.notify_one();
}

void RegistryRepository::enqueue(std::function<void()> job)
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_jobs.push_back(std::move(job));
    }
    m_wake.notify_one();
}

QString RegistryRepository::withConnection(const std::function<void(pqxx::connection &)> &work, bool *connectionLost)
{
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            if (!m_connection || !m_connection->is_open())
                m_connection = std::make_unique<pqxx::connection>(m_conninfo);
            work(*m_connection);
            return QString();
        } catch (const pqxx::broken_connection &e) {
            m_connection.reset();
            if (attempt == 1) {
                if (connectionLost)
                    *connectionLost = true;
                return QString::fromUtf8(e.what()).trimmed();
            }
        } catch (const pqxx::in_doubt_error &e) {
            if (connectionLost)
                *connectionLost = true; // the COMMIT's outcome is unknown: like a lost connection
            return QString::fromUtf8(e.what()).section(QLatin1Char('\n'), 0, 0);
        } catch (const pqxx::sql_error &e) {
            // The rows themselves (cardinality, data, integrity: SQLSTATE classes 21, 22, 23) will
            // fail again; anything else (a serialization failure, a read-only primary during a
            // failover, a cancelled statement) may pass: like a lost connection, tried again.
            const std::string state = e.sqlstate();
            const std::string cls = state.substr(0, 2);
            if (connectionLost)
                *connectionLost = cls != "21" && cls != "22" && cls != "23";
            return QString::fromUtf8(e.what()).section(QLatin1Char('\n'), 0, 0);
        } catch (const std::exception &e) {
            return QString::fromUtf8(e.what()).section(QLatin1Char('\n'), 0, 0);
        }
    }
    return QString();
}

// Adds to what other instances wrote into the same minute rows (one transaction: all or nothing).
// A connection lost during COMMIT leaves it unknown whether the rows landed: they are retried,
// and may then count twice (rare; said in the README).
void RegistryRepository::writeUsage(UsageRows rows, std::function<void(WriteResult result, const QString &error)> done)
{
    enqueue([this, rows = std::move(rows), done = std::move(done)] {
        bool connectionLost = false;
        const QString error = withConnection([&rows](pqxx::connection &c) {
            pqxx::work tx(c);
            // 500 rows a statement (values quoted by libpq), all statements in one transaction.
            auto it = rows.begin();
            while (it != rows.end()) {
                std::string statement = "INSERT INTO usage_minute (minute, tenant_id, model_id, scope, unit, allowed, blocked, tokens) VALUES ";
                for (int n = 0; n < 500 && it != rows.end(); ++n, ++it) {
                    const auto &[k, counts] = *it;
                    statement += (n ? ",(" : "(") + std::string("to_timestamp(") + std::to_string(k.minute) + ")," + tx.quote(k.tenant.toStdString())
                        + ',' + tx.quote(k.model.toStdString()) + ',' + tx.quote(k.scope.toStdString()) + ','
                        + tx.quote(k.unit.toStdString()) + ',' + std::to_string(counts.allowed) + ',' + std::to_string(counts.blocked) + ','
                        + std::to_string(counts.tokens) + ')';
                }
                statement += " ON CONFLICT (minute, tenant_id, model_id, scope, unit) DO UPDATE SET "
                             "allowed = usage_minute.allowed + EXCLUDED.allowed, blocked = usage_minute.blocked + EXCLUDED.blocked, "
                             "tokens = usage_minute.tokens + EXCLUDED.tokens";
                tx.exec(statement);
            }
            tx.commit();
        }, &connectionLost);
        done(error.isEmpty() ? WriteResult::Written : connectionLost ? WriteResult::Retry : WriteResult::Refused, error);
    });
}

void RegistryRepository::queryUsage(QObject *context, const AnalyticsQuery &query,
                                    std::function<void(UsageResult<std::vector<AnalyticsPoint>>)> done)
{
    // The column comes from this fixed list, never from the request.
    const char *column = query.groupBy == AnalyticsQuery::GroupBy::Tenant ? "tenant_id"
                       : query.groupBy == AnalyticsQuery::GroupBy::Model  ? "model_id"
                                                                          : "scope";
    submit<std::vector<AnalyticsPoint>>(
        context,
        [query, column](pqxx::connection &c) {
            pqxx::read_transaction tx(c);
            std::vector<AnalyticsPoint> out;
            const pqxx::result r = tx.exec_params(
                std::string("SELECT (floor(extract(epoch FROM minute) / $3) * $3)::bigint AS t, ") + column
                    + ", sum(allowed)::bigint, sum(blocked)::bigint, sum(tokens)::bigint FROM usage_minute "
                      "WHERE minute >= to_timestamp($1) AND minute < to_timestamp($2) GROUP BY 1, 2 ORDER BY 1, 2",
                query.from, query.to, query.step);
            for (const auto &row : r)
                out.push_back({row[0].as<qint64>(), QString::fromStdString(row[1].as<std::string>()),
                               UsageCounts{row[2].as<qint64>(), row[3].as<qint64>(), row[4].as<qint64>()}});
            return out;
        },
        [done = std::move(done)](Result<std::vector<AnalyticsPoint>> r) {
            if (auto *e = std::get_if<ApiError>(&r))
                return done(*e);
            done(std::move(std::get<std::vector<AnalyticsPoint>>(r)));
        });
}

void RegistryRepository::pruneUsage(qint64 epochSeconds)
{
    enqueue([this, epochSeconds] {
        const QString error = withConnection([epochSeconds](pqxx::connection &c) {
            pqxx::work tx(c);
            tx.exec_params("DELETE FROM usage_minute WHERE minute < to_timestamp($1)", epochSeconds);
            tx.commit();
        });
        if (!error.isEmpty())
            qWarning("usage history: the retention could not be applied: %s", qPrintable(error));
    });
}

void RegistryRepository::listPolicies(QObject *context, std::function<void(Result<QList<PolicyDto>>)> done)
{
    submit<QList<PolicyDto>>(context, [](pqxx::connection &c) {
        pqxx::read_transaction tx(c);
        QList<PolicyDto> out;
        for (const auto &row : tx.exec(sql("SELECT ") + pg::kPolicyColumns + " FROM rate_limit_policy ORDER BY id"))
            out.append(pg::policyFromRow(row));
        return out;
    }, std::move(done));
}

void RegistryRepository::getPolicy(QObject *context, qint64 id, std::function<void(Result<PolicyDto>)> done)
{
    submit<PolicyDto>(context, [id](pqxx::connection &c) {
        pqxx::read_transaction tx(c);
        const pqxx::result r = tx.exec_params(sql("SELECT ") + pg::kPolicyColumns + " FROM rate_limit_policy WHERE id = $1", id);
        if (r.empty())
            throw ApiError::notFound(QStringLiteral("there is no policy %1").arg(id));
        return pg::policyFromRow(r[0]);
    }, std::move(done));
}

namespace {

// INSERT or UPDATE one policy; translate()s its errors with the policy at hand.
PolicyDto writePolicy(pqxx::connection &c, const PolicyDto &p, std::optional<qint64> id)
{
    try {
        pqxx::work tx(c);
        std::string tenant, user, model, tier;
        const char *t = pg::nullable(p.tenantId, tenant);
        const char *u = pg::nullable(p.userId, user);
        const char *m = pg::nullable(p.modelId, model);
        const char *tr = pg::nullable(p.modelTier, tier);
        const std::string key = p.apiKeyId ? std::to_string(*p.apiKeyId) : std::string();
        const char *k = p.apiKeyId ? key.c_str() : nullptr;
        const std::string window = std::to_string(p.windowSeconds);
        const char *w = p.unit == Unit::Concurrent ? nullptr : window.c_str(); // a concurrent policy has no window
        const std::string burstText = p.burst ? std::to_string(*p.burst) : std::string();
        const char *b = p.burst ? burstText.c_str() : nullptr;
        pqxx::result r;
        if (id) {
            r = tx.exec_params(sql("UPDATE rate_limit_policy SET scope = $1::policy_scope, tenant_id = $2, user_id = $3, "
                                   "api_key_id = $4::bigint, model_id = $5, model_tier_id = $6, window_seconds = $7::integer, "
                                   "limit_value = $8, enabled = $9, description = $10, unit = $12, algorithm = $13, burst = $14::bigint, "
                                   "shadow = $15, adaptive = $16, min_factor = $17, max_factor = $18 WHERE id = $11 RETURNING ")
                                   + pg::kPolicyColumns,
                               pg::utf8(scopeName(p.scope)), t, u, k, m, tr, w, p.limit, p.enabled,
                               pg::utf8(p.description), *id, pg::utf8(unitName(p.unit)), pg::utf8(algorithmName(p.algorithm)), b,
                               p.shadow, p.adaptive, p.minFactor, p.maxFactor);
            if (r.empty())
                throw ApiError::notFound(QStringLiteral("there is no policy %1").arg(*id));
        } else {
            r = tx.exec_params(sql("INSERT INTO rate_limit_policy (scope, tenant_id, user_id, api_key_id, model_id, model_tier_id, "
                                   "window_seconds, limit_value, enabled, description, unit, algorithm, burst, shadow, adaptive, min_factor, "
                                   "max_factor) VALUES ($1::policy_scope, "
                                   "$2, $3, $4::bigint, $5, $6, $7::integer, $8, $9, $10, $11, $12, $13::bigint, $14, $15, $16, $17) RETURNING ")
                                   + pg::kPolicyColumns,
                               pg::utf8(scopeName(p.scope)), t, u, k, m, tr, w, p.limit, p.enabled,
                               pg::utf8(p.description), pg::utf8(unitName(p.unit)), pg::utf8(algorithmName(p.algorithm)), b,
                               p.shadow, p.adaptive, p.minFactor, p.maxFactor);
        }
        PolicyDto stored = pg::policyFromRow(r[0]);
        tx.commit();
        return stored;
    } catch (const ApiError &) {
        throw;
    } catch (const pqxx::broken_connection &) {
        throw;
    } catch (const std::exception &e) {
        throw translate(e, &p);
    }
}

} // namespace

void RegistryRepository::createPolicy(QObject *context, const PolicyDto &policy, std::function<void(Result<PolicyDto>)> done)
{
    submit<PolicyDto>(context, [policy](pqxx::connection &c) { return writePolicy(c, policy, std::nullopt); }, std::move(done));
}

void RegistryRepository::updatePolicy(QObject *context, qint64 id, const PolicyDto &policy,
                                      std::function<void(Result<PolicyDto>)> done)
{
    submit<PolicyDto>(context, [id, policy](pqxx::connection &c) { return writePolicy(c, policy, id); }, std::move(done));
}

void RegistryRepository::deletePolicy(QObject *context, qint64 id, std::function<void(Result<bool>)> done)
{
    submit<bool>(context, [id](pqxx::connection &c) {
        pqxx::work tx(c);
        const pqxx::result r = tx.exec_params("DELETE FROM rate_limit_policy WHERE id = $1 RETURNING id", id);
        tx.commit();
        if (r.empty())
            throw ApiError::notFound(QStringLiteral("there is no policy %1").arg(id));
        return true;
    }, std::move(done));
}

void RegistryRepository::createApiKey(QObject *context, const QString &tenantId, const QString &userId,
                                      std::function<void(Result<CreatedApiKey>)> done)
{
    submit<CreatedApiKey>(context, [tenantId, userId](pqxx::connection &c) {
        pqxx::work tx(c);
        if (tx.exec_params("SELECT 1 FROM tenant WHERE id = $1", pg::utf8(tenantId)).empty())
            throw ApiError::badRequest(QStringLiteral("tenantId '%1' does not exist").arg(tenantId));
        if (!userId.isNull()) {
            const pqxx::result u = tx.exec_params("SELECT tenant_id FROM user_account WHERE id = $1", pg::utf8(userId));
            if (u.empty())
                throw ApiError::badRequest(QStringLiteral("userId '%1' does not exist").arg(userId));
            if (pg::text(u[0][0]) != tenantId)
                throw ApiError::badRequest(QStringLiteral("userId '%1' does not belong to tenant %2").arg(userId, tenantId));
        }
        CreatedApiKey key = generateApiKey(tenantId, userId);
        std::string user;
        const pqxx::result r = tx.exec_params(
            sql("INSERT INTO api_key (tenant_id, user_id, key_hash, prefix) VALUES ($1, $2, decode($3, 'hex'), $4) RETURNING ")
                + pg::kApiKeyColumns,
            pg::utf8(tenantId), pg::nullable(userId, user), key.row.sha256.toHex().toStdString(), pg::utf8(key.row.prefix));
        key.row = pg::apiKeyFromRow(r[0]);
        tx.commit();
        return key;
    }, std::move(done));
}

void RegistryRepository::listApiKeys(QObject *context, std::function<void(Result<QList<ApiKeyRow>>)> done)
{
    submit<QList<ApiKeyRow>>(context, [](pqxx::connection &c) {
        pqxx::read_transaction tx(c);
        QList<ApiKeyRow> out;
        for (const auto &row : tx.exec(sql("SELECT ") + pg::kApiKeyColumns + " FROM api_key ORDER BY id"))
            out.append(pg::apiKeyFromRow(row));
        return out;
    }, std::move(done));
}

void RegistryRepository::revokeApiKey(QObject *context, qint64 id, std::function<void(Result<bool>)> done)
{
    submit<bool>(context, [id](pqxx::connection &c) {
        pqxx::work tx(c);
        const pqxx::result r = tx.exec_params("UPDATE api_key SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id", id);
        tx.commit();
        if (r.empty())
            throw ApiError::notFound(QStringLiteral("there is no API key %1").arg(id));
        return true;
    }, std::move(done));
}

void RegistryRepository::setPriority(QObject *context, PriorityHolder holder, const QString &id, std::optional<Priority> priority,
                                     std::function<void(Result<bool>)> done)
{
    submit<bool>(context, [holder, id, priority](pqxx::connection &c) {
        pqxx::work tx(c);
        // The table comes from this fixed list, never from the request.
        const char *statement = holder == PriorityHolder::Tenant ? "UPDATE tenant SET priority = $1 WHERE id = $2 RETURNING id"
                              : holder == PriorityHolder::Tier   ? "UPDATE model_tier SET priority = $1 WHERE id = $2 RETURNING id"
                                                                 : "UPDATE api_key SET priority = $1 WHERE id::text = $2 RETURNING id";
        std::string name;
        const pqxx::result r = tx.exec_params(statement, pg::nullable(priority ? priorityName(*priority) : QString(), name), pg::utf8(id));
        tx.commit();
        if (r.empty())
            throw ApiError::notFound(QStringLiteral("there is no %1 %2").arg(priorityHolderName(holder), id));
        return true;
    }, std::move(done));
}

} // namespace sluice
