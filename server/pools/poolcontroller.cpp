// SPDX-License-Identifier: Apache-2.0
#include "pools/poolcontroller.h"

#include "pools/loadsignals.h"

#include "engine/clock.h"

#include <QNetworkReply>
#include <QUrlQuery>
#include <algorithm>
#include <cmath>

namespace sluice {

namespace {

qint64 steadyMs() { return steadyClock()->nowUs() / 1000; }

// Every read gets less than the tick: a source that hangs shows as an error, not as a queue of reads.
constexpr int kReadTimeoutMs = 900;

} // namespace

PoolController::PoolController(std::shared_ptr<SnapshotHolder> snapshots, std::shared_ptr<PoolBoard> board, PoolStepParams settings,
                               QString prometheusUrl, StepFunction step, QObject *parent)
    : QObject(parent), m_snapshots(std::move(snapshots)), m_board(std::move(board)), m_settings(settings),
      m_prometheusUrl(std::move(prometheusUrl)), m_step(std::move(step))
{
    m_network.setTransferTimeout(kReadTimeoutMs);
    connect(&m_timer, &QTimer::timeout, this, [this] { tick(); });
}

void PoolController::start(int intervalMs)
{
    m_intervalMs = intervalMs;
    m_settings.stepMs = intervalMs;
    m_timer.start(intervalMs);
    tick();
}

void PoolController::tick()
{
    const auto snapshot = m_snapshots->current();
    const qint64 now = steadyMs();
    // Pools gone from the registry leave the board (and their reads in flight are dropped).
    auto gone = [&snapshot](const QString &name) { return !snapshot->poolNamed(name); };
    for (auto it = m_states.begin(); it != m_states.end();)
        it = gone(it->first) ? m_states.erase(it) : std::next(it);
    for (auto it = m_sources.begin(); it != m_sources.end();)
        it = gone(it->first) ? m_sources.erase(it) : std::next(it);
    for (const PoolRow &pool : snapshot->data().pools) {
        PoolStepParams params = m_settings;
        params.queueThreshold = pool.queueThreshold;
        params.kvCacheThreshold = pool.kvCacheThreshold;
        params.minFactor = snapshot->minFactor();
        params.maxFactor = snapshot->maxFactor();
        const QString name = pool.name;
        PoolReading reading = newest(name, now);
        // Nothing else set (a push long gone counts as none): Sluice's own view is the signal.
        const bool fresh = reading.valid() && reading.ageMs <= m_settings.staleMs;
        const bool ownOnly = !fresh && pool.metricsUrls.isEmpty() && m_prometheusUrl.isEmpty();
        const PoolReading own = ownReading(pool, now, ownOnly);
        if (ownOnly)
            reading = own;
        // Posted back to this thread (the step answers on a store's thread). The server stops its
        // store threads before it deletes the controller, and deleting it drops what is still posted.
        m_step(name, reading, params, [this, name](std::optional<PoolState> state, const QString &error) {
            QMetaObject::invokeMethod(this, [this, name, state, error] { stepped(name, state, error); }, Qt::QueuedConnection);
        });
        if (m_sources[name].inFlight == 0) {
            if (!pool.metricsUrls.isEmpty())
                readMetrics(pool);
            if (!m_prometheusUrl.isEmpty())
                askPrometheus(pool);
        }
    }
    m_board->publish(m_states);
    // Requests never completed here (their leases expired, or another instance completed them)
    // leave the own view.
    m_board->forget(now, std::min(m_forgetAfterMs, kOwnViewBaselineMs));
}

PoolReading PoolController::ownReading(const PoolRow &pool, qint64 nowMs, bool used)
{
    OwnView view = m_board->ownView(pool.name, nowMs, kOwnViewWindowMs);
    Sources &sources = m_sources[pool.name];
    auto &medians = sources.ownMedians;
    while (!medians.empty() && medians.front().first < nowMs - kOwnViewBaselineMs)
        medians.pop_front();
    // The usual time: the lowest median of the last 10 minutes, from medians that were not
    // saturated themselves (a long overload must not become the usual), kept when none is left.
    auto lowest = [&medians]() {
        double low = -1;
        for (const auto &[at, ms] : medians)
            low = low < 0 ? ms : std::min(low, ms);
        return low;
    };
    if (!medians.empty())
        sources.ownBaselineMs = lowest();
    const double baseline = sources.ownBaselineMs;
    bool enough = view.completions >= kOwnViewMinCompletions;
    // Nothing completes (a hung pool): the ages of the requests still in flight, once they are
    // more than its usual time, are what the view has (each a lower bound of its own latency).
    if (!enough && baseline >= 0 && view.inFlight >= kOwnViewMinCompletions && view.medianInFlightAgeMs > baseline) {
        view.medianLatencyMs = view.medianInFlightAgeMs;
        enough = true;
    }
    const double saturation = enough ? view.medianLatencyMs / std::max(1.0, baseline < 0 ? view.medianLatencyMs : baseline) / kOwnViewTolerance : -1;
    if (enough && saturation < 1 && view.completions >= kOwnViewMinCompletions) {
        medians.emplace_back(nowMs, view.medianLatencyMs);
        sources.ownBaselineMs = lowest();
    }
    QJsonObject summary{{QStringLiteral("inFlight"), view.inFlight},
                        {QStringLiteral("completions"), view.completions},
                        {QStringLiteral("windowSeconds"), kOwnViewWindowMs / 1000.0},
                        {QStringLiteral("latencyMs"), view.medianLatencyMs < 0 ? QJsonValue() : QJsonValue(std::round(view.medianLatencyMs))},
                        {QStringLiteral("usualLatencyMs"), sources.ownBaselineMs < 0 ? QJsonValue() : QJsonValue(std::round(sources.ownBaselineMs))},
                        {QStringLiteral("used"), used}};
    m_board->setOwnSummary(pool.name, summary);
    if (!enough)
        return {};
    // Latency at its usual level: saturation 1 / tolerance; tolerance times it: saturated. As a
    // queue (the store's step takes queue and KV cache): saturation × the pool's queue threshold.
    return {saturation * pool.queueThreshold, -1, 0, QStringLiteral("own")};
}

PoolReading PoolController::newest(const QString &pool, qint64 nowMs) const
{
    PoolReading best = m_board->pushed(pool, nowMs);
    auto consider = [&](double queue, double kv, qint64 atMs, const char *source) {
        if (atMs < 0 || (queue < 0 && kv < 0))
            return;
        const qint64 age = std::max<qint64>(0, nowMs - atMs);
        if (!best.valid() || age < best.ageMs)
            best = {queue, kv, age, QString::fromLatin1(source)};
    };
    if (const auto it = m_sources.find(pool); it != m_sources.end()) {
        const Sources &s = it->second;
        consider(s.metricsQueue, s.metricsKv, s.metricsAtMs, "metrics");
        consider(s.promQueue, s.promKv, s.promAtMs, "prometheus");
    }
    // The inference door saw the model server refuse (429/503): as if its KV cache were full, at
    // that moment (a fresher reading of another source wins when it comes).
    consider(-1, 1.0, m_board->lastUpstreamRefusalMs(pool), "upstream-refused");
    return best;
}

PoolController::Sources *PoolController::answered(const QString &pool)
{
    // A pool removed meanwhile has no entry any more: its late answers are dropped (recreating the
    // entry would leave it a negative count of reads in flight, never to be read again).
    const auto it = m_sources.find(pool);
    if (it == m_sources.end())
        return nullptr;
    --it->second.inFlight;
    return &it->second;
}

void PoolController::readMetrics(const PoolRow &pool)
{
    struct Gather
    {
        int left = 0;
        double queueSum = 0, kvSum = 0;
        int queueN = 0, kvN = 0;
        QStringList errors;
    };
    auto gather = std::make_shared<Gather>();
    gather->left = static_cast<int>(pool.metricsUrls.size());
    m_sources[pool.name].inFlight += gather->left;
    const QString name = pool.name;
    for (const QString &url : pool.metricsUrls) {
        QNetworkRequest request{QUrl(url)};
        request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
        QNetworkReply *reply = m_network.get(request);
        connect(reply, &QNetworkReply::finished, this, [this, reply, gather, name, url] {
            reply->deleteLater();
            QString error;
            if (reply->error() != QNetworkReply::NoError) {
                error = reply->errorString();
            } else if (const auto load = parseModelServerMetrics(reply->readAll(), &error)) {
                if (load->queue >= 0) {
                    gather->queueSum += load->queue;
                    ++gather->queueN;
                }
                if (load->kvCache >= 0) {
                    gather->kvSum += load->kvCache;
                    ++gather->kvN;
                }
            }
            if (!error.isEmpty())
                gather->errors.append(QStringLiteral("%1: %2").arg(url, error));
            Sources *sources = answered(name);
            if (!sources || --gather->left > 0)
                return;
            Sources &s = *sources;
            // The pool's load: the mean over the model servers that answered.
            if (gather->queueN > 0 || gather->kvN > 0) {
                s.metricsQueue = gather->queueN ? gather->queueSum / gather->queueN : -1;
                s.metricsKv = gather->kvN ? gather->kvSum / gather->kvN : -1;
                s.metricsAtMs = steadyMs();
            }
            m_board->setSourceError(name, QStringLiteral("metrics"), gather->errors.join(QStringLiteral("; ")));
        });
    }
}

void PoolController::askPrometheus(const PoolRow &pool)
{
    struct Gather
    {
        int left = 2;
        double values[2] = {-1, -1};
        QStringList errors;
    };
    auto gather = std::make_shared<Gather>();
    m_sources[pool.name].inFlight += 2;
    const QString name = pool.name;
    const QString queries[2] = {poolQueueQuery(pool), poolKvCacheQuery(pool)};
    for (int i = 0; i < 2; ++i) {
        QUrl url(m_prometheusUrl);
        url.setPath(url.path().endsWith(QLatin1Char('/')) ? url.path() + QStringLiteral("api/v1/query") : url.path() + QStringLiteral("/api/v1/query"));
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("query"), QString::fromLatin1(QUrl::toPercentEncoding(queries[i])));
        url.setQuery(query);
        QNetworkReply *reply = m_network.get(QNetworkRequest(url));
        connect(reply, &QNetworkReply::finished, this, [this, reply, gather, name, i, q = queries[i]] {
            reply->deleteLater();
            QString error;
            const QByteArray body = reply->readAll();
            if (reply->error() != QNetworkReply::NoError && body.isEmpty()) {
                error = reply->errorString();
            } else if (const auto v = parsePrometheusValue(body, &error)) {
                gather->values[i] = *v;
            }
            if (!error.isEmpty())
                gather->errors.append(QStringLiteral("%1: %2").arg(q, error));
            Sources *sources = answered(name);
            if (!sources || --gather->left > 0)
                return;
            Sources &s = *sources;
            if (gather->values[0] >= 0 || gather->values[1] >= 0) {
                s.promQueue = gather->values[0];
                s.promKv = gather->values[1];
                s.promAtMs = steadyMs();
            } else if (gather->errors.isEmpty()) {
                gather->errors.append(QStringLiteral("the queries found no series (does Prometheus scrape the pool's model servers?)"));
            }
            m_board->setSourceError(name, QStringLiteral("prometheus"), gather->errors.join(QStringLiteral("; ")));
        });
    }
}

void PoolController::stepped(const QString &pool, std::optional<PoolState> state, const QString &error)
{
    if (!m_snapshots->current()->poolNamed(pool))
        return;
    m_board->setSourceError(pool, QStringLiteral("store"), error);
    // A store that cannot answer leaves the pool at its static limits (a fresh PoolState is stale).
    m_states[pool] = state.value_or(PoolState());
    m_board->publish(m_states);
}

} // namespace sluice
