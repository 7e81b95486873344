// SPDX-License-Identifier: Apache-2.0
#include "engine/poolrules.h"

#include <algorithm>

namespace sluice::pool {

double saturation(double queue, double kvCache, const PoolStepParams &params)
{
    double s = 0;
    if (queue >= 0)
        s = std::max(s, queue / params.queueThreshold);
    if (kvCache >= 0)
        s = std::max(s, kvCache / params.kvCacheThreshold);
    return s;
}

PoolState step(PoolRecord &record, const PoolReading &reading, qint64 nowMs, const PoolStepParams &params)
{
    if (reading.valid()) {
        const qint64 at = nowMs - reading.ageMs;
        if (at > record.signalAtMs) {
            record.queue = reading.queue;
            record.kvCache = reading.kvCache;
            record.signalAtMs = at;
            record.source = reading.source;
        }
    }
    PoolState state;
    state.queue = record.queue;
    state.kvCache = record.kvCache;
    state.source = record.source;
    state.signalAgeMs = record.signalAtMs < 0 ? -1 : std::max<qint64>(0, nowMs - record.signalAtMs);
    state.stale = record.signalAtMs < 0 || nowMs - record.signalAtMs > params.staleMs;
    state.saturation = state.stale ? 0 : saturation(record.queue, record.kvCache, params);
    double factor = record.factor;
    if (record.stepAtMs < 0 || nowMs - record.stepAtMs >= params.stepMs - params.stepMs / 10) {
        factor = state.stale ? 1 : state.saturation >= 1 ? factor * params.decrease : factor + params.increase;
        record.stepAtMs = nowMs;
    }
    record.factor = std::clamp(factor, params.minFactor, params.maxFactor);
    state.factor = record.factor;
    return state;
}

} // namespace sluice::pool
