#!/usr/bin/env bash
# A single-node Slurm cluster on localhost (munged, slurmctld, slurmd, as root, everything under a
# temporary folder), the example array job (examples/slurm/sweep-array.sbatch) on a tiny grid with
# its dependent merge job: the merged results hold the same points as one sweep.
set -euo pipefail
qbench=$(realpath "${1:?usage: slurm.sh QBENCH}")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
for c in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v $c >/dev/null || skip "$c is not installed (Debian: apt-get install slurm-wlm munge)"
done
[ "$(id -u)" = 0 ] || skip "starting slurmd takes root"

t=$(mktemp -d /tmp/qbench-slurm-XXXXXX)
stop() {
  for d in slurmd slurmctld munged; do
    if [ -s "$t/$d.pid" ]; then kill "$(cat "$t/$d.pid")" 2>/dev/null || true; fi
  done
  sleep 1
  rm -rf "$t"
}
trap stop EXIT
host=$(hostname -s)
port=$((20000 + RANDOM % 20000))
mkdir -p "$t/munge" "$t/state" "$t/spool" "$t/out"
chmod 700 "$t/munge"
head -c 1024 /dev/urandom >"$t/munge/munge.key"
chmod 400 "$t/munge/munge.key"
munged --force --key-file="$t/munge/munge.key" --socket="$t/munge/munge.socket" --pid-file="$t/munged.pid" \
  --log-file="$t/munged.log" --seed-file="$t/munge/seed"
cat >"$t/slurm.conf" <<CONF
ClusterName=qbench-test
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$t/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$t/state
SlurmdSpoolDir=$t/spool
SlurmctldPidFile=$t/slurmctld.pid
SlurmdPidFile=$t/slurmd.pid
SlurmctldLogFile=$t/slurmctld.log
SlurmdLogFile=$t/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=qbench Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$t/slurm.conf
slurmctld -c
slurmd
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^idle' && break
  sleep 0.5
done
sinfo -h -o %T | grep -qE '^idle' || { echo "the node never came up:"; tail -20 "$t/slurmctld.log" "$t/slurmd.log"; exit 1; }
echo "slurm: node $host idle (slurmctld on port $port)"

cd "$t/out"
export QBENCH="$qbench"
sbatch --array=0-1 --wait "$here/../../examples/slurm/sweep-array.sbatch" "$t/out/sweep" "${GRID[@]}" || {
  tail -n 30 "$t"/out/*.log "$t/slurmctld.log"; exit 1; }
# the dependent merge job: wait until nothing is left in the queue
for _ in $(seq 240); do
  [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h)" ] || { echo "the merge job never finished"; squeue; exit 1; }
cat "$t"/out/qbench-qbench-sweep-*.log | grep -E "^qbench: shard|^  [0-9]" || true
cat "$t"/out/qbench-merge-*.log
grep -q "SLURM_ARRAY_TASK_ID=0 of 2" "$t"/out/qbench-qbench-sweep-*_0.log
grep -q "SLURM_ARRAY_TASK_ID=1 of 2" "$t"/out/qbench-qbench-sweep-*_1.log
[ -s "$t/out/sweep/qbench_dispatch.h" ] || { echo "the merge job wrote no dispatch table"; exit 1; }
"$qbench" sweep "${GRID[@]}" -o "$t/whole" >/dev/null 2>&1
same_points "$t/out/sweep/results.json" "$t/whole/results.json"
echo "slurm: ok"
