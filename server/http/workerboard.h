// SPDX-License-Identifier: Apache-2.0
// Every HTTP thread's window store (each thread has its own connection, breaker and counters), so
// /health and /metrics describe the whole process and not whichever thread took the request.
// A store is only ever touched on its own thread: gather() asks each one there (a queued call)
// and hands the answers back on the asking thread, without blocking anyone.
#pragma once

#include "http/layer.h"

#include "engine/windowstore.h"

#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace sluice {

class WorkerBoard
{
public:
    // home: an object living on the store's thread; the store is reached through the weak
    // pointer on that thread only, so a thread shutting down simply stops answering.
    void add(QObject *home, std::weak_ptr<WindowStore> store);
    int size() const;
    // Every store's health() (with "source" added), in registration order; `done` runs on
    // `context`'s thread once all have answered (never if `context` is gone first).
    void gather(QObject *context, std::function<void(std::vector<QJsonObject>)> done) const;

private:
    struct Worker
    {
        QPointer<QObject> home;
        std::weak_ptr<WindowStore> store;
    };
    mutable std::mutex m_mutex;
    std::vector<Worker> m_workers;
};

} // namespace sluice
