// SPDX-License-Identifier: Apache-2.0
// The inference door's token estimate (door/tokenestimate.h) of each text: a JSON array of strings
// on stdin, the estimates as a JSON array on stdout. bench/door/estimate compares them with a real
// tokenizer's counts.
#include "door/tokenestimate.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <cstdio>

int main()
{
    QFile in;
    if (!in.open(stdin, QIODevice::ReadOnly))
        return 2;
    const QJsonDocument doc = QJsonDocument::fromJson(in.readAll());
    if (!doc.isArray()) {
        std::fprintf(stderr, "expected a JSON array of strings on stdin\n");
        return 2;
    }
    QJsonArray out;
    for (const QJsonValue &v : doc.array())
        out.append(static_cast<double>(sluice::estimateTextTokens(v.toString())));
    const QByteArray json = QJsonDocument(out).toJson(QJsonDocument::Compact);
    std::fwrite(json.constData(), 1, static_cast<size_t>(json.size()), stdout);
    std::fputc('\n', stdout);
    return 0;
}
