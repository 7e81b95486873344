// SPDX-License-Identifier: Apache-2.0
// The admin API's policy JSON: any bytes either give a policy or an error message; a policy that
// parses survives toJson → fromJson unchanged.
#include "policydto.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size)));
    if (!doc.isObject())
        return 0;
    QString error;
    const auto p = sluice::PolicyDto::fromJson(doc.object(), &error);
    if (!p) {
        if (error.isEmpty())
            std::abort(); // refused without saying why
        return 0;
    }
    QString again;
    const auto q = sluice::PolicyDto::fromJson(p->toJson(), &again);
    if (!q || !(*q == *p))
        std::abort(); // the round trip changed it
    return 0;
}
