// SPDX-License-Identifier: Apache-2.0
// Reads and writes RegistryData as JSON: the built-in demo registry (resources/demo-registry.json)
// of the embedded mode, and the comparison of the Postgres seed against it in tests.
#pragma once

#include "engine/layer.h"

#include "engine/registrydata.h"

#include <QByteArray>
#include <QJsonObject>
#include <optional>

namespace sluice {

std::optional<RegistryData> registryFromJson(const QByteArray &json, QString *error);
// A pool of the registry file / admin API; nullopt with *error naming the field.
std::optional<PoolRow> poolFromJson(const QJsonObject &o, QString *error);
QJsonObject poolToJson(const PoolRow &pool);
// The pools against the registry: names unique, models known, a model in at most one pool.
// Empty when fine.
QString checkPools(const RegistryData &data);
// The demo registry compiled into the server (":/demo-registry.json").
RegistryData builtInDemoRegistry();

} // namespace sluice
