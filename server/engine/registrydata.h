// SPDX-License-Identifier: Apache-2.0
// The registry as plain rows: what the Postgres loader and the built-in demo file both produce,
// and what PolicySnapshot indexes. No behaviour here; equality lets tests compare two sources.
#pragma once

#include "engine/layer.h"

#include "policydto.h"
#include "priority.h"

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>
#include <optional>

namespace sluice {

// priority: the class of design §14 when set; unset, the next one decides (API key > tenant > tier),
// and standard when none is set.
struct TenantRow
{
    QString id;
    QString name;
    std::optional<Priority> priority;
    bool operator==(const TenantRow &o) const { return id == o.id && name == o.name && priority == o.priority; }
};
struct UserRow { QString id; QString tenantId; bool operator==(const UserRow &o) const { return id == o.id && tenantId == o.tenantId; } };
struct TierRow
{
    QString id;
    std::optional<Priority> priority;
    bool operator==(const TierRow &o) const { return id == o.id && priority == o.priority; }
};
// An inference door upstream: http://host[:port][/prefix], nothing after the path (design §15).
bool isUpstreamUrl(const QString &url);

struct ModelRow
{
    QString id;
    QString tierId;
    QString upstream; // the inference door's upstream for this model (http://…); empty: the server's --upstream
    bool operator==(const ModelRow &o) const { return id == o.id && tierId == o.tierId && upstream == o.upstream; }
};

// A GPU pool (design §14): the model servers behind a set of models, and where its load is read.
// Saturation = max(queue / queueThreshold, kvCache / kvCacheThreshold).
struct PoolRow
{
    QString name;
    QStringList models;            // a model belongs to at most one pool
    double queueThreshold = 5;     // waiting requests per model server
    double kvCacheThreshold = 0.8; // KV cache in use, 0..1
    QStringList metricsUrls;       // the model servers' own /metrics (vLLM or TGI names), if any
    QString queueQuery;            // PromQL for the waiting queue (with --prometheus-url); empty: vLLM's default
    QString kvCacheQuery;          // PromQL for the KV cache use; empty: vLLM's default
    bool operator==(const PoolRow &o) const
    {
        return name == o.name && models == o.models && queueThreshold == o.queueThreshold && kvCacheThreshold == o.kvCacheThreshold
            && metricsUrls == o.metricsUrls && queueQuery == o.queueQuery && kvCacheQuery == o.kvCacheQuery;
    }
};
struct ApiKeyRow
{
    qint64 id = 0;
    QString tenantId;
    QString userId;          // null: a tenant-wide key
    QByteArray sha256;       // 32 raw bytes of SHA-256(plaintext); the plaintext is never kept
    QString prefix;          // first characters of the plaintext, for people to tell keys apart
    QDateTime createdAt;
    bool revoked = false;
    std::optional<Priority> priority;
    bool operator==(const ApiKeyRow &o) const
    {
        return id == o.id && tenantId == o.tenantId && userId == o.userId && sha256 == o.sha256 && prefix == o.prefix
            && revoked == o.revoked && priority == o.priority;
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
    QList<PoolRow> pools;
};

} // namespace sluice
