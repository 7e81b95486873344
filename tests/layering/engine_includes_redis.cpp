// SPDX-License-Identifier: Apache-2.0
// Must NOT compile: a target that links only sluice_engine includes a Redis header. The layer
// guard in redis/layer.h turns this into an #error (tests/CMakeLists.txt expects the failure).
#include "redis/rediswindowstore.h"
