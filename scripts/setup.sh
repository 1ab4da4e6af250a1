#!/usr/bin/env bash
# Installs what attnsim needs from Debian's packages, if anything is missing, and builds it.
# Idempotent and quiet when everything is present. Usage: scripts/setup.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

# clang-14 and libclang-rt-14-dev: the sanitizer build and the libFuzzer harnesses (scripts/test.sh, fuzz.sh).
PACKAGES=(build-essential cmake pkg-config libsystemc-dev libboost-program-options-dev nlohmann-json3-dev
          catch2 python3 python3-matplotlib python3-jsonschema clang-14 libclang-rt-14-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" -- --no-print-directory | grep -vE '^\[ *[0-9]+%\] (Building|Linking|Built)' || true
test -x "$BUILD_DIR/attnsim" || { echo "setup: build failed" >&2; exit 1; }
