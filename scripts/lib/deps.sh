# SPDX-License-Identifier: Apache-2.0
# Source this file. sluice_install_deps [--bench] installs the Debian 12 packages Sluice needs
# (only the missing ones; sudo only when not root); sluice_build [dir] [type] configures and builds.
# It must work on a minimal Debian 12: no compiler, no Python, no sudo.

SLUICE_PACKAGES=(build-essential cmake ninja-build pkg-config git ca-certificates curl
  qt6-base-dev qt6-httpserver-dev qt6-charts-dev qt6-websockets-dev libqt6opengl6-dev libgl-dev
  libpqxx-dev libhiredis-dev libbenchmark-dev
  redis-server redis-tools postgresql postgresql-client
  xvfb xauth fonts-dejavu-core)
SLUICE_BENCH_PACKAGES=(wrk nginx-light python3-fastapi uvicorn python3-redis)

sluice_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root (or sudo) to run: $*" >&2; return 1
  fi
}

sluice_install_deps() {
  local wanted=("${SLUICE_PACKAGES[@]}") missing=() p
  [ "${1:-}" = --bench ] && wanted+=("${SLUICE_BENCH_PACKAGES[@]}")
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  # In a container or chroot without an init system, package scripts must not try to start
  # services (we start our own redis/postgres on free ports in temporary directories).
  local policy=""
  if [ ! -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | sluice_as_root tee "$policy" >/dev/null && sluice_as_root chmod 755 "$policy"
  fi
  local rc=0
  sluice_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || rc=$?
  [ $rc -eq 0 ] && { sluice_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?; }
  [ -n "$policy" ] && sluice_as_root rm -f "$policy"
  return $rc
}

sluice_build() {
  local dir=${1:-build} type=${2:-Release}
  shift 2 2>/dev/null || shift $#
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  cmake --build "$dir" -j2
}
