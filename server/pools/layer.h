// SPDX-License-Identifier: Apache-2.0
// Included by every header of server/pools/: only a target that links sluice_pools may use them.
#pragma once

#ifndef SLUICE_LINKS_POOLS
#error "server/pools/ headers are only for targets that link sluice_pools"
#endif
