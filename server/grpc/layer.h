// SPDX-License-Identifier: Apache-2.0
// Included by every header of server/grpc/: only a target that links sluice_grpc may use them (it
// sets SLUICE_LINKS_GRPC for the targets that link it), so a wrong include fails to build instead of
// waiting for a review (one library per layer, design §1).
#pragma once

#ifndef SLUICE_LINKS_GRPC
#error "server/grpc/ headers are only for targets that link sluice_grpc"
#endif
