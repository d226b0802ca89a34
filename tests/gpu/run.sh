#!/usr/bin/env bash
# The GPU checks of qbench, in one step, on a machine with an NVIDIA GPU (H100/H200 class):
#   1. every CUDA kernel against the fp64 reference, on shapes that are multiples of no tile;
#   2. the GPU's ceilings (qbench probe --device cuda:0);
#   3. the speed targets, each measured in this run against what it is compared with:
#      w4a16 g128 at M <= 16 on 8192x8192 and the llama-2-70b projections against the probed
#      copy bandwidth; w4a16 against cuBLASLt fp16 for M <= 32 (and the crossover M); cuBLASLt
#      fp16 / w8a8 / fp8 tuned over its algorithm space against its first heuristic choice.
# A short table is printed last; full JSON and logs go to $OUT (default /tmp/qbench-gpu).
# Use build-gpu/ made by tests/gpu/bundle.sh, or build here when the packages are present.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/qbench-gpu}
mkdir -p "$OUT"
if [ ! -x build-gpu/qbench ]; then
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DQBENCH_CUDA=ON -DQBENCH_TESTS=OFF >"$OUT/build.log" 2>&1 &&
    cmake --build build-gpu -j "$(nproc)" --target qbench >>"$OUT/build.log" 2>&1 ||
    { echo "build failed (see $OUT/build.log): on a machine without qbench's packages, run tests/gpu/bundle.sh where they are and carry build-gpu/"; exit 1; }
fi
export LD_LIBRARY_PATH="$PWD/build-gpu/lib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}"
export QBENCH_PROFILE_PATH="$PWD/profiles"
Q="$PWD/build-gpu/qbench"
"$Q" devices >"$OUT/devices.txt" 2>&1 || { cat "$OUT/devices.txt"; exit 1; }
if ! grep -q "^cuda:0" "$OUT/devices.txt"; then
  grep "^cuda" "$OUT/devices.txt"
  echo "no CUDA device here: these checks need one"
  exit 77
fi
py=python3
field() { $py -c "import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2].split('.'): v=v.get(k) if isinstance(v,dict) else None
print('' if v is None else v)" "$1" "$2"; }

fail=0
row() { printf '%-46s %s\n' "$1" "$2" | tee -a "$OUT/table.txt"; }
: >"$OUT/table.txt"

# 1. correctness of every CUDA kernel
check() { # scheme kernel m n k [extra...]
  local s=$1 kern=$2 m=$3 n=$4 k=$5; shift 5
  local f="$OUT/check-$kern-$m-$n-$k.json"
  if "$Q" run --device cuda --scheme "$s" --kernel "$kern" -m "$m" -n "$n" -k "$k" --min-time 0.05 --json "$@" >"$f" 2>"$f.err"; then
    row "check $kern M=$m N=$n K=$k $*" "ok: error $(field "$f" kernel_error) (limit $(field "$f" kernel_error_limit))"
  else
    row "check $kern M=$m N=$n K=$k $*" "FAILED: $(tail -1 "$f.err")"; fail=1
  fi
}
for m in 1 7 33; do
  for cfg in "tile=0,stages=2,splitk=1" "tile=1,stages=3,splitk=4" "tile=2,stages=4,splitk=2" "tile=3,stages=3,splitk=1"; do
    check w4a16 w4a16.cuda "$m" 1028 1024 --group 128 --config "$cfg"
    check w4a16 w4a16.cuda "$m" 1028 1024 --group 64 --asym --config "$cfg"
    check w8a16 w8a16.cuda "$m" 1028 1024 --config "$cfg"
    check w4a16 w4a16.cuda "$m" 1028 1024 --group 128 --act bf16 --config "$cfg"
    check w8a16 w8a16.cuda "$m" 1028 1024 --act bf16 --config "$cfg"
  done
  check fp16 fp16.cublaslt "$m" 1024 1024
  check bf16 bf16.cublaslt "$m" 1024 1024
  check w8a8 w8a8.cublaslt "$m" 1024 1024
  check fp8 fp8.cublaslt "$m" 1024 1024
  check fp8 fp8.cublaslt "$m" 1024 1024 --fp8-scale channel
  check w4a8 w4a8.cuda "$m" 1028 1024 --group 128
  # bf16 activations through the quantizers and the epilogues, bf16 out
  check w8a8 w8a8.cublaslt "$m" 1024 1024 --act bf16
  check fp8 fp8.cublaslt "$m" 1024 1024 --act bf16
  check fp8 fp8.cublaslt "$m" 1024 1024 --fp8-scale channel --act bf16
  check w4a8 w4a8.cuda "$m" 1028 1024 --group 128 --act bf16
done
check w4a16 w4a16.cuda 5 1024 1024 --group 128 --out f32

# 2. ceilings
"$Q" probe --device cuda:0 -o "$OUT/profile.yaml" 2>"$OUT/probe.txt"
copy=$($py - "$OUT/profile.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
print([b for b in d["measured"]["bandwidth"] if b["level"] == "DRAM"][0]["rw_gbs"])
PY
)
row "probe: device-to-device copy (read+write)" "$copy GB/s"
tail -8 "$OUT/probe.txt" >>"$OUT/table.txt"

# 3. speed targets
time_of() { field "$1" time.median_s; }
for shape in 8192x8192 8192x28672 28672x8192 10240x8192; do
  n=${shape%x*}; k=${shape#*x}
  for m in 1 2 4 8 16 32 64 128 256; do
    w="$OUT/w4a16-$m-$n-$k.json"; f="$OUT/fp16-$m-$n-$k.json"
    "$Q" run --device cuda --scheme w4a16 --group 128 -m "$m" -n "$n" -k "$k" --min-time 0.2 --json >"$w" 2>/dev/null || { row "w4a16 M=$m $shape" "FAILED"; fail=1; continue; }
    "$Q" run --device cuda --scheme fp16 -m "$m" -n "$n" -k "$k" --min-time 0.2 --json >"$f" 2>/dev/null || { row "fp16 M=$m $shape" "FAILED"; fail=1; continue; }
    tw=$(time_of "$w"); tf=$(time_of "$f"); gbs=$(field "$w" gbs)
    pct=$($py -c "print(f'{100*float(\"$gbs\")/float(\"$copy\"):.1f}')" 2>/dev/null || echo "?")
    sp=$($py -c "print(f'{float(\"$tf\")/float(\"$tw\"):.2f}')")
    row "w4a16 g128 M=$m $shape" "$gbs GB/s = $pct% of copy; ${sp}x vs fp16 cuBLASLt"
  done
done
# bf16 activations: the weight-only kernel on bf16 mma against cuBLASLt bf16, and bf16 itself
for m in 1 16 512; do
  w="$OUT/w4a16-bf16-$m.json"; b="$OUT/bf16-$m.json"
  "$Q" run --device cuda --scheme w4a16 --group 128 --act bf16 -m "$m" -n 4096 -k 4096 --min-time 0.2 --json >"$w" 2>/dev/null || { row "w4a16 bf16 M=$m 4096x4096" "FAILED"; fail=1; continue; }
  "$Q" run --device cuda --scheme bf16 -m "$m" -n 4096 -k 4096 --min-time 0.2 --json >"$b" 2>/dev/null || { row "bf16 M=$m 4096x4096" "FAILED"; fail=1; continue; }
  row "w4a16 (bf16 act) M=$m 4096x4096" "$($py -c "print(f'{float(\"$(time_of "$b")\")/float(\"$(time_of "$w")\"):.2f}')")x vs bf16 cuBLASLt ($(field "$b" gflops) GFLOP/s)"
done
for s in fp16 w8a8 fp8; do
  for p in "1 8192 8192" "16 8192 8192" "128 8192 8192" "1024 8192 8192" "16 28672 8192"; do
    set -- $p
    base="$OUT/lt-$s-$1-$2-$3-algo0.json"
    "$Q" run --device cuda --scheme "$s" -m "$1" -n "$2" -k "$3" --min-time 0.2 --json --config algo=0 >"$base" 2>/dev/null || continue
    best=$(time_of "$base"); bestcfg="algo=0"
    for a in 0 1 2 3 4 5 6 7; do for sk in 0 2 4; do for sw in 0 1; do
      f="$OUT/lt-$s-$1-$2-$3-$a-$sk-$sw.json"
      "$Q" run --device cuda --scheme "$s" -m "$1" -n "$2" -k "$3" --min-time 0.1 --json --config "algo=$a,splitk=$sk,swizzle=$sw" >"$f" 2>/dev/null || continue
      t=$(time_of "$f"); if $py -c "import sys; sys.exit(0 if float('$t') < float('$best') else 1)"; then best=$t; bestcfg="algo=$a,splitk=$sk,swizzle=$sw"; fi
    done; done; done
    row "cuBLASLt $s M=$1 N=$2 K=$3 tuned" "$($py -c "print(f'{float(\"$(time_of "$base")\")/float(\"$best\"):.3f}')")x vs first heuristic ($bestcfg)"
  done
done
echo
echo "=== qbench GPU checks ($(grep '^cuda:0' "$OUT/devices.txt")) ==="
cat "$OUT/table.txt"
exit $fail
