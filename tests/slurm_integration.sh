#!/usr/bin/env bash
# Integration test of scripts/slurm_sweep.sh on a real Slurm: starts a single-node cluster on this machine
# (scripts/slurm_local_cluster.sh, which installs Slurm and munge from Debian's packages if missing), submits a
# 40-point sweep as a 3-shard job array with its merge job, and checks that the merged results.csv is byte for
# byte the one of the same sweep run unsharded here, and that the merge found no point missing or duplicated.
# Then deletes a shard folder and one point of another shard, submits the same command again, and checks that
# only those points are simulated again and the results are still identical (resume).
#
# usage: tests/slurm_integration.sh     (ATTNSIM: the attnsim binary, default build/attnsim in the repository)
# Exit 0 passed, 1 failed, 77 skipped (starting the cluster needs root). Keeps its folder when it fails.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
ATTNSIM=${ATTNSIM:-$REPO/build/attnsim}
[[ $ATTNSIM == /* ]] || ATTNSIM=$REPO/$ATTNSIM
CLUSTER=$REPO/scripts/slurm_local_cluster.sh
SUBMIT=$REPO/scripts/slurm_sweep.sh
WAIT_S=${ATTNSIM_SLURM_TEST_TIMEOUT:-600}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
T0=$(now)

if [[ $(id -u) -ne 0 ]]; then
  if ! command -v slurmctld >/dev/null || ! command -v sbatch >/dev/null; then
    echo "SKIP: Slurm is not installed, and installing it and starting a test cluster need root"
  else
    echo "SKIP: starting a test Slurm cluster needs root (SlurmUser=root, munged as munge)"
  fi
  exit 77
fi
[[ -x $ATTNSIM ]] || { echo "FAIL: no attnsim binary at $ATTNSIM (set ATTNSIM)"; exit 1; }

WORK=$(mktemp -d /tmp/attnsim-slurm-test.XXXXXX)
started_cluster=0
passed=0
cleanup() {
  if [[ $started_cluster -eq 1 ]]; then "$CLUSTER" stop >/dev/null 2>&1 || true; fi
  if [[ $passed -eq 1 ]]; then rm -rf "$WORK"; else echo "(the test's files are kept in $WORK)"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  local f
  for f in "$WORK"/out/logs/*.out; do
    [[ -f $f ]] || continue
    echo "--- $f (last lines)"
    tail -n 15 "$f"
  done
  if [[ -n ${SLURM_CONF:-} ]]; then
    echo "--- squeue"
    squeue 2>&1 || true
    for f in "$(dirname "$SLURM_CONF")"/log/slurmctld.log "$(dirname "$SLURM_CONF")"/log/slurmd.log; do
      [[ -f $f ]] || continue
      echo "--- $f (last lines)"
      tail -n 20 "$f"
    done
  fi
  exit 1
}

# --- the cluster: reuse one that scripts/slurm_local_cluster.sh started earlier, else start it (and stop it)
t=$(now)
if "$CLUSTER" status >/dev/null 2>&1; then
  echo "== reusing the running test cluster"
else
  echo "== starting a single-node Slurm cluster"
  started_cluster=1
  "$CLUSTER" start || fail "the local Slurm cluster did not start"
fi
# shellcheck source=/dev/null
source "${ATTNSIM_SLURM_DIR:-/tmp/attnsim-slurm}/env.sh"
export SLURM_CONF
sinfo -h -o '%P %a %D %t' || fail "sinfo does not answer"
t_cluster=$(since "$t")

# --- the sweep: 2 array sizes x 4 attention variants x 5 sequence lengths on the edge platform
cd "$WORK"
cat >spec.json <<'EOF'
{
  "description": "Slurm integration test: a small sweep that takes seconds.",
  "hardware": "edge",
  "model": "lra-text",
  "axes": [
    {"zip": [{"path": "/array/rows", "values": [16, 32]}, {"path": "/array/cols", "values": [16, 32]}]},
    {"path": "/attention/variant", "values": ["unfused", "flash", "primal", "lowrank_linear"]},
    {"path": "/model/seq_len", "values": [256, 512, 1024, 2048, 4096]}
  ],
  "timeout_s": 300
}
EOF
POINTS=40
# Relative SPEC and OUT_DIR: the script makes them absolute for the jobs.
submit=("$SUBMIT" spec.json out --shards 3 --cpus-per-task 1 --partition debug --time 00:10:00 --mem 500M
        --attnsim "$ATTNSIM")

submit_and_wait() {  # submits, prints the job ids, waits for the jobs; sets array_id and merge_id
  local reply ids deadline states
  reply=$("${submit[@]}") || fail "scripts/slurm_sweep.sh failed: $reply"
  echo "$reply"
  array_id=$(sed -n 's/^array job \([0-9][0-9]*\):.*/\1/p' <<<"$reply")
  merge_id=$(sed -n 's/^merge job \([0-9][0-9]*\):.*/\1/p' <<<"$reply")
  [[ -n $array_id && -n $merge_id ]] || fail "no job ids in the output of scripts/slurm_sweep.sh"
  ids="$array_id,$merge_id"
  deadline=$((SECONDS + WAIT_S))
  while [[ -n $(squeue -h -j "$ids" -o %i 2>/dev/null) ]]; do
    ((SECONDS < deadline)) || fail "jobs $ids still queued or running after ${WAIT_S}s"
    sleep 1
  done
  # Finished jobs stay known to slurmctld for MinJobAge (300 s) in the test cluster's slurm.conf.
  states=$(scontrol -o show job "$array_id" | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | tr -s ' ')
  [[ $states == " 3 JobState=COMPLETED" ]] || fail "the array's tasks did not all complete:$states"
  scontrol -o show job "$merge_id" | grep -q 'JobState=COMPLETED .*ExitCode=0:0' ||
    fail "the merge job did not complete: $(scontrol -o show job "$merge_id" | grep -o 'JobState=[^ ]*\|ExitCode=[^ ]*' | tr '\n' ' ')"
}

check_merge() {  # the merged table against the unsharded one, and the merge's own report
  local log=out/logs/merge-$merge_id.out
  [[ -f $log ]] || fail "no merge log $log"
  # attnsim merge's summary: "merged 3 folders: 40 of 40 points (40 ok, 0 failed), 0 missing, 0 duplicates"
  grep -q "^merged 3 folders: $POINTS of $POINTS points ($POINTS ok, 0 failed), 0 missing, 0 duplicates" "$log" ||
    fail "the merge did not report all $POINTS points ok, none missing or duplicated: $(cat "$log")"
  [[ -f out/results.csv ]] || fail "the merge wrote no out/results.csv"
  cmp out/results.csv local/results.csv || fail "out/results.csv differs from the unsharded local/results.csv"
  [[ $(tail -n +2 out/results.csv | wc -l) -eq $POINTS ]] || fail "out/results.csv has not $POINTS rows"
  for i in 0 1 2; do
    [[ -f out/logs/shard-$i-$array_id.out ]] || fail "no log out/logs/shard-$i-$array_id.out"
  done
}

echo "== submitting 3 shards and the merge"
t=$(now)
submit_and_wait
t_slurm=$(since "$t")

echo "== the same sweep unsharded, here"
t=$(now)
"$ATTNSIM" sweep spec.json --out local -j 2 >local.log 2>&1 || fail "the local sweep failed: $(tail -n 5 local.log)"
t_local=$(since "$t")
awk -F, 'NR > 1 && $3 != "ok" {bad = 1} END {exit bad}' local/results.csv || fail "points failed in the local sweep"
check_merge
echo "merged results.csv == unsharded results.csv ($POINTS points); the merge found none missing or duplicated"

echo "== resuming: shard 2 deleted, one point of shard 1 deleted, the same command again"
rm -rf out/shards/2 out/results.csv
lost=$(find out/shards/1/points -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
[[ -n $lost ]] || fail "shard 1 has no point folders"
rm -rf "$lost"
kept=$(find out/shards/0/points out/shards/1/points -name report.json | wc -l)
touch before-resume
sleep 1  # report.json files written from now on are strictly newer
t=$(now)
submit_and_wait
t_resume=$(since "$t")
check_merge
rerun=$(find out/shards/0/points out/shards/1/points -name report.json -newer before-resume | wc -l)
[[ $rerun -eq 1 ]] || fail "resuming simulated again $rerun points of shards 0 and 1 (the one deleted only)"
[[ $(find out/shards/0/points out/shards/1/points -name report.json | wc -l) -eq $((kept + 1)) ]] ||
  fail "shards 0 and 1 do not hold their points after resuming"
echo "resumed: shards 0 and 1 kept their $kept points and simulated the deleted one, shard 2 ran again; results identical"

passed=1
echo "wall time: cluster ${t_cluster}s, submission to merge ${t_slurm}s, local sweep ${t_local}s," \
  "resume ${t_resume}s, total $(since "$T0")s"
echo "PASS: a sweep through Slurm (3 shards + merge) gives the unsharded results.csv, and resumes"
