#!/usr/bin/env bash
# mpirun -np 2 qbench sweep --shard auto on a tiny grid, merged: the same points as one sweep.
set -euo pipefail
qbench=${1:?usage: mpi.sh QBENCH}
. "$(dirname "$0")/common.sh"
command -v mpirun >/dev/null || skip "mpirun is not installed (Debian: apt-get install openmpi-bin)"
t=$(mktemp -d /tmp/qbench-mpi-XXXXXX)
trap 'rm -rf "$t"' EXIT
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$qbench" sweep --shard auto "${GRID[@]}" \
  -o "$t/sharded" >"$t/mpirun.log" 2>&1 || { cat "$t/mpirun.log"; exit 1; }
grep -E "^qbench: shard|^  [0-9]" "$t/mpirun.log"
grep -q "OMPI_COMM_WORLD_RANK=0 of OMPI_COMM_WORLD_SIZE=2" "$t/mpirun.log"
grep -q "OMPI_COMM_WORLD_RANK=1 of OMPI_COMM_WORLD_SIZE=2" "$t/mpirun.log"
"$qbench" merge "$t"/sharded/shard-*-of-2/results.json -o "$t/merged.json"
"$qbench" sweep "${GRID[@]}" -o "$t/whole" >/dev/null 2>&1
same_points "$t/merged.json" "$t/whole/results.json"
# the merged file goes on through the stages after the sweep
"$qbench" emit "$t/merged.json" --format header -o "$t/dispatch.h" >/dev/null
echo "mpi: ok"
