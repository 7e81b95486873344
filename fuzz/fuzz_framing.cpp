// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 framing guard: the first byte picks how the rest is split into reads; the framing
// must end in the same state however the bytes arrive (a refusal is final and the same one).
#include "http/framingguard.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const size_t chunk = 1 + data[0] % 64;
    const QByteArray bytes(reinterpret_cast<const char *>(data + 1), static_cast<qsizetype>(size - 1));
    sluice::HttpFraming split(16 * 1024), whole(16 * 1024);
    std::optional<sluice::ApiError> splitError;
    for (qsizetype i = 0; i < bytes.size() && !splitError; i += static_cast<qsizetype>(chunk))
        splitError = split.feed(bytes.mid(i, static_cast<qsizetype>(chunk)));
    const std::optional<sluice::ApiError> wholeError = whole.feed(bytes);
    if (splitError.has_value() != wholeError.has_value())
        std::abort();
    if (splitError && splitError->status() != wholeError->status())
        std::abort();
    if (!splitError && (split.completedRequests() != whole.completedRequests() || split.inRequest() != whole.inRequest()))
        std::abort();
    return 0;
}
