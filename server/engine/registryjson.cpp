// SPDX-License-Identifier: Apache-2.0
#include "engine/registryjson.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace sluice {

namespace {
QString nullableString(const QJsonValue &v) { return v.isString() ? v.toString() : QString(); }
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
