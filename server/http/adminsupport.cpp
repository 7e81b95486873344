// SPDX-License-Identifier: Apache-2.0
#include "http/adminsupport.h"

#include "http/servercontext.h"

#include <QJsonDocument>

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

HttpApi::Handler adminOnly(const ServerContext &context, HttpApi::Handler handler)
{
    return [&context, handler = std::move(handler)](const HttpRequest &r, HttpResponder responder) {
        const QByteArray token = context.adminToken.toUtf8();
        if (token.isEmpty())
            throw ApiError::forbidden(QStringLiteral("the admin API is off: no admin token is configured"));
        const QByteArray auth = r.header("authorization");
        if (!auth.startsWith("Bearer ") || !tokensEqual(auth.mid(7).trimmed(), token))
            throw ApiError::unauthorized(QStringLiteral("a valid 'Authorization: Bearer <token>' is required"));
        if (r.method != "GET")
            qCInfo(lcAdmin, "admin %s %s from %s", r.method.constData(), qPrintable(r.path), qPrintable(r.peer.toString()));
        handler(r, responder);
    };
}

QByteArray compactJson(const QJsonValue &v)
{
    return v.isArray() ? QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact)
                       : QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact);
}

QJsonObject bodyObject(const HttpRequest &r)
{
    r.requireJson(); // as the check: a body in another type is refused, never guessed at
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(r.body, &error);
    if (error.error != QJsonParseError::NoError)
        throw ApiError::badRequest(QStringLiteral("body is not valid JSON: %1").arg(error.errorString()));
    if (!doc.isObject())
        throw ApiError::badRequest(QStringLiteral("body must be a JSON object"));
    return doc.object();
}

qint64 idFrom(const HttpRequest &r, const QString &what)
{
    bool ok = false;
    const qint64 id = r.pathTail.toLongLong(&ok);
    if (!ok || id <= 0)
        throw ApiError::notFound(QStringLiteral("'%1' is not %2 id").arg(r.pathTail, what));
    return id;
}

std::vector<KeyQuery> keysFrom(const HttpRequest &r)
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
        out.push_back({key, *parsed});
    }
    return out;
}

namespace {
// The window and limit that govern a key now, in this snapshot.
const PolicyDto *policyForKey(const PolicySnapshot &s, const ParsedWindowKey &k)
{
    switch (k.scope) {
    case Scope::Global: return s.globalPolicy(k.unit);
    case Scope::Tenant: return s.tenantPolicy(k.id1, k.unit);
    case Scope::ApiKey: return s.apiKeyPolicy(k.id1.toLongLong(), k.unit);
    case Scope::Model: return s.modelPolicy(k.id1, k.unit);
    case Scope::ModelTier: return s.tierPolicy(k.id1, k.unit);
    case Scope::UserModel: return s.userModelPolicy(k.id1, k.id2, k.unit);
    }
    return nullptr;
}
} // namespace

GovernedKeys governedKeys(std::shared_ptr<const PolicySnapshot> snapshot, std::vector<KeyQuery> keys)
{
    GovernedKeys g;
    g.policies.reserve(keys.size());
    for (const KeyQuery &k : keys)
        g.policies.push_back(policyForKey(*snapshot, k.parsed));
    g.snapshot = std::move(snapshot);
    g.keys = std::move(keys);
    return g;
}

std::vector<WindowSpec> GovernedKeys::specs() const
{
    std::vector<WindowSpec> out;
    out.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
        const PolicyDto *p = policies[i];
        WindowSpec spec{keys[i].key, (p ? p->windowSeconds : 3600) * 1000000, p ? p->limit : 0};
        if (keys[i].parsed.unit == Unit::Concurrent) {
            spec.lease = true; // counts leases held now; the oldest entry is the earliest expiry
            spec.windowUs = 0;
        }
        out.push_back(spec);
    }
    return out;
}

QJsonArray GovernedKeys::usageJson(const std::vector<KeyUsage> &usage) const
{
    QJsonArray out;
    for (size_t i = 0; i < keys.size() && i < usage.size(); ++i) {
        const KeyQuery &k = keys[i];
        const KeyUsage &u = usage[i];
        QJsonObject o{{QStringLiteral("key"), QString::fromUtf8(k.key)},
                      {QStringLiteral("scope"), scopeName(k.parsed.scope)},
                      {QStringLiteral("unit"), unitName(k.parsed.unit)},
                      {QStringLiteral("count"), u.used}};
        if (const PolicyDto *p = policies[i]) {
            const qint64 windowUs = p->windowSeconds * 1000000; // 0 for leases: oldest is an expiry
            o.insert(QStringLiteral("limit"), p->limit);
            o.insert(QStringLiteral("windowSeconds"), p->windowSeconds);
            o.insert(QStringLiteral("remaining"), std::max<qint64>(0, p->limit - u.used));
            o.insert(QStringLiteral("resetSeconds"),
                     u.oldestUs >= 0 ? (u.oldestUs + windowUs - u.nowUs + 999999) / 1000000 : 0);
            o.insert(QStringLiteral("policyId"), p->id);
        } else {
            o.insert(QStringLiteral("limit"), QJsonValue());
        }
        out.append(o);
    }
    return out;
}

} // namespace sluice
