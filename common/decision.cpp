// SPDX-License-Identifier: Apache-2.0
#include "decision.h"

#include "jsonwriter.h"
#include "textbuffer.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace sluice {

namespace {

// The policy of one unit that OpenAI-style headers describe: the most specific violated one when
// refused, else the one with the least left (ties: the most specific). Null when none applies.
const PolicyUsage *tightest(const Decision &d, Unit unit)
{
    const PolicyUsage *best = nullptr;
    for (const PolicyUsage &u : d.policies) {
        if (u.unit != unit || u.shadow)
            continue;
        if (!d.allowed && u.violated)
            return &u;
        if (!best || u.remaining < best->remaining)
            best = &u;
    }
    return best;
}

// OpenAI's duration form at p: "0s", "45s", "6m0s", "1h2m3s"; where it ends.
char *writeDuration(char *p, qint64 seconds)
{
    const qint64 h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
    if (h) {
        p = TextBuffer::decimal(p, h);
        *p++ = 'h';
    }
    if (h || m) {
        p = TextBuffer::decimal(p, m);
        *p++ = 'm';
    }
    p = TextBuffer::decimal(p, s);
    *p++ = 's';
    return p;
}

// The wire names of scopes, units and algorithms as JSON strings, made once from scopeName() and
// the others (the answer writes five of each; scanning them for escapes cost more than copying).
struct JsonNames
{
    QByteArray scope[8];
    QByteArray unit[kUnitCount];
    QByteArray algorithm[2];
    JsonNames()
    {
        auto json = [](const QString &name) {
            JsonWriter w(32);
            w.value(name);
            return w.take();
        };
        for (Scope s : kScopesBySpecificity)
            scope[static_cast<int>(s)] = json(scopeName(s));
        for (Unit u : kUnits)
            unit[unitIndex(u)] = json(unitName(u));
        for (Algorithm a : {Algorithm::SlidingLog, Algorithm::TokenBucket})
            algorithm[static_cast<int>(a)] = json(algorithmName(a));
    }
};

const JsonNames &jsonNames()
{
    static const JsonNames names;
    return names;
}

void writeUsage(JsonWriter &w, const PolicyUsage &u, bool withViolated, const JsonNames &names)
{
    w.beginObject()
        .key("scope").raw(names.scope[static_cast<int>(u.scope)])
        .key("label").value(u.label)
        .key("key").value(u.key);
    // The numbers and names that follow, written as one run into room reserved once (five objects
    // an answer: the per-member bookkeeping cost more than the bytes).
    TextBuffer &out = w.buffer();
    const QByteArray &unit = names.unit[unitIndex(u.unit)];
    const QByteArray &algorithm = names.algorithm[static_cast<int>(u.algorithm)];
    char *p = out.room(256 + unit.size() + algorithm.size());
    p = TextBuffer::literal(p, ",\"limit\":");
    p = TextBuffer::decimal(p, u.limit);
    p = TextBuffer::literal(p, ",\"count\":");
    p = TextBuffer::decimal(p, u.count);
    p = TextBuffer::literal(p, ",\"windowSeconds\":");
    p = TextBuffer::decimal(p, u.windowSeconds);
    p = TextBuffer::literal(p, ",\"unit\":");
    p = TextBuffer::copy(p, unit);
    p = TextBuffer::literal(p, ",\"algorithm\":");
    p = TextBuffer::copy(p, algorithm);
    if (u.shadow)
        p = TextBuffer::literal(p, ",\"shadow\":true");
    if (withViolated) {
        p = TextBuffer::literal(p, ",\"remaining\":");
        p = TextBuffer::decimal(p, u.remaining);
        p = TextBuffer::literal(p, ",\"resetSeconds\":");
        p = TextBuffer::decimal(p, u.resetSeconds);
        p = u.violated ? TextBuffer::literal(p, ",\"violated\":true") : TextBuffer::literal(p, ",\"violated\":false");
    }
    *p++ = '}';
    out.setEnd(p);
}

PolicyUsage readUsage(const QJsonObject &o)
{
    PolicyUsage u;
    u.scope = scopeFromName(o.value(QStringLiteral("scope")).toString()).value_or(Scope::Global);
    u.label = o.value(QStringLiteral("label")).toString();
    u.key = o.value(QStringLiteral("key")).toString().toUtf8();
    u.limit = o.value(QStringLiteral("limit")).toInteger();
    u.count = o.value(QStringLiteral("count")).toInteger();
    u.windowSeconds = o.value(QStringLiteral("windowSeconds")).toInteger();
    u.unit = unitFromName(o.value(QStringLiteral("unit")).toString()).value_or(Unit::Requests);
    u.algorithm = algorithmFromName(o.value(QStringLiteral("algorithm")).toString()).value_or(Algorithm::SlidingLog);
    u.shadow = o.value(QStringLiteral("shadow")).toBool();
    u.remaining = o.value(QStringLiteral("remaining")).toInteger();
    u.resetSeconds = o.value(QStringLiteral("resetSeconds")).toInteger();
    u.violated = o.value(QStringLiteral("violated")).toBool();
    return u;
}

} // namespace

int bindingPolicy(const QList<PolicyUsage> &policies)
{
    int best = -1;
    double bestShare = -1;
    for (int i = 0; i < policies.size(); ++i) {
        const PolicyUsage &u = policies.at(i);
        if (u.shadow)
            continue;
        if (u.violated)
            return i;
        const double share = u.limit > 0 ? static_cast<double>(u.count) / static_cast<double>(u.limit) : 2.0;
        if (share > bestShare) {
            bestShare = share;
            best = i;
        }
    }
    return best;
}

QByteArray Decision::toJson() const
{
    TextBuffer out(512 + 320 * policies.size()); // (the benchmark's four policies: 1378 bytes)
    writeJson(out);
    return out.take();
}

void Decision::writeJson(TextBuffer &out) const
{
    const JsonNames &names = jsonNames();
    JsonWriter w(out);
    w.beginObject()
        .key("allowed").value(allowed)
        .key("limit").value(limit)
        .key("count").value(count)
        .key("remaining").value(remaining)
        .key("windowSeconds").value(windowSeconds)
        .key("resetSeconds").value(resetSeconds)
        .key("retryAfterSeconds").value(retryAfterSeconds)
        .key("modelTier").value(modelTier)
        .key("cause").value(cause)
        .key("source").value(source)
        .key("algorithm");
    if (primary)
        w.raw(names.algorithm[static_cast<int>(primary->algorithm)]);
    else
        w.null();
    w
        .key("primary");
    if (primary)
        writeUsage(w, *primary, false, names);
    else
        w.null();
    w.key("policies").beginArray();
    for (const PolicyUsage &u : policies)
        writeUsage(w, u, true, names);
    w.endArray();
    if (!reservationId.isNull())
        w.key("reservationId").value(reservationId).key("leaseExpiresInSeconds").value(leaseExpiresInSeconds);
    if (pool) {
        w.key("pool").beginObject()
            .key("name").value(pool->name)
            .key("saturation").number(pool->saturation)
            .key("factor").number(pool->factor)
            .key("priority").value(priorityName(pool->priority))
            .key("stale").value(pool->stale)
            .key("shed").value(pool->shed)
            .endObject();
    }
    w.endObject();
}

std::optional<Decision> Decision::fromJson(const QByteArray &json)
{
    const QJsonDocument doc = QJsonDocument::fromJson(json);
    if (!doc.isObject() || !doc.object().contains(QStringLiteral("allowed")))
        return std::nullopt;
    const QJsonObject o = doc.object();
    Decision d;
    d.allowed = o.value(QStringLiteral("allowed")).toBool();
    d.limit = o.value(QStringLiteral("limit")).toInteger();
    d.count = o.value(QStringLiteral("count")).toInteger();
    d.remaining = o.value(QStringLiteral("remaining")).toInteger();
    d.windowSeconds = o.value(QStringLiteral("windowSeconds")).toInteger();
    d.resetSeconds = o.value(QStringLiteral("resetSeconds")).toInteger();
    d.retryAfterSeconds = o.value(QStringLiteral("retryAfterSeconds")).toInteger();
    const QJsonValue tier = o.value(QStringLiteral("modelTier"));
    d.modelTier = tier.isString() ? tier.toString() : QString();
    const QJsonValue cause = o.value(QStringLiteral("cause"));
    d.cause = cause.isString() ? cause.toString() : QString();
    d.source = o.value(QStringLiteral("source")).toString();
    if (o.value(QStringLiteral("primary")).isObject())
        d.primary = readUsage(o.value(QStringLiteral("primary")).toObject());
    for (const QJsonValue &v : o.value(QStringLiteral("policies")).toArray())
        d.policies.append(readUsage(v.toObject()));
    const QJsonValue reservation = o.value(QStringLiteral("reservationId"));
    if (reservation.isString()) {
        d.reservationId = reservation.toString();
        d.leaseExpiresInSeconds = o.value(QStringLiteral("leaseExpiresInSeconds")).toInteger();
    }
    if (o.value(QStringLiteral("pool")).isObject()) {
        const QJsonObject p = o.value(QStringLiteral("pool")).toObject();
        PoolDecision pool;
        pool.name = p.value(QStringLiteral("name")).toString();
        pool.saturation = p.value(QStringLiteral("saturation")).toDouble();
        pool.factor = p.value(QStringLiteral("factor")).toDouble(1);
        pool.priority = priorityFromName(p.value(QStringLiteral("priority")).toString()).value_or(Priority::Standard);
        pool.stale = p.value(QStringLiteral("stale")).toBool(true);
        pool.shed = p.value(QStringLiteral("shed")).toBool();
        d.pool = pool;
    }
    return d;
}

QByteArray decisionHeaderLines(const Decision &d, qint64 nowEpochSeconds, bool withReservation)
{
    if (!d.primary && d.allowed)
        return QByteArray();
    TextBuffer out(512);
    appendDecisionHeaderLines(out, d, nowEpochSeconds, withReservation);
    return out.take();
}

void appendDecisionHeaderLines(TextBuffer &out, const Decision &d, qint64 nowEpochSeconds, bool withReservation)
{
    if (!d.primary) {
        // Refused without a policy (a saturated pool shed it): when to come back, nothing else.
        if (!d.allowed) {
            out.append("Retry-After: ");
            out.number(d.retryAfterSeconds);
            out.append("\r\n");
        }
        return;
    }
    // The lines every answer with a policy has, written as one run into room reserved once.
    using B = TextBuffer;
    const QByteArray token = scopeToken(d.primary->scope);
    char *p = out.room(768 + 2 * token.size());
    p = B::literal(p, "RateLimit-Policy: \"");
    p = B::literal(B::copy(p, token), "\";q=");
    p = B::decimal(p, d.limit);
    p = B::literal(p, ";w=");
    p = B::decimal(p, d.windowSeconds);
    p = B::literal(p, "\r\nRateLimit: \"");
    p = B::literal(B::copy(p, token), "\";r=");
    p = B::decimal(p, d.remaining);
    p = B::literal(p, ";t=");
    p = B::decimal(p, d.resetSeconds);
    p = B::literal(p, "\r\nX-RateLimit-Limit: ");
    p = B::decimal(p, d.limit);
    p = B::literal(p, "\r\nX-RateLimit-Remaining: ");
    p = B::decimal(p, d.remaining);
    p = B::literal(p, "\r\nX-RateLimit-Reset: ");
    p = B::decimal(p, nowEpochSeconds + d.resetSeconds);
    // The seed API's name for the primary policy's algorithm.
    if (d.primary->unit == Unit::Concurrent)
        p = B::literal(p, "\r\nX-RateLimit-Strategy: concurrency\r\n");
    else if (d.primary->algorithm == Algorithm::TokenBucket)
        p = B::literal(p, "\r\nX-RateLimit-Strategy: token_bucket\r\n");
    else
        p = B::literal(p, "\r\nX-RateLimit-Strategy: sliding_window\r\n");
    for (Unit unit : {Unit::Requests, Unit::Tokens}) {
        const PolicyUsage *u = tightest(d, unit);
        if (!u)
            continue;
        const bool tokens = unit == Unit::Tokens;
        p = tokens ? B::literal(p, "x-ratelimit-limit-tokens: ") : B::literal(p, "x-ratelimit-limit-requests: ");
        p = B::decimal(p, u->limit);
        p = tokens ? B::literal(p, "\r\nx-ratelimit-remaining-tokens: ") : B::literal(p, "\r\nx-ratelimit-remaining-requests: ");
        p = B::decimal(p, u->remaining);
        p = tokens ? B::literal(p, "\r\nx-ratelimit-reset-tokens: ") : B::literal(p, "\r\nx-ratelimit-reset-requests: ");
        p = B::literal(writeDuration(p, u->resetSeconds), "\r\n");
    }
    out.setEnd(p);
    if (withReservation && !d.reservationId.isNull()) {
        // Every door hands the reservation out (forward-auth and gRPC have no body to carry it).
        out.append("X-Sluice-Reservation: ");
        out.appendUtf8(d.reservationId);
        out.append("\r\nX-Sluice-Lease-Expires-In: ");
        out.number(d.leaseExpiresInSeconds);
        out.append("\r\n");
    }
    if (!d.allowed) {
        out.append("Retry-After: ");
        out.number(d.retryAfterSeconds);
        out.append("\r\n");
    }
}

} // namespace sluice
