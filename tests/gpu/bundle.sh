#!/usr/bin/env bash
# Build qbench with the CUDA backend here, and gather the shared libraries it needs that a
# lent GPU machine does not have (hwloc, PAPI, libyaml, Google Benchmark, jansson, OpenMP),
# so that build-gpu/ can be carried there: run.sh then uses the driver's and the toolkit's own
# CUDA libraries. The lent machines reach no package registry, so nothing can be installed there.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DQBENCH_CUDA=ON -DQBENCH_TESTS=OFF >/dev/null
cmake --build build-gpu -j "$(nproc)" --target qbench >/dev/null
mkdir -p build-gpu/lib
ldd build-gpu/qbench | awk '/=> \// {print $3}' | while read -r lib; do
  case "$lib" in
    */libc.so*|*/libm.so*|*/libpthread*|*/libdl.so*|*/librt.so*|*/ld-linux*|*/libstdc++*|*/libgcc_s*) ;;
    /usr/local/cuda*|*/libcublas*|*/libcupti*|*/libcuda.so*) ;;   # the GPU machine has its own
    *) cp -L "$lib" build-gpu/lib/ ;;
  esac
done
du -sh build-gpu/qbench build-gpu/lib | sed 's/^/bundle: /'
