// SPDX-License-Identifier: Apache-2.0
// The check request body: any bytes either parse into a request within the contract's bounds or
// are refused with a 400 ApiError; nothing else may come out (no crash, no other exception).
#include "apierror.h"
#include "apipaths.h"
#include "checkrequest.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray body(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size));
    try {
        const sluice::CheckRequest r = sluice::CheckRequest::fromJson(body);
        if (r.userId.isEmpty() || r.modelId.isEmpty() || r.cost < 1 || r.cost > sluice::api::kMaxCost)
            std::abort(); // accepted something the contract refuses
        (void)r.toJson();
    } catch (const sluice::ApiError &e) {
        if (e.status() != 400)
            std::abort();
    }
    return 0;
}
