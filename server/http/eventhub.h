// SPDX-License-Identifier: Apache-2.0
// GET /admin/events: pushes the usage of the subscribed keys (and the allowed/blocked totals) to
// the live-chart subscribers of this thread every 250 ms, as Server-Sent Events. Each tick reads
// the policies from the snapshot current at that tick and keeps that snapshot alive until the
// store answers: a policy edit or a registry reload while a stream is open changes the limit the
// chart shows and frees nothing still in use.
#pragma once

#include "http/layer.h"

#include "http/adminsupport.h"

#include <QTimer>

namespace sluice {

struct ServerContext;

class EventHub : public QObject
{
public:
    EventHub(const ServerContext &context, WindowStore &store, QObject *parent);
    void subscribe(HttpResponder responder, std::vector<KeyQuery> keys);
    int subscribers() const { return static_cast<int>(m_subscribers.size()); }

private:
    struct Subscriber
    {
        HttpResponder responder;
        std::vector<KeyQuery> keys;
    };
    void tick();

    const ServerContext &m_context;
    WindowStore &m_store;
    QTimer m_timer;
    std::vector<Subscriber> m_subscribers;
};

} // namespace sluice
