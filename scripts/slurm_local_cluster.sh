#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for testing scripts/slurm_sweep.sh (tests/slurm_integration.sh).
#
# usage: scripts/slurm_local_cluster.sh start|stop|status
#
#   start   installs slurm-wlm and munge from Debian's packages if missing (needs root), starts munged if no
#           munge daemon answers, writes slurm.conf under the state folder, starts slurmctld and slurmd, and
#           waits until the node is idle. Prints the line that points the client commands at the cluster:
#             export SLURM_CONF=STATE/slurm.conf      (also in STATE/env.sh, to source)
#   stop    cancels the cluster's jobs and stops the daemons it started (munged too, if it started it)
#   status  whether the daemons run, and sinfo; exit 0 when the node answers, 1 otherwise
#
# Environment: ATTNSIM_SLURM_DIR (state folder, default /tmp/attnsim-slurm), ATTNSIM_SLURM_PORT (slurmctld's
# port, slurmd takes the next one; default 6817), ATTNSIM_SLURM_TIMEOUT (seconds to wait for the node, 60).
#
# Works without systemd (in a container): the daemons are started by hand with -f, as root. No cgroups are
# used (proctrack/linuxproc, task/none), no accounting (no slurmdbd); everything Slurm writes is under the
# state folder, and its traffic stays on 127.0.0.1.
set -euo pipefail

STATE=${ATTNSIM_SLURM_DIR:-/tmp/attnsim-slurm}
PORT=${ATTNSIM_SLURM_PORT:-6817}
TIMEOUT=${ATTNSIM_SLURM_TIMEOUT:-60}
CONF=$STATE/slurm.conf
PARTITION=debug
MUNGE_SOCKET=/run/munge/munge.socket.2

die() { echo "slurm_local_cluster: $*" >&2; exit 1; }

usage() { sed -n '2,19s/^# \{0,1\}//p' "$0"; }

daemon_pid() {  # NAME: the pid in STATE/run/NAME.pid, if that process is still NAME (not a reused pid)
  local f=$STATE/run/$1.pid pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 1
  echo "$pid"
}

install_packages() {
  local missing=() p
  for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "Slurm is not installed (missing ${missing[*]}), and installing it needs root"
  echo "slurm_local_cluster: installing ${missing[*]}"
  mkdir -p "$STATE/log"
  # The packages' maintainer scripts may try to start the services through systemd; failing to do so in a
  # container is harmless, as the daemons are started below by hand.
  # Where no policy-rc.d keeps them from starting services, one is put in place for the install.
  local own_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local ok=1
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurm-wlm munge; } >"$STATE/log/apt.log" 2>&1 || ok=0
  [[ $own_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
  if [[ $ok -eq 0 ]]; then
    tail -n 20 "$STATE/log/apt.log" >&2
    die "installing slurm-wlm and munge failed (log: $STATE/log/apt.log)"
  fi
}

munge_answers() { munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; }

start_munge() {
  if munge_answers; then return 0; fi
  # The Debian package makes the key at install; make one if it is missing (an image that removed it).
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile=/etc/munge/munge.key
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
  fi
  # munged refuses a key or folders that others could write, and wants to run as the key's owner.
  chown munge:munge /etc/munge /etc/munge/munge.key
  chmod 0700 /etc/munge
  chmod 0400 /etc/munge/munge.key
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged --pid-file="/run/munge/munged.pid" \
    || die "munged did not start (see /var/log/munge/munged.log)"
  local _
  for _ in $(seq 50); do
    if munge_answers; then
      cp /run/munge/munged.pid "$STATE/run/munged.pid"  # so that stop ends it
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 /var/log/munge/munged.log >&2 2>/dev/null || true
  die "munged does not answer on $MUNGE_SOCKET"
}

write_conf() {
  local host cpus mem_kb mem_mb
  host=$(hostname -s)
  cpus=$(nproc)
  mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  # RealMemory above what slurmd measures would drain the node: leave 5% and at least 512 MB aside.
  mem_mb=$((mem_kb / 1024))
  mem_mb=$((mem_mb - (mem_mb / 20 > 512 ? mem_mb / 20 : 512)))
  ((mem_mb > 0)) || mem_mb=1
  cat >"$CONF" <<EOF
# Written by scripts/slurm_local_cluster.sh: a one-node test cluster on $host.
ClusterName=attnsim-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
MpiDefault=none
MailProg=/bin/true
# No cgroups (none are writable in a container): processes tracked through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
# Trust the node line below rather than what slurmd measures (a container may show other sockets or cores).
SlurmdParameters=config_overrides
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool/slurmd
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
# Finished jobs stay visible to scontrol show job for 5 minutes (no accounting to ask instead).
MinJobAge=300
KillWait=10
Waittime=0
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

node_state() { SLURM_CONF=$CONF sinfo -h -n "$(hostname -s)" -o %t 2>/dev/null | head -n 1; }

log_tails() {
  local f
  for f in "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log"; do
    [[ -f $f ]] || continue
    echo "--- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
}

start() {
  install_packages
  if daemon_pid slurmctld >/dev/null || daemon_pid slurmd >/dev/null; then
    die "already running (state in $STATE): run '$0 stop' first"
  fi
  [[ $(id -u) -eq 0 ]] || die "starting the test cluster needs root (SlurmUser=root, munged as munge)"
  mkdir -p "$STATE"/{state,spool/slurmd,run,log}
  rm -f "$STATE"/run/*.pid
  : >"$STATE/log/slurmctld.log"
  : >"$STATE/log/slurmd.log"
  write_conf
  printf 'export SLURM_CONF=%q\n' "$CONF" >"$STATE/env.sh"
  start_munge
  export SLURM_CONF=$CONF
  # -c: a clean start, without the jobs of an earlier run of this test cluster.
  slurmctld -c -f "$CONF" || { log_tails; die "slurmctld did not start"; }
  slurmd -f "$CONF" -N "$(hostname -s)" || { log_tails; die "slurmd did not start"; }
  local deadline=$((SECONDS + TIMEOUT)) state=""
  while ((SECONDS < deadline)); do
    state=$(node_state)
    case $state in
      idle | mix | alloc) break ;;
    esac
    sleep 0.5
  done
  case $state in
    idle | mix | alloc) ;;
    *)
      log_tails
      die "the node did not become idle in ${TIMEOUT}s (sinfo says '${state:-no answer}')"
      ;;
  esac
  echo "slurm_local_cluster: node $(hostname -s) is $state (partition $PARTITION, $(nproc) CPUs), state in $STATE"
  echo "export SLURM_CONF=$CONF"
}

stop_daemons() {  # NAME...: SIGTERM to all at once (each takes ~2 s to exit), SIGKILL after 10 s
  local name pid pids=() alive _
  for name in "$@"; do
    if pid=$(daemon_pid "$name"); then
      kill "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$STATE/run/$name.pid"
  done
  for _ in $(seq 100); do
    alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [[ $alive -eq 0 ]] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm_local_cluster: pid $pid ignored SIGTERM for 10 s, killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

stop() {
  if daemon_pid slurmctld >/dev/null; then
    # The jobs first, so that no job's processes outlive the daemons that track them.
    SLURM_CONF=$CONF scancel --partition="$PARTITION" 2>/dev/null || true
    local _
    for _ in $(seq 30); do
      [[ -z $(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null) ]] && break
      sleep 1
    done
  fi
  stop_daemons slurmd slurmctld munged
  echo "slurm_local_cluster: stopped"
}

status() {
  local name pid
  for name in slurmctld slurmd munged; do
    if pid=$(daemon_pid "$name"); then
      echo "$name: running (pid $pid)"
    elif [[ $name == munged ]]; then
      echo "munged: not started by this script$(munge_answers && echo ', but a munge daemon answers')"
    else
      echo "$name: not running"
    fi
  done
  # Only with slurmctld up: sinfo waits ~10 s for a controller that does not answer.
  daemon_pid slurmctld >/dev/null || return 1
  SLURM_CONF=$CONF sinfo || return 1
  echo "export SLURM_CONF=$CONF"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
