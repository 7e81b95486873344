// SPDX-License-Identifier: Apache-2.0
// Builds window-log keys: "sluice:{<scope token>:<id>:<id>}". The one place keys are made, shared
// by every store and by the console (keys are part of the API: /admin/usage?keys=, /admin/events). Ids are escaped ('%' → %25, ':' → %3A, '{' → %7B, '}' → %7D) so that an id
// holding a separator or a hash-tag brace can never collide with another key or change the
// Redis Cluster hash slot. Everything else, Unicode included, is kept as UTF-8.
#pragma once

#include "scope.h"
#include "unit.h"

#include <QByteArray>
#include <QString>
#include <optional>

namespace sluice {

QByteArray windowKey(Scope scope, const QString &id1 = QString(), const QString &id2 = QString());
void appendEscapedId(QByteArray &out, const QString &id);
// What follows a scope's key for a policy of this unit and algorithm: "" (requests, sliding log),
// ":tokens", ":leases", ":bucket", ":tokens:bucket". Written here, parsed by parseWindowKey.
QByteArray windowKeySuffix(Unit unit, Algorithm algorithm);

} // namespace sluice

namespace sluice {

struct ParsedWindowKey
{
    Scope scope = Scope::Global;
    QString id1; // null when the scope has none
    QString id2;
    Unit unit = Unit::Requests;              // from the key's suffix (windowKeySuffix)
    Algorithm algorithm = Algorithm::SlidingLog;
    QByteArray scopeKey;                     // the key without its suffix (windowKey's)
};

// The inverse of windowKey(): nullopt when the bytes are not one of our keys.
std::optional<ParsedWindowKey> parseWindowKey(const QByteArray &key);

} // namespace sluice
