#!/usr/bin/env bash
# Start a single-node SLURM (node "localhost") on this machine, as root.
#
# Idempotent: packages are installed only when missing, the config is rewritten
# only when it changed (then the daemons are restarted), and daemons that already
# run are left alone. Ends when `sinfo` shows the node idle and a probe job ran.
#
# Memory enforcement, tried in this order:
#   cgroup    a writable cgroup v1 memory controller (/sys/fs/cgroup/memory):
#             proctrack/cgroup + task/cgroup + ConstrainRAMSpace, so `--mem` is
#             enforced and slurmstepd reports "Detected N oom-kill event(s)".
#             Verified on the project's development machines.
#   cgroup2   a cgroup v2 hierarchy with the memory controller: cgroup/v2 with
#             IgnoreSystemd=yes (SLURM 22.05 otherwise wants systemd to delegate).
#             Best effort: not available on the machines this was written on.
#   linuxproc fallback without memory enforcement (`--mem` is only bookkeeping),
#             used when neither works, e.g. in unprivileged containers.
# A mode that fails to start or to run the probe job falls back to linuxproc.
# The mode in use is printed and written to /etc/slurm/adaptive-llm-mode.
#
# Environment:
#   SLURM_MODE=cgroup|cgroup2|linuxproc   force a mode (no fallback)
#   SLURM_WAIT_S=60                       how long to wait for the node to be idle
set -euo pipefail

CONF_DIR=/etc/slurm
SPOOL=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
LOG_DIR=/var/log/slurm
WAIT_S="${SLURM_WAIT_S:-60}"

log() { printf '[start-slurm] %s\n' "$*"; }

if [[ "$(id -u)" != 0 ]]; then
    echo "start-slurm.sh must run as root (it installs packages and starts daemons)" >&2
    exit 1
fi

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null 2>&1 || missing+=(slurmctld)
    command -v slurmd >/dev/null 2>&1 || missing+=(slurmd)
    command -v sbatch >/dev/null 2>&1 || missing+=(slurm-client)
    command -v munged >/dev/null 2>&1 || missing+=(munge)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} (apt)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
    fi
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        mkdir -p /etc/munge
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
    chown -R munge:munge /etc/munge
    chmod 0700 /etc/munge
    chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    service munge start >/dev/null 2>&1 || runuser -u munge -- munged --force
    for _ in $(seq 1 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.5
    done
    echo "munge does not answer; see /var/log/munge/munged.log" >&2
    exit 1
}

cgroup_v1_memory_usable() {
    local probe=/sys/fs/cgroup/memory/.adaptive-llm-probe-$$
    [[ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]] || return 1
    mkdir "$probe" 2>/dev/null || return 1
    rmdir "$probe"
}

cgroup_v2_memory_usable() {
    [[ -f /sys/fs/cgroup/cgroup.controllers ]] || return 1
    grep -qw memory /sys/fs/cgroup/cgroup.controllers || return 1
    [[ -w /sys/fs/cgroup/cgroup.subtree_control ]]
}

node_line() {
    local cpus mem
    cpus="$(nproc)"
    mem="$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)"
    # Leave headroom for the OS and the daemons; slurmd refuses a node whose
    # RealMemory exceeds what it measures.
    mem=$((mem * 9 / 10))
    local defmem=$((mem / cpus))
    ((defmem > 2048)) && defmem=2048
    echo "NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN"
    echo "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES DefMemPerCPU=${defmem}"
}

write_conf() {
    local mode="$1" tmp
    tmp="$(mktemp)"
    {
        echo "# Written by tests/slurm/start-slurm.sh (mode: ${mode})"
        echo "ClusterName=adaptive-llm-local"
        echo "SlurmctldHost=localhost"
        echo "SlurmUser=root"
        echo "SlurmdUser=root"
        echo "AuthType=auth/munge"
        echo "StateSaveLocation=${SPOOL}"
        echo "SlurmdSpoolDir=${SLURMD_SPOOL}"
        echo "SlurmctldPidFile=/run/slurmctld.pid"
        echo "SlurmdPidFile=/run/slurmd.pid"
        echo "SlurmctldLogFile=${LOG_DIR}/slurmctld.log"
        echo "SlurmdLogFile=${LOG_DIR}/slurmd.log"
        echo "SchedulerType=sched/backfill"
        echo "SelectType=select/cons_tres"
        echo "ReturnToService=2"
        echo "MpiDefault=none"
        echo "JobCompType=jobcomp/none"
        echo "SlurmctldTimeout=30"
        echo "SlurmdTimeout=30"
        echo "KillWait=10"
        echo "MinJobAge=300"
        if [[ "$mode" == cgroup* ]]; then
            echo "ProctrackType=proctrack/cgroup"
            echo "TaskPlugin=task/cgroup,task/affinity"
            echo "JobAcctGatherType=jobacct_gather/cgroup"
            echo "JobAcctGatherFrequency=5"
            echo "SelectTypeParameters=CR_Core_Memory"
        else
            echo "ProctrackType=proctrack/linuxproc"
            echo "TaskPlugin=task/none"
            echo "JobAcctGatherType=jobacct_gather/linux"
            echo "SelectTypeParameters=CR_Core"
        fi
        node_line
    } >"$tmp"
    local changed=0
    if ! cmp -s "$tmp" "$CONF_DIR/slurm.conf"; then
        install -m 0644 "$tmp" "$CONF_DIR/slurm.conf"
        changed=1
    fi
    rm -f "$tmp"
    if [[ "$mode" == cgroup* ]]; then
        tmp="$(mktemp)"
        {
            echo "# Written by tests/slurm/start-slurm.sh"
            if [[ "$mode" == cgroup ]]; then
                echo "CgroupPlugin=cgroup/v1"
            else
                echo "CgroupPlugin=cgroup/v2"
                echo "IgnoreSystemd=yes"
            fi
            echo "CgroupMountpoint=/sys/fs/cgroup"
            echo "ConstrainCores=no"
            echo "ConstrainDevices=no"
            echo "ConstrainRAMSpace=yes"
            echo "ConstrainSwapSpace=yes"
            echo "AllowedSwapSpace=0"
        } >"$tmp"
        if ! cmp -s "$tmp" "$CONF_DIR/cgroup.conf"; then
            install -m 0644 "$tmp" "$CONF_DIR/cgroup.conf"
            changed=1
        fi
        rm -f "$tmp"
    elif [[ -f "$CONF_DIR/cgroup.conf" ]]; then
        rm -f "$CONF_DIR/cgroup.conf"
        changed=1
    fi
    echo "$mode" >"$CONF_DIR/adaptive-llm-mode"
    return "$changed"
}

daemon_pids() {
    # The pid file, else the running daemons of that exact name (a daemon that was
    # still shutting down when its successor started may have deleted the file).
    local pid
    pid="$(cat "/run/$1.pid" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
    else
        pgrep -x "$1" || true
    fi
}

daemon_running() {
    [[ -n "$(daemon_pids "$1")" ]]
}

stop_daemons() {
    local name pids
    for name in slurmd slurmctld; do
        pids="$(daemon_pids "$name")"
        if [[ -n "$pids" ]]; then
            # shellcheck disable=SC2086
            kill $pids 2>/dev/null || true
            for _ in $(seq 1 60); do
                daemon_running "$name" || break
                sleep 0.5
            done
            # shellcheck disable=SC2086
            daemon_running "$name" && kill -9 $pids 2>/dev/null
        fi
        rm -f "/run/${name}.pid"
    done
}

STARTED=0

start_daemons() {
    mkdir -p "$SPOOL" "$SLURMD_SPOOL" "$LOG_DIR"
    if ! daemon_running slurmctld; then
        slurmctld
        STARTED=1
    fi
    for _ in $(seq 1 20); do
        scontrol ping 2>/dev/null | grep -q UP && break
        sleep 0.5
    done
    if ! daemon_running slurmd; then
        slurmd
        STARTED=1
    fi
}

wait_idle() {
    local deadline=$((SECONDS + WAIT_S)) state dead=0
    while ((SECONDS < deadline)); do
        # Daemons write their pid files a moment after forking: give them 5 s.
        if daemon_running slurmd && daemon_running slurmctld; then
            dead=0
        elif ((++dead >= 5)); then
            log "a daemon exited; see ${LOG_DIR}/slurmd.log and slurmctld.log"
            return 1
        fi
        state="$(sinfo -h -n localhost -o '%T' 2>/dev/null | head -n1 || true)"
        case "$state" in
            idle | mixed | allocated) return 0 ;;
            down* | drain* | unknown*)
                scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
                ;;
        esac
        sleep 1
    done
    return 1
}

probe_job() {
    # A tiny job proves that slurmd can launch steps in this mode.
    local out
    out="$(timeout 60 srun --oversubscribe -N1 -n1 -t 1 --mem=64 true 2>&1)" && return 0
    log "probe job failed: ${out}"
    return 1
}

bring_up() {
    local mode="$1"
    if ! write_conf "$mode"; then
        log "configuration changed: restarting slurmctld and slurmd"
        stop_daemons
    fi
    start_daemons
    wait_idle || return 1
    # Probe only daemons started here: running ones have proven themselves, and a
    # busy node must not make an idempotent re-run fall back to another mode.
    ((STARTED == 0)) || probe_job
}

main() {
    install_packages
    mkdir -p "$CONF_DIR"
    start_munge

    local mode="${SLURM_MODE:-auto}"
    if [[ "$mode" == auto ]]; then
        if cgroup_v1_memory_usable; then
            mode=cgroup
        elif cgroup_v2_memory_usable; then
            mode=cgroup2
        else
            mode=linuxproc
        fi
    fi
    log "mode: ${mode}"
    if ! bring_up "$mode"; then
        if [[ "$mode" == cgroup* && -z "${SLURM_MODE:-}" ]]; then
            log "cgroup mode failed; falling back to proctrack/linuxproc (no --mem enforcement)"
            mode=linuxproc
            stop_daemons
            bring_up "$mode" || {
                echo "SLURM did not come up; see ${LOG_DIR}/slurmd.log and slurmctld.log" >&2
                exit 1
            }
        else
            echo "SLURM did not come up; see ${LOG_DIR}/slurmd.log and slurmctld.log" >&2
            exit 1
        fi
    fi
    sinfo
    log "ready (mode: ${mode}; --mem enforced: $([[ $mode == cgroup* ]] && echo yes || echo no))"
}

main "$@"
