#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The official OpenAI client for node (npm `openai`), pinned, for the inference door's tests and
# benchmark: installs it once into the user's cache (npm) and prints its node_modules directory.
# 4.104.0: the last 4.x, which runs on Debian 12's node 18 (5.x asks for node 20).
set -euo pipefail
version=4.104.0
dir=${XDG_CACHE_HOME:-$HOME/.cache}/sluice/openai-$version
if [ ! -f "$dir/node_modules/openai/package.json" ]; then
  command -v npm >/dev/null || { echo "openai-sdk.sh: npm is missing (scripts/lib/deps.sh installs it)" >&2; exit 1; }
  mkdir -p "$dir"
  echo "installing openai@$version into $dir (npm)…" >&2
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "openai@$version" >&2
fi
echo "$dir/node_modules"
