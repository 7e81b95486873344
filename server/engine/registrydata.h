// SPDX-License-Identifier: Apache-2.0
// The registry as plain rows: what the Postgres loader and the built-in demo file both produce,
// and what PolicySnapshot indexes. No behaviour here; equality lets tests compare two sources.
#pragma once

#include "engine/layer.h"

#include "policydto.h"

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QString>

namespace sluice {

struct TenantRow { QString id; QString name; bool operator==(const TenantRow &o) const { return id == o.id && name == o.name; } };
struct UserRow { QString id; QString tenantId; bool operator==(const UserRow &o) const { return id == o.id && tenantId == o.tenantId; } };
struct TierRow { QString id; bool operator==(const TierRow &o) const { return id == o.id; } };
struct ModelRow { QString id; QString tierId; bool operator==(const ModelRow &o) const { return id == o.id && tierId == o.tierId; } };
struct ApiKeyRow
{
    qint64 id = 0;
    QString tenantId;
    QString userId;          // null: a tenant-wide key
    QByteArray sha256;       // 32 raw bytes of SHA-256(plaintext); the plaintext is never kept
    QString prefix;          // first characters of the plaintext, for people to tell keys apart
    QDateTime createdAt;
    bool revoked = false;
    bool operator==(const ApiKeyRow &o) const
    {
        return id == o.id && tenantId == o.tenantId && userId == o.userId && sha256 == o.sha256 && prefix == o.prefix
            && revoked == o.revoked;
    }
};

struct RegistryData
{
    QList<TenantRow> tenants;
    QList<UserRow> users;
    QList<TierRow> tiers;
    QList<ModelRow> models;
    QList<ApiKeyRow> apiKeys;
    QList<PolicyDto> policies;
};

} // namespace sluice
