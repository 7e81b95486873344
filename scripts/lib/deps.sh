# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Source this file (bash). It must work on a minimal Debian 12: no compiler, no Python, no sudo.
#   sluice_install_deps [--bench|--fuzz]  installs the missing Debian 12 packages (apt-get; sudo only
#                                       when not root); --bench adds wrk, nginx, valgrind and the FastAPI baseline,
#                                       --fuzz clang and libFuzzer (scripts/fuzz), --lint only
#                                       node and npm (scripts/lint-api), --picture matplotlib
#                                       (scripts/dashboard-picture)
#   sluice_build [dir] [type] [cmake args…]   configures (Ninja, default build/ Release) and builds
# Debian's redis-server and postgresql packages would start a system Redis on 6379 and a cluster on
# 5432; nothing here uses them (every script starts its own servers on free loopback ports). Where no
# init system runs (a chroot, a container) service starts are refused while installing, so a package
# script cannot fail on them.

SLUICE_PACKAGES=(build-essential cmake ninja-build pkg-config git ca-certificates curl
  qt6-base-dev qt6-charts-dev libqt6opengl6-dev libgl-dev
  libpqxx-dev libhiredis-dev libssl-dev libbenchmark-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  redis-server redis-tools postgresql postgresql-client nginx-light
  prometheus prometheus-alertmanager caddy
  lintian debootstrap systemd libseccomp-dev python3 python3-jsonschema
  xvfb xauth fonts-dejavu-core nodejs)
SLUICE_BENCH_PACKAGES=(wrk python3-fastapi uvicorn python3-redis valgrind)
SLUICE_FUZZ_PACKAGES=(clang libclang-rt-14-dev libfuzzer-14-dev)
SLUICE_LINT_PACKAGES=(nodejs npm)
SLUICE_PICTURE_PACKAGES=(python3-matplotlib)

sluice_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root (or sudo) to run: $*" >&2; return 1
  fi
}

sluice_missing_packages() { # packages… → prints those not installed
  local p
  for p in "$@"; do
    # (NodeSource's nodejs package carries its own npm, and conflicts with Debian's: either will do.)
    [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || echo "$p"
  done
}

sluice_install_deps() {
  local wanted=("${SLUICE_PACKAGES[@]}") missing=()
  [ "${1:-}" = --bench ] && wanted+=("${SLUICE_BENCH_PACKAGES[@]}")
  [ "${1:-}" = --fuzz ] && wanted+=("${SLUICE_FUZZ_PACKAGES[@]}")
  [ "${1:-}" = --lint ] && wanted=("${SLUICE_LINT_PACKAGES[@]}")
  [ "${1:-}" = --picture ] && wanted+=("${SLUICE_PICTURE_PACKAGES[@]}")
  mapfile -t missing < <(sluice_missing_packages "${wanted[@]}")
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  # Without an init system (chroot, container), package scripts must not try to start services:
  # a policy-rc.d that refuses them, only for this install and only if there is none already.
  local policy=""
  if [ ! -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# sluice_install_deps: no service starts while installing (removed afterwards)\nexit 101\n' \
      | sluice_as_root tee "$policy" >/dev/null && sluice_as_root chmod 755 "$policy" || policy=""
  fi
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
  local rc=0
  sluice_as_root "${apt[@]}" update -qq || rc=$?
  if [ $rc -eq 0 ]; then
    sluice_as_root "${apt[@]}" install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" || rc=$?
  fi
  [ -n "$policy" ] && sluice_as_root rm -f "$policy"
  if [ $rc -ne 0 ]; then echo "sluice_install_deps: apt-get failed ($rc)" >&2; return $rc; fi
  mapfile -t missing < <(sluice_missing_packages "${wanted[@]}")
  if [ ${#missing[@]} -ne 0 ]; then echo "sluice_install_deps: still missing: ${missing[*]}" >&2; return 1; fi
}

sluice_build() {
  local dir=${1:-build} type=${2:-Release}
  shift 2 2>/dev/null || shift $#
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  cmake --build "$dir" -j2
}
