// SPDX-License-Identifier: Apache-2.0
#include "http/workerboard.h"

namespace sluice {

void WorkerBoard::add(QObject *home, std::weak_ptr<WindowStore> store)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_workers.push_back({home, std::move(store)});
}

int WorkerBoard::size() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return static_cast<int>(m_workers.size());
}

void WorkerBoard::gather(QObject *context, std::function<void(std::vector<QJsonObject>)> done) const
{
    std::vector<Worker> workers;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        workers = m_workers;
    }
    struct State
    {
        std::vector<QJsonObject> results;
        size_t pending = 0;
        std::function<void(std::vector<QJsonObject>)> done;
    };
    auto state = std::make_shared<State>(); // touched on `context`'s thread only
    state->results.resize(workers.size());
    state->pending = workers.size();
    state->done = std::move(done);
    if (workers.empty())
        return state->done({});
    const QPointer<QObject> back(context);
    for (size_t i = 0; i < workers.size(); ++i) {
        QObject *home = workers[i].home.data();
        auto answer = [state, i](QJsonObject health) {
            state->results[i] = std::move(health);
            if (--state->pending == 0)
                state->done(std::move(state->results));
        };
        if (!home) { // that thread is gone
            answer(QJsonObject{{QStringLiteral("status"), QStringLiteral("stopped")}});
            continue;
        }
        QMetaObject::invokeMethod(
            home,
            [store = workers[i].store, back, answer] {
                QJsonObject health{{QStringLiteral("status"), QStringLiteral("stopped")}};
                if (const auto s = store.lock()) {
                    health = s->health();
                    health.insert(QStringLiteral("source"), s->source());
                    if (!health.contains(QStringLiteral("status")))
                        health.insert(QStringLiteral("status"), QStringLiteral("ok"));
                }
                if (back)
                    QMetaObject::invokeMethod(back.data(), [answer, health] { answer(health); }, Qt::QueuedConnection);
            },
            Qt::QueuedConnection);
    }
}

} // namespace sluice
