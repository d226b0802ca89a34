#!/usr/bin/env bash
# qbench quick start for Debian 12.
#   ./quickstart.sh        install what is missing, build, run the main job: a quick sweep of
#                          every scheme on this machine, then the fit, the tuned dispatch
#                          tables and the plots, all in out/ (about a minute)
#   ./quickstart.sh test   install what is missing, build, run the tests; then build again with
#                          clang under ASan + UBSan and run them there too, with the fuzz
#                          targets replaying their corpora
# Installing needs root or sudo; without either it prints the apt-get line and stops.
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-run}
case "$mode" in
  run|test) ;;
  *) echo "usage: $0 [run|test]" >&2; exit 2 ;;
esac

packages=(build-essential cmake pkg-config libhwloc-dev libpapi-dev libyaml-dev
          libbenchmark-dev libbenchmark-tools python3-scipy libjansson-dev libcmocka-dev gnuplot-nox
          libdnnl-dev)
# the tests also build everything with clang under AddressSanitizer and UndefinedBehaviorSanitizer,
# with the fuzz targets (libFuzzer) replaying their corpora
if [ "$mode" = test ]; then
  packages+=(clang libclang-rt-14-dev libomp-14-dev)
  # and start real launchers: mpirun, and a single-node Slurm cluster on localhost (tests/cluster/)
  packages+=(openmpi-bin slurm-wlm munge)
fi

if ! command -v dpkg-query >/dev/null; then
  echo "qbench: this script installs Debian packages; on another system install: ${packages[*]}" >&2
  exit 1
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "qbench: missing Debian packages: ${missing[*]}" >&2
    echo "qbench: as root, run:  apt-get update && apt-get install -y ${missing[*]}" >&2
    echo "qbench: then run $0 again." >&2
    exit 1
  fi
  echo "qbench: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# nvcc lives outside PATH in a default CUDA install; the CUDA backend is optional (QBENCH_CUDA=AUTO).
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"

if [ "$mode" = test ]; then
  ctest --test-dir build --output-on-failure -j "$jobs"
  # the same suite again, built with clang under ASan + UBSan (any finding stops the test), plus
  # the fuzz targets replaying every seed and saved reproducer (tests/fuzz/README.md)
  CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQBENCH_CUDA=OFF \
    -DQBENCH_SANITIZE=ON -DQBENCH_FUZZ=ON
  cmake --build build-asan -j "$jobs"
  # intercept_tls_get_addr=0: LLVM 14's LeakSanitizer misreads glibc 2.36's dynamic TLS (that of
  # the dlopen'ed oneDNN) and crashes at exit (google/sanitizers#1322); static TLS is still scanned
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:intercept_tls_get_addr=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
else
  ./build/qbench devices
  echo
  ./build/qbench sweep --device host --quick
fi
