// SPDX-License-Identifier: Apache-2.0
#include "postgres/registryloader.h"

#include "postgres/pgrows.h"

#include "engine/redact.h"

#include <QLoggingCategory>
#include <chrono>
#include <pqxx/pqxx>

Q_LOGGING_CATEGORY(lcRegistry, "sluice.registry")

namespace sluice {

namespace {

class ChangeReceiver final : public pqxx::notification_receiver
{
public:
    ChangeReceiver(pqxx::connection_base &c, bool *dirty) : pqxx::notification_receiver(c, "sluice_policy_changed"), m_dirty(dirty) {}
    void operator()(const std::string &, int) override { *m_dirty = true; }

private:
    bool *m_dirty;
};

} // namespace

std::string withConnectTimeout(const QString &conninfo)
{
    std::string s = conninfo.toStdString();
    if (!conninfo.contains(QStringLiteral("connect_timeout")) && !conninfo.startsWith(QStringLiteral("postgres")))
        s += " connect_timeout=3";
    return s;
}

RegistryLoader::RegistryLoader(QString conninfo, QObject *parent)
    : QObject(parent), m_conninfo(withConnectTimeout(conninfo)), m_secret(secretOf(conninfo))
{
    qRegisterMetaType<std::shared_ptr<const sluice::RegistryData>>();
}

RegistryLoader::~RegistryLoader()
{
    m_stop = true;
    if (m_thread.joinable())
        m_thread.join();
}

bool RegistryLoader::loadInitial(RegistryData *out, QString *error)
{
    try {
        pqxx::connection c(m_conninfo);
        *out = pg::loadRegistry(c);
        std::lock_guard<std::mutex> lock(m_mutex);
        m_connected = true;
        return true;
    } catch (const std::exception &e) {
        *error = redactSecrets(QString::fromUtf8(e.what()).trimmed(), {m_secret});
        return false;
    }
}

void RegistryLoader::start()
{
    if (!m_thread.joinable())
        m_thread = std::thread([this] { run(); });
}

void RegistryLoader::setStatus(bool connected, const QString &error)
{
    bool changed = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        changed = m_connected != connected || m_lastError != error;
        m_connected = connected;
        m_lastError = error;
    }
    if (changed)
        QMetaObject::invokeMethod(this, [this, connected, error] { Q_EMIT statusChanged(connected, error); }, Qt::QueuedConnection);
}

bool RegistryLoader::sleepInterruptibly(int ms)
{
    for (int slept = 0; slept < ms && !m_stop; slept += 50)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return !m_stop;
}

void RegistryLoader::run()
{
    int backoffMs = 100;
    while (!m_stop) {
        try {
            pqxx::connection c(m_conninfo);
            bool dirty = false;
            ChangeReceiver receiver(c, &dirty);
            // Load after LISTEN, so that no change between the two is missed.
            auto publish = [&] {
                auto data = std::make_shared<const RegistryData>(pg::loadRegistry(c));
                QMetaObject::invokeMethod(this, [this, data] { Q_EMIT loaded(data); }, Qt::QueuedConnection);
            };
            publish();
            setStatus(true, QString());
            backoffMs = 100;
            while (!m_stop) {
                c.await_notification(0, 200000);
                if (!dirty)
                    continue;
                // Coalesce a burst of changes (one statement per table, a migration, …).
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                c.get_notifs();
                dirty = false;
                publish();
            }
        } catch (const std::exception &e) {
            const QString why = redactSecrets(QString::fromUtf8(e.what()).trimmed(), {m_secret});
            qCWarning(lcRegistry, "registry: cannot load from Postgres (%s); serving the last snapshot, retrying in %d ms",
                      qPrintable(why), backoffMs);
            setStatus(false, why);
            if (!sleepInterruptibly(backoffMs))
                return;
            backoffMs = std::min(5000, backoffMs * 2);
        }
    }
}

} // namespace sluice
