#!/usr/bin/env bash
# Runs an attnsim sweep on a Slurm cluster as a job array: one array task per shard, then a merge job.
#
# usage: scripts/slurm_sweep.sh SPEC OUT_DIR [options] [-- SBATCH_OPTION...]
#
#   Array task i runs   attnsim sweep SPEC --out OUT_DIR/shards/i --shard i/N -j C
#   and once every task has ended (whatever their exit), a merge job runs
#                       attnsim merge OUT_DIR/shards/* --out OUT_DIR
#   which writes OUT_DIR/results.csv, the same as an unsharded `attnsim sweep SPEC --out OUT_DIR`, and reports
#   missing or duplicate points in its log. Logs: OUT_DIR/logs/shard-<i>-<array job>.out, merge-<job>.out.
#   To resume (tasks that ran out of time, failed nodes, a cancelled array), run the same command again:
#   finished points are skipped. Keep N: the shards of another N hold other points (this is checked).
#   A shared filesystem is assumed: SPEC, OUT_DIR and attnsim must be visible at the same absolute path on
#   the nodes (relative paths are made absolute here).
#
# options:
#   --shards N           array tasks (default 4)
#   --partition P        Slurm partition (default: the cluster's default partition)
#   --time T             time limit of each task, [D-]HH:MM:SS or minutes (default: the partition's)
#   --mem SIZE           memory of each task, as sbatch --mem: 4G, 500M (default: the partition's)
#   --cpus-per-task C    CPUs of each task; its sweep simulates C points at once (default 1)
#   --attnsim PATH       the attnsim binary (default: build/attnsim in this repository)
#   --dry-run            print the sbatch commands, submit nothing
#   -h, --help           this text
#   -- SBATCH_OPTION...  passed to both sbatch calls (e.g. -- --account=proj --qos=short)
#
# Prints the array and merge job ids. Exit: 0 submitted, 1 sbatch refused or an earlier submission into
# OUT_DIR is still queued, 2 bad options, a bad spec, an attnsim without --shard, or no sbatch on PATH.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n '2,29s/^# \{0,1\}//p' "$0"; }
bad() {
  echo "slurm_sweep: $*" >&2
  echo "(scripts/slurm_sweep.sh --help for the usage)" >&2
  exit 2
}
need_value() { [[ $# -ge 2 && -n $2 ]] || bad "$1 needs a value"; }

# A word as a POSIX shell reads it back (for the job's /bin/sh and for printing): bare when safe, else quoted.
shq() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=,%@+-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

SHARDS=4 PARTITION="" TIME="" MEM="" CPUS=1 ATTNSIM="$REPO/build/attnsim" DRY_RUN=0
positional=() extra=()
while [[ $# -gt 0 ]]; do
  arg=$1
  if [[ $arg == --*=* ]]; then  # --opt=value
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg=$1
  fi
  case $arg in
    --shards) need_value "$@"; SHARDS=$2; shift 2 ;;
    --partition) need_value "$@"; PARTITION=$2; shift 2 ;;
    --time) need_value "$@"; TIME=$2; shift 2 ;;
    --mem) need_value "$@"; MEM=$2; shift 2 ;;
    --cpus-per-task) need_value "$@"; CPUS=$2; shift 2 ;;
    --attnsim) need_value "$@"; ATTNSIM=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    -*) bad "unknown option '$arg'" ;;
    *) positional+=("$arg"); shift ;;
  esac
done

[[ ${#positional[@]} -eq 2 ]] || bad "expected SPEC and OUT_DIR, got ${#positional[@]} arguments"
SPEC=${positional[0]} OUT=${positional[1]}
[[ $SHARDS =~ ^[1-9][0-9]*$ ]] || bad "--shards: '$SHARDS' is not a positive integer"
[[ $CPUS =~ ^[1-9][0-9]*$ ]] || bad "--cpus-per-task: '$CPUS' is not a positive integer"
[[ -z $PARTITION || $PARTITION =~ ^[A-Za-z0-9_.,-]+$ ]] || bad "--partition: '$PARTITION' is not a partition name"
[[ -z $TIME || $TIME =~ ^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$ || $TIME =~ ^(UNLIMITED|INFINITE)$ ]] ||
  bad "--time: '$TIME' is not a time limit (HH:MM:SS, D-HH:MM:SS or minutes)"
[[ -z $MEM || $MEM =~ ^[0-9]+[KMGTkmgt]?$ ]] || bad "--mem: '$MEM' is not a size (as 4G, 500M)"
[[ -f $SPEC ]] || bad "no spec file '$SPEC'"
[[ -f $ATTNSIM && -x $ATTNSIM ]] || bad "no attnsim binary at '$ATTNSIM' (build it, or give --attnsim PATH)"
SPEC=$(realpath "$SPEC")
OUT=$(realpath -m "$OUT")
ATTNSIM=$(realpath "$ATTNSIM")
[[ $DRY_RUN -eq 1 ]] || command -v sbatch >/dev/null ||
  bad "sbatch not found: run this where Slurm's client commands are on PATH (a login node), or use --dry-run"

# Check here, at once, what would otherwise fail in every task: an attnsim without shards, a bad spec.
help=$("$ATTNSIM" sweep --help 2>&1 || true)
[[ $help == *--shard* ]] || bad "$ATTNSIM has no 'sweep --shard' (an older build?)"
"$ATTNSIM" merge --help >/dev/null 2>&1 || bad "$ATTNSIM has no 'merge' command (an older build?)"
if ! listing=$("$ATTNSIM" sweep "$SPEC" --out "$OUT/shards/0" --shard "0/$SHARDS" --dry-run 2>&1); then
  echo "$listing" >&2
  bad "attnsim refused the spec or the shard count (above)"
fi
if ! all_points=$("$ATTNSIM" sweep "$SPEC" --out "$OUT" --dry-run 2>/dev/null | awk 'NR == 1 {print $1}'); then
  all_points=""
fi

# Shards of another N would hold other points: resuming across a change of N recomputes and duplicates them.
count_file=$OUT/shards/.shards
if [[ -f $count_file && $(<"$count_file") != "$SHARDS" ]]; then
  bad "$OUT was run with --shards $(<"$count_file"): resume with that, or use another OUT_DIR"
fi

comment="attnsim sweep into $OUT"
common=(--parsable)
[[ -n $PARTITION ]] && common+=(--partition="$PARTITION")
[[ -n $TIME ]] && common+=(--time="$TIME")
common+=("${extra[@]}")

out_q=$(shq "$OUT")
shard_cmd="$(shq "$ATTNSIM") sweep $(shq "$SPEC") --out $out_q/shards/\$SLURM_ARRAY_TASK_ID"
shard_cmd+=" --shard \$SLURM_ARRAY_TASK_ID/$SHARDS -j $CPUS"
merge_cmd="$(shq "$ATTNSIM") merge $out_q/shards/* --out $out_q"

array_args=("${common[@]}" --job-name=attnsim-sweep --comment="$comment" --array="0-$((SHARDS - 1))"
            --ntasks=1 --cpus-per-task="$CPUS")
[[ -n $MEM ]] && array_args+=(--mem="$MEM")
array_args+=(--output="$OUT/logs/shard-%a-%A.out" --wrap="$shard_cmd")
merge_args=("${common[@]}" --job-name=attnsim-merge --comment="$comment" --ntasks=1 --cpus-per-task=1
            --output="$OUT/logs/merge-%j.out" --wrap="$merge_cmd")

print_cmd() {
  local w line="sbatch"
  for w in "$@"; do line+=" $(shq "$w")"; done
  echo "$line"
}

if [[ $DRY_RUN -eq 1 ]]; then
  echo "# ${all_points:+$all_points points, }$SHARDS shards; would create $OUT/logs and $OUT/shards"
  print_cmd "${array_args[@]}"
  print_cmd --dependency=afterany:ARRAY_JOB_ID "${merge_args[@]}"
  exit 0
fi

# Two sweeps into one shard folder at once would both simulate its points: refuse while one is queued.
if queued=$(squeue -h -u "$(id -un)" -o '%i|%k' 2>/dev/null); then
  running=$(awk -F'|' -v c="$comment" 'substr($0, index($0, "|") + 1) == c {print $1}' <<<"$queued" | paste -sd, -)
  if [[ -n $running ]]; then
    echo "slurm_sweep: jobs $running of an earlier submission into $OUT are still queued or running:" \
      "wait for them or scancel them, then submit again" >&2
    exit 1
  fi
fi

mkdir -p "$OUT/logs" "$OUT/shards"
echo "$SHARDS" >"$count_file"

jobid() { local id=${1%%;*}; [[ $id =~ ^[0-9]+$ ]] && echo "$id"; }  # --parsable prints ID or ID;CLUSTER
if ! reply=$(sbatch "${array_args[@]}") || ! array_id=$(jobid "$reply"); then
  echo "slurm_sweep: sbatch refused the array job${reply:+: $reply}" >&2
  exit 1
fi
if ! reply=$(sbatch --dependency="afterany:$array_id" "${merge_args[@]}") || ! merge_id=$(jobid "$reply"); then
  echo "slurm_sweep: array job $array_id submitted, but sbatch refused the merge job${reply:+: $reply}." >&2
  echo "slurm_sweep: merge by hand once it has ended: $merge_cmd" >&2
  exit 1
fi
echo "array job $array_id: ${all_points:+$all_points points in }$SHARDS shards into $OUT/shards, logs $OUT/logs/shard-<i>-$array_id.out"
echo "merge job $merge_id: after job $array_id, into $OUT/results.csv, log $OUT/logs/merge-$merge_id.out"
echo "watch: squeue -j $array_id,$merge_id; resume: run the same command again"
