// SPDX-License-Identifier: Apache-2.0
// What the admin route files share: the bearer-token gate, body parsing, answering a backend
// Result, and the window keys named by a query (usage, live events).
#pragma once

#include "http/layer.h"

#include "engine/adminbackend.h"
#include "engine/policysnapshot.h"
#include "windowkey.h"
#include "engine/windowstore.h"
#include "http/httpapi.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QLoggingCategory>
#include <memory>
#include <vector>

Q_DECLARE_LOGGING_CATEGORY(lcAdmin)

namespace sluice {

struct ServerContext;

bool tokensEqual(const QByteArray &a, const QByteArray &b);
// Wraps a handler in the admin gate: 403 with no token configured, 401 without the right bearer.
HttpApi::Handler adminOnly(const ServerContext &context, HttpApi::Handler handler);

QByteArray compactJson(const QJsonValue &v);
QJsonObject bodyObject(const HttpRequest &r);
qint64 idFrom(const HttpRequest &r, const QString &what);

// Sends a backend result: the value through `ok`, an ApiError as itself.
template <typename T, typename F>
auto answer(HttpResponder responder, F ok)
{
    return [responder, ok](Result<T> result) mutable {
        if (auto *e = std::get_if<ApiError>(&result))
            responder.sendError(*e);
        else
            ok(responder, std::get<T>(result));
    };
}

// Window keys named by ?keys=a,b or ?key=a&key=b (at most 100; 400 for one that is not a key).
struct KeyQuery
{
    QByteArray key;
    ParsedWindowKey parsed;
};
std::vector<KeyQuery> keysFrom(const HttpRequest &r);

// The policies that govern the keys in a snapshot. Policy pointers point into that snapshot:
// whoever uses them holds `snapshot` (a registry reload or a policy edit frees the old one).
struct GovernedKeys
{
    std::shared_ptr<const PolicySnapshot> snapshot;
    std::vector<KeyQuery> keys;
    std::vector<const PolicyDto *> policies; // parallel to keys; null when none governs a key

    std::vector<WindowSpec> specs() const;
    QJsonArray usageJson(const std::vector<KeyUsage> &usage) const;
};
GovernedKeys governedKeys(std::shared_ptr<const PolicySnapshot> snapshot, std::vector<KeyQuery> keys);

} // namespace sluice
