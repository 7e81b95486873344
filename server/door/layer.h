// SPDX-License-Identifier: Apache-2.0
// Included by every header of server/door/: only a target that links sluice_door may use them (it
// sets SLUICE_LINKS_DOOR for the targets that link it), so a wrong include fails to build instead of
// waiting for a review (one library per layer, design §1).
#pragma once

#ifndef SLUICE_LINKS_DOOR
#error "server/door/ headers are only for targets that link sluice_door"
#endif
