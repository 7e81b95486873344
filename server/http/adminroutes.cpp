// SPDX-License-Identifier: Apache-2.0
#include "adminroutes.h"

#include "adminbackend.h"
#include "apipaths.h"
#include "servercontext.h"
#include "windowkey.h"
#include "windowstore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QPointer>
#include <QTimer>

Q_LOGGING_CATEGORY(lcAdmin, "sluice.admin")

namespace sluice {

bool tokensEqual(const QByteArray &a, const QByteArray &b)
{
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const qsizetype n = std::max(a.size(), b.size());
    for (qsizetype i = 0; i < n; ++i) {
        const char x = i < a.size() ? a.at(i) : 0;
        const char y = i < b.size() ? b.at(i) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

namespace {

QByteArray json(const QJsonValue &v)
{
    return v.isArray() ? QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact)
                       : QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact);
}

QJsonObject keyJson(const ApiKeyRow &k)
{
    return {{QStringLiteral("id"), k.id},
            {QStringLiteral("tenantId"), k.tenantId},
            {QStringLiteral("userId"), k.userId.isNull() ? QJsonValue() : QJsonValue(k.userId)},
            {QStringLiteral("prefix"), k.prefix},
            {QStringLiteral("createdAt"), k.createdAt.isValid() ? QJsonValue(k.createdAt.toString(Qt::ISODate)) : QJsonValue()},
            {QStringLiteral("revoked"), k.revoked}};
}

qint64 idFrom(const HttpRequest &r)
{
    bool ok = false;
    const qint64 id = r.pathTail.toLongLong(&ok);
    if (!ok || id <= 0)
        throw ApiError::notFound(QStringLiteral("'%1' is not a policy id").arg(r.pathTail));
    return id;
}

QJsonObject bodyObject(const HttpRequest &r)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(r.body, &error);
    if (error.error != QJsonParseError::NoError)
        throw ApiError::badRequest(QStringLiteral("body is not valid JSON: %1").arg(error.errorString()));
    if (!doc.isObject())
        throw ApiError::badRequest(QStringLiteral("body must be a JSON object"));
    return doc.object();
}

PolicyDto policyFrom(const HttpRequest &r)
{
    QString error;
    auto p = PolicyDto::fromJson(bodyObject(r), &error);
    if (!p)
        throw ApiError::badRequest(error);
    return *p;
}

// Sends a backend result: the value through `ok`, an ApiError as itself.
template <typename T, typename F>
auto answer(HttpResponder responder, F ok)
{
    return [responder, ok](Result<T> result) mutable {
        if (auto *e = std::get_if<ApiError>(&result))
            responder.sendError(*e);
        else
            ok(responder, std::get<T>(result));
    };
}

// The window and limit that govern a key now, from the current snapshot.
const PolicyDto *policyForKey(const PolicySnapshot &s, const ParsedWindowKey &k)
{
    switch (k.scope) {
    case Scope::Global: return s.globalPolicy();
    case Scope::Tenant: return s.tenantPolicy(k.id1);
    case Scope::ApiKey: return s.apiKeyPolicy(k.id1.toLongLong());
    case Scope::Model: return s.modelPolicy(k.id1);
    case Scope::ModelTier: return s.tierPolicy(k.id1);
    case Scope::UserModel: return s.userModelPolicy(k.id1, k.id2);
    }
    return nullptr;
}

struct KeyQuery
{
    QByteArray key;
    ParsedWindowKey parsed;
    const PolicyDto *policy = nullptr;
};

std::vector<KeyQuery> keysFrom(const HttpRequest &r, const PolicySnapshot &snapshot)
{
    QList<QByteArray> raw;
    for (const QString &v : r.query.allQueryItemValues(QStringLiteral("key"), QUrl::FullyDecoded))
        raw.append(v.toUtf8());
    for (const QString &v : r.query.allQueryItemValues(QStringLiteral("keys"), QUrl::FullyDecoded)) {
        for (const QString &k : v.split(QLatin1Char(','), Qt::SkipEmptyParts))
            raw.append(k.trimmed().toUtf8());
    }
    if (raw.size() > 100)
        throw ApiError::badRequest(QStringLiteral("at most 100 keys at a time"));
    std::vector<KeyQuery> out;
    for (const QByteArray &key : raw) {
        auto parsed = parseWindowKey(key);
        if (!parsed)
            throw ApiError::badRequest(QStringLiteral("'%1' is not a window key (sluice:{<scope>:<ids>})").arg(QString::fromUtf8(key)));
        out.push_back({key, *parsed, policyForKey(snapshot, *parsed)});
    }
    return out;
}

void usageJson(const std::vector<KeyQuery> &keys, const std::vector<KeyUsage> &usage, QJsonArray *out)
{
    for (size_t i = 0; i < keys.size() && i < usage.size(); ++i) {
        const KeyQuery &k = keys[i];
        const KeyUsage &u = usage[i];
        QJsonObject o{{QStringLiteral("key"), QString::fromUtf8(k.key)},
                      {QStringLiteral("scope"), scopeName(k.parsed.scope)},
                      {QStringLiteral("count"), u.used}};
        if (k.policy) {
            const qint64 windowUs = k.policy->windowSeconds * 1000000;
            o.insert(QStringLiteral("limit"), k.policy->limit);
            o.insert(QStringLiteral("windowSeconds"), k.policy->windowSeconds);
            o.insert(QStringLiteral("remaining"), std::max<qint64>(0, k.policy->limit - u.used));
            o.insert(QStringLiteral("resetSeconds"),
                     u.oldestUs >= 0 ? (u.oldestUs + windowUs - u.nowUs + 999999) / 1000000 : 0);
            o.insert(QStringLiteral("policyId"), k.policy->id);
        } else {
            o.insert(QStringLiteral("limit"), QJsonValue());
        }
        out->append(o);
    }
}

std::vector<WindowSpec> specsFor(const std::vector<KeyQuery> &keys)
{
    std::vector<WindowSpec> specs;
    for (const KeyQuery &k : keys)
        specs.push_back({k.key, (k.policy ? k.policy->windowSeconds : 3600) * 1000000, k.policy ? k.policy->limit : 0});
    return specs;
}

// Pushes usage to the live-chart subscribers of this thread every 250 ms.
class EventHub : public QObject
{
public:
    EventHub(ServerContext &context, WindowStore &store, QObject *parent)
        : QObject(parent), m_context(context), m_store(store)
    {
        m_timer.setInterval(250);
        connect(&m_timer, &QTimer::timeout, this, &EventHub::tick);
    }

    void subscribe(HttpResponder responder, std::vector<KeyQuery> keys)
    {
        if (!responder.beginStream())
            return;
        responder.writeStream("retry: 1000\n\n");
        m_subscribers.push_back({responder, std::move(keys)});
        if (!m_timer.isActive())
            m_timer.start();
        tick();
    }

private:
    struct Subscriber
    {
        HttpResponder responder;
        std::vector<KeyQuery> keys;
    };

    void tick()
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
        for (const Subscriber &s : m_subscribers) {
            HttpResponder responder = s.responder;
            const std::vector<KeyQuery> keys = s.keys;
            m_store.usage(specsFor(keys), [responder, keys, allowed, blocked](bool ok, std::vector<KeyUsage> usage) mutable {
                QJsonArray array;
                if (ok)
                    usageJson(keys, usage, &array);
                const QJsonObject event{{QStringLiteral("time"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
                                        {QStringLiteral("allowedTotal"), allowed},
                                        {QStringLiteral("blockedTotal"), blocked},
                                        {QStringLiteral("storeOk"), ok},
                                        {QStringLiteral("keys"), array}};
                responder.writeStream("event: usage\ndata: " + QJsonDocument(event).toJson(QJsonDocument::Compact) + "\n\n");
            });
        }
    }

    ServerContext &m_context;
    WindowStore &m_store;
    QTimer m_timer;
    std::vector<Subscriber> m_subscribers;
};

} // namespace

void installAdminRoutes(HttpApi &api, ServerContext &context, WindowStore &store)
{
    // Every admin handler runs behind this gate.
    auto admin = [&context](auto handler) {
        return [&context, handler](const HttpRequest &r, HttpResponder responder) {
            const QByteArray token = context.config.adminToken.toUtf8();
            if (token.isEmpty())
                throw ApiError::forbidden(QStringLiteral("the admin API is off: no admin token is configured"));
            const QByteArray auth = r.header("authorization");
            if (!auth.startsWith("Bearer ") || !tokensEqual(auth.mid(7).trimmed(), token))
                throw ApiError::unauthorized(QStringLiteral("a valid 'Authorization: Bearer <token>' is required"));
            if (r.method != "GET")
                qCInfo(lcAdmin, "admin %s %s from %s", r.method.constData(), qPrintable(r.path), qPrintable(r.peer.toString()));
            handler(r, responder);
        };
    };
    AdminBackend *backend = context.admin.get();
    QObject *ctx = &api;
    const QString policies = QLatin1String(api::kAdminPolicies);

    api.route("GET", policies, admin([backend, ctx](const HttpRequest &, HttpResponder responder) {
        backend->listPolicies(ctx, answer<QList<PolicyDto>>(responder, [](HttpResponder &res, const QList<PolicyDto> &list) {
            QJsonArray a;
            for (const PolicyDto &p : list)
                a.append(p.toJson());
            res.send(200, json(a));
        }));
    }));
    api.routeTail("GET", policies, admin([backend, ctx](const HttpRequest &r, HttpResponder responder) {
        backend->getPolicy(ctx, idFrom(r), answer<PolicyDto>(responder, [](HttpResponder &res, const PolicyDto &p) {
            res.send(200, json(p.toJson()));
        }));
    }));
    api.route("POST", policies, admin([backend, ctx](const HttpRequest &r, HttpResponder responder) {
        const PolicyDto p = policyFrom(r);
        qCInfo(lcAdmin, "create %s policy", qPrintable(scopeName(p.scope)));
        backend->createPolicy(ctx, p, answer<PolicyDto>(responder, [](HttpResponder &res, const PolicyDto &created) {
            res.send(201, json(created.toJson()), "application/json",
                     {{"Location", "/admin/policies/" + QByteArray::number(created.id)}});
        }));
    }));
    api.routeTail("PUT", policies, admin([backend, ctx](const HttpRequest &r, HttpResponder responder) {
        const qint64 id = idFrom(r);
        backend->updatePolicy(ctx, id, policyFrom(r), answer<PolicyDto>(responder, [](HttpResponder &res, const PolicyDto &p) {
            res.send(200, json(p.toJson()));
        }));
    }));
    api.routeTail("DELETE", policies, admin([backend, ctx](const HttpRequest &r, HttpResponder responder) {
        backend->deletePolicy(ctx, idFrom(r), answer<bool>(responder, [](HttpResponder &res, bool) { res.send(204, QByteArray()); }));
    }));

    // Entities come from the current snapshot: what is being enforced now.
    auto entities = [&context](auto toArray) {
        return [&context, toArray](const HttpRequest &, HttpResponder responder) {
            responder.send(200, json(toArray(context.snapshots->current()->data())));
        };
    };
    api.route("GET", QLatin1String(api::kAdminTenants), admin(entities([](const RegistryData &d) {
        QJsonArray a;
        for (const TenantRow &t : d.tenants)
            a.append(QJsonObject{{QStringLiteral("id"), t.id}, {QStringLiteral("name"), t.name}});
        return a;
    })));
    api.route("GET", QLatin1String(api::kAdminUsers), admin(entities([](const RegistryData &d) {
        QJsonArray a;
        for (const UserRow &u : d.users)
            a.append(QJsonObject{{QStringLiteral("id"), u.id}, {QStringLiteral("tenantId"), u.tenantId}});
        return a;
    })));
    api.route("GET", QLatin1String(api::kAdminModels), admin(entities([](const RegistryData &d) {
        QJsonArray a;
        for (const ModelRow &m : d.models)
            a.append(QJsonObject{{QStringLiteral("id"), m.id}, {QStringLiteral("tier"), m.tierId}});
        return a;
    })));
    api.route("GET", QLatin1String(api::kAdminTiers), admin(entities([](const RegistryData &d) {
        QJsonArray a;
        for (const TierRow &t : d.tiers)
            a.append(QJsonObject{{QStringLiteral("id"), t.id}});
        return a;
    })));

    const QString keys = QLatin1String(api::kAdminApiKeys);
    api.route("POST", keys, admin([backend, ctx](const HttpRequest &r, HttpResponder responder) {
        const QJsonObject o = bodyObject(r);
        const QJsonValue tenant = o.value(QStringLiteral("tenantId"));
        const QJsonValue user = o.value(QStringLiteral("userId"));
        if (!tenant.isString() || tenant.toString().isEmpty())
            throw ApiError::badRequest(QStringLiteral("tenantId is required"));
        if (!user.isUndefined() && !user.isNull() && !user.isString())
            throw ApiError::badRequest(QStringLiteral("userId must be null or a string"));
        qCInfo(lcAdmin, "create API key for tenant %s", qPrintable(tenant.toString()));
        backend->createApiKey(ctx, tenant.toString(), user.isString() ? user.toString() : QString(),
                              answer<CreatedApiKey>(responder, [](HttpResponder &res, const CreatedApiKey &k) {
                                  QJsonObject o = keyJson(k.row);
                                  o.insert(QStringLiteral("apiKey"), k.plaintext);
                                  o.insert(QStringLiteral("note"), QStringLiteral("store this key now: it is not shown again"));
                                  res.send(201, json(o));
                              }));
    }));
    api.route("GET", keys, admin([backend, ctx](const HttpRequest &, HttpResponder responder) {
        backend->listApiKeys(ctx, answer<QList<ApiKeyRow>>(responder, [](HttpResponder &res, const QList<ApiKeyRow> &list) {
            QJsonArray a;
            for (const ApiKeyRow &k : list)
                a.append(keyJson(k));
            res.send(200, json(a));
        }));
    }));
    api.routeTail("DELETE", keys, admin([backend, ctx](const HttpRequest &r, HttpResponder responder) {
        bool ok = false;
        const qint64 id = r.pathTail.toLongLong(&ok);
        if (!ok)
            throw ApiError::notFound(QStringLiteral("'%1' is not an API key id").arg(r.pathTail));
        backend->revokeApiKey(ctx, id, answer<bool>(responder, [](HttpResponder &res, bool) { res.send(204, QByteArray()); }));
    }));

    api.route("GET", QLatin1String(api::kAdminUsage), admin([&context, &store](const HttpRequest &r, HttpResponder responder) {
        const auto keys = keysFrom(r, *context.snapshots->current());
        if (keys.empty())
            throw ApiError::badRequest(QStringLiteral("name the keys: ?keys=<key>,<key> or ?key=<key>&key=<key>"));
        store.usage(specsFor(keys), [responder, keys](bool ok, std::vector<KeyUsage> usage) mutable {
            if (!ok)
                return responder.sendError(ApiError::unavailable(QStringLiteral("the window store is unavailable")));
            QJsonArray a;
            usageJson(keys, usage, &a);
            responder.send(200, json(a));
        });
    }));
    api.routeTail("DELETE", QLatin1String(api::kAdminUsage), admin([&store](const HttpRequest &r, HttpResponder responder) {
        const QByteArray key = r.pathTail.toUtf8();
        if (!parseWindowKey(key))
            throw ApiError::badRequest(QStringLiteral("'%1' is not a window key").arg(r.pathTail));
        qCInfo(lcAdmin, "reset usage of %s", key.constData());
        store.reset(key, [responder](bool ok) mutable {
            if (ok)
                responder.send(204, QByteArray());
            else
                responder.sendError(ApiError::unavailable(QStringLiteral("the window store is unavailable")));
        });
    }));
    api.route("GET", QLatin1String(api::kAdminTopBlocked), admin([&context](const HttpRequest &r, HttpResponder responder) {
        bool ok = false;
        int n = r.query.queryItemValue(QStringLiteral("n")).toInt(&ok);
        if (!ok)
            n = 10;
        n = std::clamp(n, 1, 1000);
        QJsonArray a;
        for (const BlockedEntry &e : context.topBlocked->top(n))
            a.append(QJsonObject{{QStringLiteral("key"), QString::fromUtf8(e.key)},
                                 {QStringLiteral("scope"), scopeName(e.scope)},
                                 {QStringLiteral("label"), e.label},
                                 {QStringLiteral("blocked"), e.blocked},
                                 {QStringLiteral("lastBlockedAt"), e.lastBlockedAt.toString(Qt::ISODateWithMs)}});
        responder.send(200, json(a));
    }));

    auto *hub = new EventHub(context, store, &api);
    api.route("GET", QLatin1String(api::kAdminEvents), admin([&context, hub](const HttpRequest &r, HttpResponder responder) {
        hub->subscribe(responder, keysFrom(r, *context.snapshots->current()));
    }));
}

} // namespace sluice
