// SPDX-License-Identifier: Apache-2.0
// Reads and writes RegistryData as JSON: the built-in demo registry (resources/demo-registry.json)
// of the embedded mode, and the comparison of the Postgres seed against it in tests.
#pragma once

#include "engine/layer.h"

#include "engine/registrydata.h"

#include <QByteArray>
#include <optional>

namespace sluice {

std::optional<RegistryData> registryFromJson(const QByteArray &json, QString *error);
// The demo registry compiled into the server (":/demo-registry.json").
RegistryData builtInDemoRegistry();

} // namespace sluice
