// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 request parser (HttpRequestParser): the first byte picks how the rest is split into
// appends; however the bytes arrive, the same requests must come out (method, target, headers,
// body, keep-alive) and a refusal must be the same one at the same request.
#include "http/httpparser.h"

#include <cstdint>
#include <cstdlib>

namespace {

struct Run
{
    QList<sluice::ParsedRequest> requests;
    int refusal = 0;
};

void drain(sluice::HttpRequestParser &p, Run &run)
{
    for (;;) {
        sluice::ParsedRequest r;
        const auto step = p.next(&r);
        if (step == sluice::HttpRequestParser::Step::Request) {
            run.requests.append(std::move(r));
            continue;
        }
        if (step == sluice::HttpRequestParser::Step::Refused)
            run.refusal = p.refusal()->status();
        return;
    }
}

bool same(const sluice::ParsedRequest &a, const sluice::ParsedRequest &b)
{
    return a.method == b.method && a.target == b.target && a.minorVersion == b.minorVersion && a.headers == b.headers
        && a.body == b.body && a.keepAlive == b.keepAlive && a.expectsContinue == b.expectsContinue;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const size_t chunk = 1 + data[0] % 64;
    const QByteArray bytes(reinterpret_cast<const char *>(data + 1), static_cast<qsizetype>(size - 1));
    sluice::HttpRequestParser split(16 * 1024), whole(16 * 1024);
    Run a, b;
    for (qsizetype i = 0; i < bytes.size() && a.refusal == 0; i += static_cast<qsizetype>(chunk)) {
        split.append(bytes.mid(i, static_cast<qsizetype>(chunk)));
        drain(split, a);
    }
    whole.append(bytes);
    drain(whole, b);
    if (a.refusal != b.refusal || a.requests.size() != b.requests.size())
        std::abort();
    for (qsizetype i = 0; i < a.requests.size(); ++i) {
        if (!same(a.requests.at(i), b.requests.at(i)))
            std::abort();
        if (a.requests.at(i).body.size() > 16 * 1024)
            std::abort();
    }
    if (a.refusal == 0 && split.inRequest() != whole.inRequest())
        std::abort();
    return 0;
}
