// SPDX-License-Identifier: Apache-2.0
#include "engine/registryjson.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace sluice {

namespace {
QString nullableString(const QJsonValue &v) { return v.isString() ? v.toString() : QString(); }
QJsonValue nullable(const QString &s) { return s.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(s); }
} // namespace

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
        d.tenants.append({o.value(QStringLiteral("id")).toString(), o.value(QStringLiteral("name")).toString()});
    }
    for (const QJsonValue &v : root.value(QStringLiteral("users")).toArray()) {
        const QJsonObject o = v.toObject();
        d.users.append({o.value(QStringLiteral("id")).toString(), o.value(QStringLiteral("tenantId")).toString()});
    }
    for (const QJsonValue &v : root.value(QStringLiteral("tiers")).toArray())
        d.tiers.append({v.toObject().value(QStringLiteral("id")).toString()});
    for (const QJsonValue &v : root.value(QStringLiteral("models")).toArray()) {
        const QJsonObject o = v.toObject();
        d.models.append({o.value(QStringLiteral("id")).toString(), o.value(QStringLiteral("tierId")).toString()});
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
        d.apiKeys.append(k);
    }
    QString policyError;
    d.policies = policiesFromJson(root.value(QStringLiteral("policies")).toArray(), &policyError);
    if (!policyError.isEmpty()) {
        if (error)
            *error = policyError;
        return std::nullopt;
    }
    return d;
}

QByteArray registryToJson(const RegistryData &d)
{
    QJsonArray tenants, users, tiers, models, keys, policies;
    for (const auto &t : d.tenants)
        tenants.append(QJsonObject{{QStringLiteral("id"), t.id}, {QStringLiteral("name"), t.name}});
    for (const auto &u : d.users)
        users.append(QJsonObject{{QStringLiteral("id"), u.id}, {QStringLiteral("tenantId"), u.tenantId}});
    for (const auto &t : d.tiers)
        tiers.append(QJsonObject{{QStringLiteral("id"), t.id}});
    for (const auto &m : d.models)
        models.append(QJsonObject{{QStringLiteral("id"), m.id}, {QStringLiteral("tierId"), m.tierId}});
    for (const auto &k : d.apiKeys)
        keys.append(QJsonObject{{QStringLiteral("id"), k.id}, {QStringLiteral("tenantId"), k.tenantId},
                                {QStringLiteral("userId"), nullable(k.userId)},
                                {QStringLiteral("sha256"), QString::fromLatin1(k.sha256.toHex())},
                                {QStringLiteral("prefix"), k.prefix}, {QStringLiteral("revoked"), k.revoked}});
    for (const auto &p : d.policies)
        policies.append(p.toJson());
    return QJsonDocument(QJsonObject{{QStringLiteral("tenants"), tenants}, {QStringLiteral("users"), users},
                                     {QStringLiteral("tiers"), tiers}, {QStringLiteral("models"), models},
                                     {QStringLiteral("apiKeys"), keys}, {QStringLiteral("policies"), policies}})
        .toJson(QJsonDocument::Indented);
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
