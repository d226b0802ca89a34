#!/usr/bin/env bash
# A qbench sweep across MPI ranks: each rank runs one shard (qbench sweep --shard auto reads
# OMPI_COMM_WORLD_RANK and _SIZE, or PMI_RANK and PMI_SIZE), then one merge, fit, emit and plot.
#
#   examples/mpi/sweep.sh NP OUT [qbench sweep options...]
#   e.g.  examples/mpi/sweep.sh 4 out --shapes llama-3-8b --hostfile ...   (mpirun options: MPIRUN_ARGS)
#
# qbench needs no MPI library: mpirun only starts the ranks and names them. Put one rank per node
# (MPIRUN_ARGS="--map-by ppr:1:node"): ranks that share a node share its memory bandwidth and
# measure each other. As root, mpirun also needs --allow-run-as-root.
set -euo pipefail
qbench=${QBENCH:-qbench}
np=${1:?usage: sweep.sh NP OUT [qbench sweep options...]}
out=${2:?usage: sweep.sh NP OUT [qbench sweep options...]}
shift 2
# shellcheck disable=SC2086 # MPIRUN_ARGS is a list of options
mpirun ${MPIRUN_ARGS:-} -np "$np" "$qbench" sweep --shard auto -o "$out" "$@"
"$qbench" merge "$out"/shard-*-of-"$np"/results.json -o "$out/results.json"
"$qbench" fit "$out/results.json" -o "$out/profile.yaml" --report
"$qbench" emit "$out/results.json" --format header -o "$out/qbench_dispatch.h"
"$qbench" emit "$out/results.json" --format json -o "$out/qbench_dispatch.json"
"$qbench" plot "$out/results.json" -o "$out/plots" || echo "qbench: no plots (is gnuplot installed?)" >&2
