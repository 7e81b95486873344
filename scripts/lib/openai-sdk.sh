#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The official OpenAI client for node (npm `openai`), for the inference door's tests and benchmark:
# unpacks the pinned release shipped in the repository (tests/door/openai-<version>.tgz, exactly as
# `npm pack openai@<version>` fetched it from the npm registry; Apache-2.0; no dependencies) into the
# user's cache, once, and prints the node_modules directory to put in NODE_PATH. No network and no
# npm: a test run must not depend on reaching the registry. 5.23.2 runs on Debian 12's node 18.
set -euo pipefail
version=5.23.2
here=$(cd "$(dirname "$0")/../.." && pwd)
tarball=$here/tests/door/openai-$version.tgz
dir=${XDG_CACHE_HOME:-$HOME/.cache}/sluice/openai-$version
if [ ! -f "$dir/node_modules/openai/package.json" ]; then
  [ -f "$tarball" ] || { echo "openai-sdk.sh: $tarball is missing" >&2; exit 1; }
  mkdir -p "$dir/node_modules/openai"
  tar -xzf "$tarball" -C "$dir/node_modules/openai" --strip-components=1
fi
echo "$dir/node_modules"
