// SPDX-License-Identifier: Apache-2.0
// Every HTTP thread's window store (each thread has its own connection, breaker and counters), so
// /health and /metrics describe the whole process and not whichever thread took the request.
// A store is only ever touched on its own thread: gather() asks each one there (a queued call to
// the thread's home object) and hands the answers back to the asking thread's home object.
// Events are posted only under the board's mutex and only to homes still on the board, and the
// server takes a home off the board (remove) before it stops that thread and deletes the object:
// no event is ever posted to an object being deleted. A gather in flight while the server stops
// may simply never answer.
#pragma once

#include "http/layer.h"

#include "engine/windowstore.h"

#include <QJsonObject>
#include <QObject>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace sluice {

class WorkerBoard
{
public:
    // home: an object living on the store's thread (the thread's worker); the store is reached
    // through the weak pointer on that thread only.
    void add(QObject *home, std::weak_ptr<WindowStore> store);
    void remove(QObject *home);
    int size() const;
    // Every store's status() (its health JSON with "source" and "status" added), in registration
    // order; `done` runs on the calling thread (which must be one of the board's threads) once all
    // have answered.
    void gather(std::function<void(std::vector<StoreStatus>)> done) const;

private:
    struct Worker
    {
        QObject *home;
        std::weak_ptr<WindowStore> store;
    };
    // Posts `f` to `home`'s thread if `home` is still on the board.
    bool post(QObject *home, std::function<void()> f) const;

    mutable std::mutex m_mutex;
    std::vector<Worker> m_workers;
};

} // namespace sluice
