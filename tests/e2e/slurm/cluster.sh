# shellcheck shell=bash
# A real single-node Slurm cluster on this machine, for the e2e tests: munged on a private
# socket, slurmctld and slurmd from Debian's slurm-wlm, every daemon bound to 127.0.0.1
# (NodeAddr=127.0.0.1, CommunicationParameters=NoInAddrAny), all state under one folder.
#   slurm_cluster_start DIR   writes DIR/slurm.conf, starts the daemons, waits for the node
#   slurm_cluster_stop DIR    stops them (also after a failed check)
# Clients find the cluster through SLURM_CONF, which start exports. Needs root.

# The slurm.conf lines every test cluster shares: root daemons, munge on the socket in
# DIR/munge, daemons bound to their own addresses only, no cgroups, no accounting, the
# simplest scheduler, jobs kept visible for 10 minutes.
slurm_conf_common() {
  cat <<CONF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$1/munge/munge.socket
CommunicationParameters=NoInAddrAny
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
CONF
}

# slurm_start_munged DIR [PREFIX...]: munged with its socket, pid, log and seed in DIR/munge,
# run through PREFIX (e.g. a node's exec); "" or the reason it did not start.
slurm_start_munged() {
  local dir="$1"
  shift
  "$@" munged --force --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" --key-file=/etc/munge/munge.key ||
    echo "munged did not start: $(tail -n 3 "$dir/munge/munged.log")"
}

slurm_cluster_start() {
  local dir="$1" host cpus mem ctl_port d_port
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  chmod 700 "$dir/munge"
  host="$(hostname -s)"
  cpus="$(nproc)"
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
  ctl_port=$(free_port)
  d_port=$(free_port)
  : >"$dir/plugstack.conf"
  cat >"$dir/slurm.conf" <<CONF
ClusterName=dtbench-e2e
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
$(slurm_conf_common "$dir")
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
PlugStackConfig=$dir/plugstack.conf
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=e2e Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  export SLURM_CONF="$dir/slurm.conf"
  local why
  why="$(slurm_start_munged "$dir")"
  [ -z "$why" ] || { echo "$why" >&2; return 1; }
  slurmctld -f "$SLURM_CONF" || { echo "slurmctld did not start: $(tail -5 "$dir/slurmctld.log")" >&2; return 1; }
  slurmd -f "$SLURM_CONF" || { echo "slurmd did not start: $(tail -5 "$dir/slurmd.log")" >&2; return 1; }
  local _
  for _ in $(seq 60); do
    sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle && return 0
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "the node never became idle: $(sinfo -N 2>&1 | tail -2); $(tail -5 "$dir/slurmd.log")" >&2
  return 1
}

slurm_cluster_stop() {
  local dir="$1" f
  for f in slurmd slurmctld munge/munged; do
    if [ -f "$dir/$f.pid" ]; then kill "$(cat "$dir/$f.pid")" 2>/dev/null || true; fi
  done
  sleep 1
  for f in slurmd slurmctld munge/munged; do
    if [ -f "$dir/$f.pid" ]; then kill -KILL "$(cat "$dir/$f.pid")" 2>/dev/null || true; fi
  done
  return 0
}
