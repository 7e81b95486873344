// SPDX-License-Identifier: Apache-2.0
#include "metricstext.h"

#include <QList>

namespace sluice {

std::optional<double> sumOfMetric(const QByteArray &text, const QByteArray &name, const QByteArray &labelFilter)
{
    std::optional<double> sum;
    for (const QByteArray &line : text.split('\n')) {
        if (!line.startsWith(name))
            continue;
        const char next = line.size() > name.size() ? line.at(name.size()) : '\0';
        if (next != '{' && next != ' ')
            continue; // another metric that starts with the same name
        const qsizetype end = line.lastIndexOf('}');
        const QByteArray labels = end >= 0 ? line.left(end + 1) : QByteArray();
        if (!labelFilter.isEmpty() && !labels.contains(labelFilter))
            continue;
        QList<QByteArray> parts = line.mid(end >= 0 ? end + 1 : name.size()).trimmed().split(' ');
        bool ok = false;
        const double v = parts.value(0).toDouble(&ok);
        if (ok)
            sum = sum.value_or(0) + v;
    }
    return sum;
}

} // namespace sluice
