// SPDX-License-Identifier: Apache-2.0
#include "http/eventhub.h"

#include <QHash>

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
        // How often each watched key was refused so far: a chart can mark when it was.
        std::vector<QByteArray> names;
        names.reserve(s.keys.size());
        for (const KeyQuery &k : s.keys)
            names.push_back(k.key);
        QHash<QByteArray, qint64> refused;
        const std::vector<qint64> counts = m_context.topBlocked->blockedOf(names);
        for (size_t i = 0; i < names.size(); ++i)
            refused.insert(names[i], counts[i]);
        m_store.usage(governed->specs(), [responder, governed, allowed, blocked, refused](bool ok, std::vector<KeyUsage> usage) mutable {
            QJsonArray keys = ok ? governed->usageJson(usage) : QJsonArray();
            for (qsizetype i = 0; i < keys.size(); ++i) {
                QJsonObject k = keys.at(i).toObject();
                k.insert(QStringLiteral("blocked"), refused.value(k.value(QStringLiteral("key")).toString().toUtf8()));
                keys.replace(i, k);
            }
            const QJsonObject event{{QStringLiteral("time"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
                                    {QStringLiteral("allowedTotal"), allowed},
                                    {QStringLiteral("blockedTotal"), blocked},
                                    {QStringLiteral("storeOk"), ok},
                                    {QStringLiteral("keys"), keys}};
            responder.writeStream("event: usage\ndata: " + QJsonDocument(event).toJson(QJsonDocument::Compact) + "\n\n");
        });
    }
}

} // namespace sluice
