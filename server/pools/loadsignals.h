// SPDX-License-Identifier: Apache-2.0
// Reading a GPU pool's load (design §14) from what operators already run: the model servers' own
// /metrics (Prometheus text; vLLM's vllm:num_requests_waiting and vllm:kv_cache_usage_perc, older
// vllm:gpu_cache_usage_perc; TGI's tgi_queue_size) and Prometheus's query API (PromQL per pool).
// Pure parsing here (tested on its own); the controller does the HTTP.
#pragma once

#include "pools/layer.h"

#include "engine/registrydata.h"

#include <QByteArray>
#include <QString>
#include <optional>

namespace sluice {

// One model server's load: waiting requests (summed over its models) and KV cache use (the
// largest it reports), -1 where it says nothing.
struct ServerLoad
{
    double queue = -1;
    double kvCache = -1;
};

// Parses a /metrics page. nullopt (and *error) when it holds none of the known load metrics.
std::optional<ServerLoad> parseModelServerMetrics(const QByteArray &text, QString *error);

// The PromQL a pool is asked with: its own queueQuery/kvCacheQuery, else vLLM's metrics averaged
// over the pool's model servers (selected by model_name).
QString poolQueueQuery(const PoolRow &pool);
QString poolKvCacheQuery(const PoolRow &pool);

// Prometheus's answer to /api/v1/query: the first sample's value, -1 for an empty result (the
// metric is not there), nullopt (and *error) for an error or an answer that is not one.
std::optional<double> parsePrometheusValue(const QByteArray &json, QString *error);

} // namespace sluice
