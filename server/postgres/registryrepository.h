// SPDX-License-Identifier: Apache-2.0
// The admin API's backend when the registry lives in Postgres: policy and API key writes and
// reads, on a worker thread that owns its own pqxx::connection (reconnected when broken). Every
// statement is parameterized. Each answer is posted back to the caller's context object on its
// thread (dropped if that object is gone). Errors are ApiError: an unknown entity is a 400 naming
// the field, a duplicate scope+selectors 409, an unknown id 404, Postgres down 503. The other
// instances learn of every write through the NOTIFY trigger, like this one does.
#pragma once

#include "postgres/layer.h"

#include "engine/adminbackend.h"
#include "engine/usagehistory.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <pqxx/connection>

namespace sluice {

// Also the usage history's sink (usage_minute, migration 006): its writes and reads run on the
// same DB thread, after the admin statements queued before them.
class RegistryRepository final : public AdminBackend, public UsageSink
{
public:
    explicit RegistryRepository(const QString &conninfo);
    ~RegistryRepository() override;

    void listPolicies(QObject *context, std::function<void(Result<QList<PolicyDto>>)> done) override;
    void getPolicy(QObject *context, qint64 id, std::function<void(Result<PolicyDto>)> done) override;
    void createPolicy(QObject *context, const PolicyDto &policy, std::function<void(Result<PolicyDto>)> done) override;
    void updatePolicy(QObject *context, qint64 id, const PolicyDto &policy,
                      std::function<void(Result<PolicyDto>)> done) override;
    void deletePolicy(QObject *context, qint64 id, std::function<void(Result<bool>)> done) override;
    void createApiKey(QObject *context, const QString &tenantId, const QString &userId,
                      std::function<void(Result<CreatedApiKey>)> done) override;
    void listApiKeys(QObject *context, std::function<void(Result<QList<ApiKeyRow>>)> done) override;
    void revokeApiKey(QObject *context, qint64 id, std::function<void(Result<bool>)> done) override;
    void setPriority(QObject *context, PriorityHolder holder, const QString &id, std::optional<Priority> priority,
                     std::function<void(Result<bool>)> done) override;

    void writeUsage(UsageRows rows, std::function<void(WriteResult result, const QString &error)> done) override;
    void queryUsage(QObject *context, const AnalyticsQuery &query,
                    std::function<void(UsageResult<std::vector<AnalyticsPoint>>)> done) override;
    void pruneUsage(qint64 epochSeconds) override;

private:
    // Runs `work` on the DB thread; its result (or the ApiError it throws) goes to `done`.
    template <typename T>
    void submit(QObject *context, std::function<T(pqxx::connection &)> work, std::function<void(Result<T>)> done);
    void run();
    void enqueue(std::function<void()> job);
    // Runs `work` on the DB thread's connection (made again once if it broke); the error, if any.
    // *connectionLost (when given): the failure may pass if tried again (the connection, a COMMIT of
    // unknown outcome, an SQL error that is not about the rows: see withConnection).
    QString withConnection(const std::function<void(pqxx::connection &)> &work, bool *connectionLost = nullptr);

    std::string m_conninfo;
    std::unique_ptr<pqxx::connection> m_connection; // DB thread only
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<std::function<void()>> m_jobs;
    bool m_stop = false;
    std::thread m_thread;
};

} // namespace sluice
