// SPDX-License-Identifier: Apache-2.0
#include "redis/clusterslots.h"

namespace sluice {

quint16 crc16Xmodem(const char *data, qsizetype size)
{
    quint16 crc = 0;
    for (qsizetype i = 0; i < size; ++i) {
        crc ^= static_cast<quint16>(static_cast<unsigned char>(data[i]) << 8);
        for (int b = 0; b < 8; ++b)
            crc = (crc & 0x8000) ? static_cast<quint16>((crc << 1) ^ 0x1021) : static_cast<quint16>(crc << 1);
    }
    return crc;
}

int clusterSlot(const QByteArray &key)
{
    const qsizetype open = key.indexOf('{');
    if (open >= 0) {
        const qsizetype close = key.indexOf('}', open + 1);
        if (close > open + 1)
            return crc16Xmodem(key.constData() + open + 1, close - open - 1) % kClusterSlots;
    }
    return crc16Xmodem(key.constData(), key.size()) % kClusterSlots;
}

} // namespace sluice
