// SPDX-License-Identifier: Apache-2.0
#include "http/workerboard.h"

#include <QThread>
#include <algorithm>

namespace sluice {

void WorkerBoard::add(QObject *home, std::weak_ptr<WindowStore> store)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_workers.push_back({home, std::move(store)});
}

void WorkerBoard::remove(QObject *home)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_workers.erase(std::remove_if(m_workers.begin(), m_workers.end(), [home](const Worker &w) { return w.home == home; }),
                    m_workers.end());
}

int WorkerBoard::size() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return static_cast<int>(m_workers.size());
}

bool WorkerBoard::post(QObject *home, std::function<void()> f) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (std::none_of(m_workers.begin(), m_workers.end(), [home](const Worker &w) { return w.home == home; }))
        return false;
    QMetaObject::invokeMethod(home, std::move(f), Qt::QueuedConnection);
    return true;
}

void WorkerBoard::gather(std::function<void(std::vector<StoreStatus>)> done) const
{
    std::vector<Worker> workers;
    QObject *back = nullptr;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        workers = m_workers;
        for (const Worker &w : m_workers) {
            if (w.home->thread() == QThread::currentThread())
                back = w.home;
        }
    }
    struct State
    {
        std::vector<StoreStatus> results;
        size_t pending = 0;
        std::function<void(std::vector<StoreStatus>)> done;
    };
    auto state = std::make_shared<State>(); // touched on the asking thread only
    state->results.resize(workers.size());
    state->pending = workers.size();
    state->done = std::move(done);
    if (workers.empty() || !back)
        return state->done({});
    for (size_t i = 0; i < workers.size(); ++i) {
        auto answer = [state, i](const StoreStatus &status) {
            state->results[i] = status;
            if (--state->pending == 0)
                state->done(std::move(state->results));
        };
        post(workers[i].home, [this, store = workers[i].store, back, answer] {
            StoreStatus status;
            status.ok = false;
            status.connected = false;
            status.health = {{QStringLiteral("status"), QStringLiteral("stopped")}};
            if (const auto s = store.lock()) {
                status = s->status();
                status.health.insert(QStringLiteral("source"), status.source);
                if (!status.health.contains(QStringLiteral("status")))
                    status.health.insert(QStringLiteral("status"), status.ok ? QStringLiteral("ok") : QStringLiteral("degraded"));
            }
            post(back, [answer, status] { answer(status); });
        });
    }
}

} // namespace sluice
