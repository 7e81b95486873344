// SPDX-License-Identifier: Apache-2.0
// A rate-limit policy on the wire (design §6): names, not database ids, so a person can read it.
// A null QString selector means "every entity of the scope" (a default for each).
#pragma once

#include "scope.h"
#include "unit.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <optional>

namespace sluice {

struct PolicyDto
{
    qint64 id = 0;
    Scope scope = Scope::UserModel;
    QString tenantId;               // TENANT
    QString userId;                 // USER_MODEL
    std::optional<qint64> apiKeyId; // API_KEY
    QString modelId;                // MODEL, USER_MODEL
    QString modelTier;              // MODEL_TIER
    Unit unit = Unit::Requests;
    qint64 windowSeconds = 3600;    // 0 for a concurrent policy (it has no window; null on the wire)
    qint64 limit = 0;
    Algorithm algorithm = Algorithm::SlidingLog;
    std::optional<qint64> burst;    // token_bucket only: its capacity (absent: the limit)
    bool shadow = false;            // evaluated and reported, never blocks (design §11)
    // Adaptive (design §14): the limit follows the load of the GPU pool of the request's model —
    // limit × the pool's factor, the factor held within [minFactor, maxFactor] for this policy
    // (maxFactor above 1 lends idle capacity). Critical callers meet the static limit.
    bool adaptive = false;
    double minFactor = 0.1;
    double maxFactor = 1.0;
    bool enabled = true;
    QString description;

    QJsonObject toJson() const;
    // Reads the wire form. Checks types and the scope/selector rules of design §2; on failure
    // returns nullopt and sets *error to a sentence naming the field. Entity existence is the
    // registry's job, not this one.
    static std::optional<PolicyDto> fromJson(const QJsonObject &o, QString *error);

    // A default of its scope: it names no entity of it (USER_MODEL: not both user and model). A
    // decision labels it "(default)".
    bool isScopeDefault() const;

    // Which selector fields a scope may set (design §2 table).
    static bool scopeAllows(Scope scope, const char *field);
    // A token bucket's capacity: burst, or the limit when none is set.
    qint64 capacity() const { return burst.value_or(limit); }
    // Why a new policy (the admin API) may not have this limit: a sliding log keeps one entry per
    // request and holds at most kMaxLogEntries (unit.h). Empty when fine. A registry loaded from a
    // file or Postgres is not refused for it: the stores' bound applies there.
    QString boundError() const;
    // The identity used for "a second policy with the same scope, selectors and unit is 409".
    QString selectorKey() const;

    bool operator==(const PolicyDto &o) const;
    bool operator!=(const PolicyDto &o) const { return !(*this == o); }
};

QList<PolicyDto> policiesFromJson(const QJsonArray &a, QString *error);

} // namespace sluice
