// SPDX-License-Identifier: Apache-2.0
#include "engine/registryjson.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QUrl>

namespace sluice {

namespace {
QString nullableString(const QJsonValue &v) { return v.isString() ? v.toString() : QString(); }

// "priority": absent or null → unset; otherwise one of the class names.
bool readPriority(const QJsonObject &o, const QString &what, std::optional<Priority> *out, QString *error)
{
    const QJsonValue v = o.value(QStringLiteral("priority"));
    if (v.isUndefined() || v.isNull())
        return true;
    *out = priorityFromName(v.toString());
    if (!v.isString() || !*out) {
        if (error)
            *error = QStringLiteral("%1: priority must be critical, standard, sheddable or null").arg(what);
        return false;
    }
    return true;
}

QStringList strings(const QJsonValue &v)
{
    QStringList out;
    for (const QJsonValue &s : v.toArray())
        out.append(s.toString());
    return out;
}
} // namespace

bool isUpstreamUrl(const QString &url)
{
    const QUrl u(url, QUrl::StrictMode);
    return u.isValid() && u.scheme() == QStringLiteral("http") && !u.host().isEmpty() && !u.hasQuery() && !u.hasFragment()
        && u.userInfo().isEmpty();
}

std::optional<PoolRow> poolFromJson(const QJsonObject &o, QString *error)
{
    PoolRow pool;
    auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return std::nullopt;
    };
    const QJsonValue name = o.value(QStringLiteral("name"));
    if (!name.isString() || name.toString().isEmpty() || name.toString().size() > 128)
        return fail(QStringLiteral("a pool's name must be a string of 1 to 128 characters"));
    pool.name = name.toString();
    const QString what = QStringLiteral("pool %1").arg(pool.name);
    for (const char *field : {"models", "metricsUrls"}) {
        const QJsonValue v = o.value(QLatin1String(field));
        if (v.isUndefined() || v.isNull())
            continue;
        bool ok = v.isArray();
        for (const QJsonValue &s : v.toArray())
            ok = ok && s.isString() && !s.toString().isEmpty();
        if (!ok)
            return fail(QStringLiteral("%1: %2 must be an array of strings").arg(what, QLatin1String(field)));
    }
    pool.models = strings(o.value(QStringLiteral("models")));
    pool.metricsUrls = strings(o.value(QStringLiteral("metricsUrls")));
    for (const QString &url : std::as_const(pool.metricsUrls)) {
        const QUrl u(url);
        if (!u.isValid() || (u.scheme() != QStringLiteral("http") && u.scheme() != QStringLiteral("https")) || u.host().isEmpty())
            return fail(QStringLiteral("%1: metricsUrls: '%2' is not an http(s) URL").arg(what, url));
    }
    const QJsonValue queue = o.value(QStringLiteral("queueThreshold"));
    if (!queue.isUndefined() && !queue.isNull()) {
        if (!queue.isDouble() || !(queue.toDouble() > 0))
            return fail(QStringLiteral("%1: queueThreshold must be a number above 0").arg(what));
        pool.queueThreshold = queue.toDouble();
    }
    const QJsonValue kv = o.value(QStringLiteral("kvCacheThreshold"));
    if (!kv.isUndefined() && !kv.isNull()) {
        if (!kv.isDouble() || !(kv.toDouble() > 0 && kv.toDouble() <= 1))
            return fail(QStringLiteral("%1: kvCacheThreshold must be a number above 0 and at most 1").arg(what));
        pool.kvCacheThreshold = kv.toDouble();
    }
    for (const auto &[field, out] : {std::pair<const char *, QString *>{"queueQuery", &pool.queueQuery}, {"kvCacheQuery", &pool.kvCacheQuery}}) {
        const QJsonValue v = o.value(QLatin1String(field));
        if (v.isUndefined() || v.isNull())
            continue;
        if (!v.isString() || v.toString().trimmed().isEmpty())
            return fail(QStringLiteral("%1: %2 must be a PromQL expression (a non-empty string)").arg(what, QLatin1String(field)));
        *out = v.toString();
    }
    return pool;
}

QJsonObject poolToJson(const PoolRow &pool)
{
    auto nullable = [](const QString &s) { return s.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(s); };
    return QJsonObject{{QStringLiteral("name"), pool.name},
                       {QStringLiteral("models"), QJsonArray::fromStringList(pool.models)},
                       {QStringLiteral("queueThreshold"), pool.queueThreshold},
                       {QStringLiteral("kvCacheThreshold"), pool.kvCacheThreshold},
                       {QStringLiteral("metricsUrls"), QJsonArray::fromStringList(pool.metricsUrls)},
                       {QStringLiteral("queueQuery"), nullable(pool.queueQuery)},
                       {QStringLiteral("kvCacheQuery"), nullable(pool.kvCacheQuery)}};
}

QString checkPools(const RegistryData &data)
{
    QSet<QString> models, names;
    for (const ModelRow &m : data.models)
        models.insert(m.id);
    QHash<QString, QString> owner;
    for (const PoolRow &pool : data.pools) {
        if (names.contains(pool.name))
            return QStringLiteral("pool %1 is defined twice").arg(pool.name);
        names.insert(pool.name);
        for (const QString &m : pool.models) {
            if (!models.contains(m))
                return QStringLiteral("pool %1: model %2 is not in the registry").arg(pool.name, m);
            if (owner.contains(m))
                return QStringLiteral("model %1 is in two pools (%2 and %3): a model belongs to at most one").arg(m, owner.value(m), pool.name);
            owner.insert(m, pool.name);
        }
    }
    return QString();
}

std::optional<RegistryData> registryFromJson(const QByteArray &json, QString *error)
{
    QJsonParseError parseError;
    const QJsonObject root = QJsonDocument::fromJson(json, &parseError).object();
    if (parseError.error != QJsonParseError::NoError) {
        if (error)
            *error = parseError.errorString();
        return std::nullopt;
    }
    RegistryData d;
    for (const QJsonValue &v : root.value(QStringLiteral("tenants")).toArray()) {
        const QJsonObject o = v.toObject();
        TenantRow t{o.value(QStringLiteral("id")).toString(), o.value(QStringLiteral("name")).toString(), std::nullopt};
        if (!readPriority(o, QStringLiteral("tenant %1").arg(t.id), &t.priority, error))
            return std::nullopt;
        d.tenants.append(t);
    }
    for (const QJsonValue &v : root.value(QStringLiteral("users")).toArray()) {
        const QJsonObject o = v.toObject();
        d.users.append({o.value(QStringLiteral("id")).toString(), o.value(QStringLiteral("tenantId")).toString()});
    }
    for (const QJsonValue &v : root.value(QStringLiteral("tiers")).toArray()) {
        const QJsonObject o = v.toObject();
        TierRow t{o.value(QStringLiteral("id")).toString(), std::nullopt};
        if (!readPriority(o, QStringLiteral("tier %1").arg(t.id), &t.priority, error))
            return std::nullopt;
        d.tiers.append(t);
    }
    for (const QJsonValue &v : root.value(QStringLiteral("models")).toArray()) {
        const QJsonObject o = v.toObject();
        ModelRow m{o.value(QStringLiteral("id")).toString(), o.value(QStringLiteral("tierId")).toString(), QString()};
        const QJsonValue upstream = o.value(QStringLiteral("upstream"));
        if (!upstream.isUndefined() && !upstream.isNull()) {
            m.upstream = upstream.toString();
            if (!isUpstreamUrl(m.upstream)) {
                *error = QStringLiteral("model %1: upstream must be http://host:port[/prefix], got '%2'").arg(m.id, upstream.toVariant().toString());
                return std::nullopt;
            }
        }
        d.models.append(m);
    }
    for (const QJsonValue &v : root.value(QStringLiteral("apiKeys")).toArray()) {
        const QJsonObject o = v.toObject();
        ApiKeyRow k;
        k.id = o.value(QStringLiteral("id")).toInteger();
        k.tenantId = o.value(QStringLiteral("tenantId")).toString();
        k.userId = nullableString(o.value(QStringLiteral("userId")));
        k.sha256 = QByteArray::fromHex(o.value(QStringLiteral("sha256")).toString().toLatin1());
        k.prefix = o.value(QStringLiteral("prefix")).toString();
        k.revoked = o.value(QStringLiteral("revoked")).toBool(false);
        if (!readPriority(o, QStringLiteral("API key %1").arg(k.id), &k.priority, error))
            return std::nullopt;
        d.apiKeys.append(k);
    }
    QString policyError;
    d.policies = policiesFromJson(root.value(QStringLiteral("policies")).toArray(), &policyError);
    if (!policyError.isEmpty()) {
        if (error)
            *error = policyError;
        return std::nullopt;
    }
    for (const QJsonValue &v : root.value(QStringLiteral("pools")).toArray()) {
        auto pool = poolFromJson(v.toObject(), error);
        if (!pool)
            return std::nullopt;
        d.pools.append(*pool);
    }
    const QString poolError = checkPools(d);
    if (!poolError.isEmpty()) {
        if (error)
            *error = poolError;
        return std::nullopt;
    }
    return d;
}

RegistryData builtInDemoRegistry()
{
    QFile f(QStringLiteral(":/demo-registry.json"));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("the built-in demo registry is missing from the resources");
    QString error;
    auto data = registryFromJson(f.readAll(), &error);
    if (!data)
        qFatal("the built-in demo registry is invalid: %s", qPrintable(error));
    return *data;
}

} // namespace sluice
