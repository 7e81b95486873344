// SPDX-License-Identifier: Apache-2.0
// The check request body: any bytes either parse into a request within the contract's bounds or
// are refused with a 400 ApiError; nothing else may come out (no crash, no other exception). And
// the fast reader agrees with the general one (QJsonDocument) on every body: the same request, or
// the same error.
#include "apierror.h"
#include "apipaths.h"
#include "checkrequest.h"

#include <cstdint>
#include <cstdlib>

namespace {

// The request as bytes (null and empty told apart), or the error's message.
QByteArray outcome(sluice::CheckRequest (*read)(const QByteArray &), const QByteArray &body)
{
    try {
        const sluice::CheckRequest r = read(body);
        if (r.userId.isEmpty() || r.modelId.isEmpty() || r.cost < 1 || r.cost > sluice::api::kMaxCost)
            std::abort(); // accepted something the contract refuses
        QByteArray out = r.toJson();
        for (const QString *s : {&r.tenantId, &r.modelTier, &r.apiKey})
            out += s->isNull() ? "|null" : "|set";
        return out;
    } catch (const sluice::ApiError &e) {
        if (e.status() != 400)
            std::abort();
        return "error " + e.toJson();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray body(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size));
    if (outcome(&sluice::CheckRequest::fromJson, body) != outcome(&sluice::CheckRequest::fromJsonDocument, body))
        std::abort(); // the two readers disagree
    return 0;
}
