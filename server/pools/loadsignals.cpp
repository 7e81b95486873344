// SPDX-License-Identifier: Apache-2.0
#include "pools/loadsignals.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <cmath>

namespace sluice {

std::optional<ServerLoad> parseModelServerMetrics(const QByteArray &text, QString *error)
{
    ServerLoad load;
    bool any = false;
    for (const QByteArray &raw : text.split('\n')) {
        const QByteArray line = raw.trimmed();
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        // name[{labels}] value [timestamp]
        const qsizetype brace = line.indexOf('{');
        const qsizetype space = line.indexOf(' ');
        if (space < 0)
            continue;
        const QByteArray name = line.left(brace >= 0 && brace < space ? brace : space);
        const bool waiting = name == "vllm:num_requests_waiting" || name == "tgi_queue_size";
        const bool kv = name == "vllm:kv_cache_usage_perc" || name == "vllm:gpu_cache_usage_perc";
        if (!waiting && !kv)
            continue;
        const qsizetype close = brace >= 0 ? line.lastIndexOf('}') : -1;
        const QList<QByteArray> rest = line.mid(close >= 0 ? close + 1 : space).simplified().split(' ');
        bool ok = false;
        const double v = rest.isEmpty() ? 0 : rest.first().toDouble(&ok);
        if (!ok || !std::isfinite(v) || v < 0)
            continue;
        any = true;
        if (waiting)
            load.queue = (load.queue < 0 ? 0 : load.queue) + v;
        else
            load.kvCache = std::max(load.kvCache, v);
    }
    if (!any) {
        if (error)
            *error = QStringLiteral("no load metric (vllm:num_requests_waiting, vllm:kv_cache_usage_perc, "
                                    "vllm:gpu_cache_usage_perc, tgi_queue_size) in the page");
        return std::nullopt;
    }
    return load;
}

namespace {
QString modelSelector(const PoolRow &pool)
{
    QStringList escaped;
    for (const QString &m : pool.models)
        escaped.append(QRegularExpression::escape(m).replace(QLatin1Char('\\'), QStringLiteral("\\\\")).replace(QLatin1Char('"'), QStringLiteral("\\\"")));
    return QStringLiteral("{model_name=~\"%1\"}").arg(escaped.join(QLatin1Char('|')));
}
} // namespace

QString poolQueueQuery(const PoolRow &pool)
{
    if (!pool.queueQuery.isEmpty())
        return pool.queueQuery;
    return QStringLiteral("avg(vllm:num_requests_waiting%1)").arg(modelSelector(pool));
}

QString poolKvCacheQuery(const PoolRow &pool)
{
    if (!pool.kvCacheQuery.isEmpty())
        return pool.kvCacheQuery;
    const QString s = modelSelector(pool);
    return QStringLiteral("avg(vllm:kv_cache_usage_perc%1) or avg(vllm:gpu_cache_usage_perc%1)").arg(s);
}

std::optional<double> parsePrometheusValue(const QByteArray &json, QString *error)
{
    auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return std::nullopt;
    };
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject())
        return fail(QStringLiteral("Prometheus answered something that is not JSON: %1").arg(QString::fromUtf8(json.left(80))));
    const QJsonObject o = doc.object();
    if (o.value(QStringLiteral("status")).toString() != QStringLiteral("success"))
        return fail(QStringLiteral("Prometheus: %1 (%2)").arg(o.value(QStringLiteral("error")).toString(QStringLiteral("no status success")),
                                                             o.value(QStringLiteral("errorType")).toString()));
    const QJsonObject data = o.value(QStringLiteral("data")).toObject();
    const QString type = data.value(QStringLiteral("resultType")).toString();
    QJsonArray sample;
    if (type == QStringLiteral("vector")) {
        const QJsonArray result = data.value(QStringLiteral("result")).toArray();
        if (result.isEmpty())
            return -1.0;
        sample = result.first().toObject().value(QStringLiteral("value")).toArray();
    } else if (type == QStringLiteral("scalar")) {
        sample = data.value(QStringLiteral("result")).toArray();
    } else {
        return fail(QStringLiteral("Prometheus: the query must give an instant vector or a scalar, not %1").arg(type.isEmpty() ? QStringLiteral("nothing") : type));
    }
    bool ok = false;
    const double v = sample.size() == 2 ? sample.at(1).toString().toDouble(&ok) : 0;
    if (!ok)
        return fail(QStringLiteral("Prometheus: the sample is not [time, \"value\"]"));
    if (!std::isfinite(v) || v < 0)
        return -1.0; // NaN (an average over nothing): unknown
    return v;
}

} // namespace sluice
