// SPDX-License-Identifier: Apache-2.0
#include "engine/uniqueids.h"

#include <QRandomGenerator>

namespace sluice {

UniqueIds::UniqueIds(QByteArray tag) : m_prefix(std::move(tag))
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 8; ++i)
        m_prefix.append(alphabet[QRandomGenerator::system()->bounded(62)]);
}

QByteArray UniqueIds::next() { return m_prefix + QByteArray::number(++m_counter, 36); }

} // namespace sluice
