// SPDX-License-Identifier: Apache-2.0
// The load controller of a GPU pool (design §14), stated once: how a load reading becomes the
// pool's saturation, and how its factor moves (AIMD: multiplied by `decrease` each step while the
// pool is saturated, `increase` added each step while it is not, one step per `stepMs` at most,
// back to 1 — the static limits — while the signal is stale). A store keeps a PoolRecord per pool
// (the memory store in process, Redis beside the window logs so that every instance of a fleet
// applies the same factor); pool_step.lua states the same rule in Lua and names this file.
// Pure: no clocks, no I/O.
#pragma once

#include "engine/layer.h"

#include <QString>

namespace sluice {

// What one instance read of a pool's load: the model servers' waiting queue (per server) and KV
// cache use (0..1); -1 where the source does not say. ageMs < 0: nothing read.
struct PoolReading
{
    double queue = -1;
    double kvCache = -1;
    qint64 ageMs = -1; // how old the reading is now
    QString source;    // "push", "metrics", "prometheus", "own" (queue: saturation × queueThreshold)
    bool valid() const { return ageMs >= 0 && (queue >= 0 || kvCache >= 0); }
};

// Sluice's own view of a pool (design §14), its signal when nothing else is set (no /metrics, no
// Prometheus, no push): how long its requests take from check to complete. Saturated when the
// median of the last kOwnViewWindowMs is kOwnViewTolerance times the pool's usual time (the lowest
// such median of the last kOwnViewBaselineMs): its queue is growing. Needs callers that complete
// (a reservation: token or concurrency policies, or the inference door).
inline constexpr double kOwnViewTolerance = 2.0;
inline constexpr qint64 kOwnViewWindowMs = 5000;
inline constexpr int kOwnViewMinCompletions = 5;
inline constexpr qint64 kOwnViewBaselineMs = 10 * 60 * 1000;

struct PoolStepParams
{
    double queueThreshold = 5;
    double kvCacheThreshold = 0.8;
    qint64 staleMs = 5000;   // a signal older than this is stale: static limits
    double decrease = 0.8;   // factor × decrease per step while saturated
    double increase = 0.05;  // factor + increase per step while not
    double minFactor = 0.1;  // the range the factor moves in
    double maxFactor = 1;
    qint64 stepMs = 1000;    // at most one step per this long (the fleet's instances all call)
};

// What a store keeps per pool.
struct PoolRecord
{
    double factor = 1;
    qint64 stepAtMs = -1;   // when the factor last moved (-1: never)
    double queue = -1;
    double kvCache = -1;
    qint64 signalAtMs = -1; // when the newest reading was taken (-1: none)
    QString source;
};

// What the check path and the admin API see.
struct PoolState
{
    double factor = 1;
    double saturation = 0;
    double queue = -1;
    double kvCache = -1;
    qint64 signalAgeMs = -1; // -1: no signal ever
    QString source;
    bool stale = true;
    bool saturated() const { return !stale && saturation >= 1; }
};

namespace pool {

// max(queue / queueThreshold, kvCache / kvCacheThreshold), each part only where it is known.
double saturation(double queue, double kvCache, const PoolStepParams &params);

// Folds `reading` into `record` (the newer signal wins), moves the factor if a step is due, and
// returns the pool's state at nowMs. Steps are due stepMs after the last one, less a tenth (the
// instances' one-second ticks drift against each other; a step is never skipped for a few ms).
PoolState step(PoolRecord &record, const PoolReading &reading, qint64 nowMs, const PoolStepParams &params);

} // namespace pool
} // namespace sluice
