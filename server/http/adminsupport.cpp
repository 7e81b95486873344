// SPDX-License-Identifier: Apache-2.0
#include "http/adminsupport.h"

#include "apipaths.h"

#include "engine/windowrules.h"

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
        if (r.method != "GET" && r.path != QLatin1String(api::kAdminExplain)) // (every change; not a look: explain)
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
// The policy that governs a key now, in this snapshot: the one of its scope, ids and unit, if it
// makes this key (a bucket key is governed by a token bucket, a log key by a sliding log).
const PolicyDto *policyForKey(const PolicySnapshot &s, const ParsedWindowKey &k)
{
    const PolicyDto *p = nullptr;
    switch (k.scope) {
    case Scope::Global: p = s.globalPolicy(k.unit); break;
    case Scope::Tenant: p = s.tenantPolicy(k.id1, k.unit); break;
    case Scope::ApiKey: p = s.apiKeyPolicy(k.id1.toLongLong(), k.unit); break;
    case Scope::Model: p = s.modelPolicy(k.id1, k.unit); break;
    case Scope::ModelTier: p = s.tierPolicy(k.id1, k.unit); break;
    case Scope::UserModel: p = s.userModelPolicy(k.id1, k.id2, k.unit); break;
    }
    if (p && windowKindOf(p->unit, p->algorithm) != windowKindOf(k.unit, k.algorithm))
        return nullptr;
    return p;
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
        if (const PolicyDto *p = policies[i]) {
            out.push_back(window::specFor(*p, keys[i].parsed.scopeKey, 0)); // (its key is keys[i].key)
            continue;
        }
        // No policy governs it now: read it as the kind its key names (its count; no limit).
        WindowSpec spec;
        spec.key = keys[i].key;
        spec.kind = windowKindOf(keys[i].parsed.unit, keys[i].parsed.algorithm);
        spec.windowUs = spec.isLog() ? 3600LL * 1000000 : 0;
        out.push_back(spec);
    }
    return out;
}

QJsonArray GovernedKeys::usageJson(const std::vector<KeyUsage> &usage) const
{
    QJsonArray out;
    const std::vector<WindowSpec> windows = specs();
    for (size_t i = 0; i < keys.size() && i < usage.size(); ++i) {
        const KeyQuery &k = keys[i];
        const KeyUsage &u = usage[i];
        QJsonObject o{{QStringLiteral("key"), QString::fromUtf8(k.key)},
                      {QStringLiteral("scope"), scopeName(k.parsed.scope)},
                      {QStringLiteral("unit"), unitName(k.parsed.unit)},
                      {QStringLiteral("algorithm"), algorithmName(k.parsed.algorithm)},
                      {QStringLiteral("count"), u.used}};
        if (const PolicyDto *p = policies[i]) {
            // The kind's rules (windowrules.h): a bucket's count is its tokens drained, its limit
            // its capacity (burst), its reset when it is full again.
            const WindowSpec &spec = windows[i];
            const KeyState state{u.used, u.oldestUs};
            o.insert(QStringLiteral("limit"), window::capacity(spec));
            o.insert(QStringLiteral("windowSeconds"), p->windowSeconds);
            o.insert(QStringLiteral("remaining"), window::remaining(spec, state, false));
            o.insert(QStringLiteral("resetSeconds"),
                     u.oldestUs >= 0 ? (window::resetUs(spec, state, false, u.nowUs, 0) + 999999) / 1000000 : 0);
            o.insert(QStringLiteral("policyId"), p->id);
        } else {
            o.insert(QStringLiteral("limit"), QJsonValue());
            if (windows[i].isBucket()) // (its level is in tokens of a rate no policy says now)
                o.insert(QStringLiteral("count"), QJsonValue());
        }
        out.append(o);
    }
    return out;
}

} // namespace sluice
