// SPDX-License-Identifier: Apache-2.0
// Reading the Prometheus text the server's /metrics answers, for the Server page: the sum of one
// counter's samples, optionally only those with a label value (result="blocked").
#pragma once

#include <QByteArray>
#include <optional>

namespace sluice {

// Sum of every sample of `name` (exactly that name, not name_created) whose labels contain
// `labelFilter` (e.g. `result="blocked"`; empty: all); nullopt when there is no such sample.
std::optional<double> sumOfMetric(const QByteArray &text, const QByteArray &name, const QByteArray &labelFilter = QByteArray());

} // namespace sluice
