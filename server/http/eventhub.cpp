// SPDX-License-Identifier: Apache-2.0
#include "http/eventhub.h"

#include "http/servercontext.h"

#include <QJsonDocument>

namespace sluice {

EventHub::EventHub(const ServerContext &context, WindowStore &store, QObject *parent)
    : QObject(parent), m_context(context), m_store(store)
{
    m_timer.setInterval(250);
    connect(&m_timer, &QTimer::timeout, this, &EventHub::tick);
}

void EventHub::subscribe(HttpResponder responder, std::vector<KeyQuery> keys)
{
    if (!responder.beginStream())
        return;
    responder.writeStream("retry: 1000\n\n");
    m_subscribers.push_back({responder, std::move(keys)});
    if (!m_timer.isActive())
        m_timer.start();
    tick();
}

void EventHub::tick()
{
    m_subscribers.erase(std::remove_if(m_subscribers.begin(), m_subscribers.end(),
                                       [](const Subscriber &s) { return !s.responder.isConnected(); }),
                        m_subscribers.end());
    if (m_subscribers.empty()) {
        m_timer.stop();
        return;
    }
    const qint64 allowed = m_context.metrics->allowedTotal();
    const qint64 blocked = m_context.metrics->blockedTotal();
    const std::shared_ptr<const PolicySnapshot> snapshot = m_context.snapshots->current();
    for (const Subscriber &s : m_subscribers) {
        auto governed = std::make_shared<const GovernedKeys>(governedKeys(snapshot, s.keys));
        HttpResponder responder = s.responder;
        m_store.usage(governed->specs(), [responder, governed, allowed, blocked](bool ok, std::vector<KeyUsage> usage) mutable {
            const QJsonObject event{{QStringLiteral("time"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
                                    {QStringLiteral("allowedTotal"), allowed},
                                    {QStringLiteral("blockedTotal"), blocked},
                                    {QStringLiteral("storeOk"), ok},
                                    {QStringLiteral("keys"), ok ? governed->usageJson(usage) : QJsonArray()}};
            responder.writeStream("event: usage\ndata: " + QJsonDocument(event).toJson(QJsonDocument::Compact) + "\n\n");
        });
    }
}

} // namespace sluice
