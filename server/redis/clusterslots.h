// SPDX-License-Identifier: Apache-2.0
// Redis Cluster key → hash slot (CRC16/XMODEM of the key, or of its first non-empty {hash tag}).
#pragma once

#include "redis/layer.h"

#include <QByteArray>

namespace sluice {

constexpr int kClusterSlots = 16384;
quint16 crc16Xmodem(const char *data, qsizetype size);
int clusterSlot(const QByteArray &key);

} // namespace sluice
