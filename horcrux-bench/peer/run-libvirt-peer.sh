#!/usr/bin/env bash
# Horcrux against libvirt-java, side by side (see README.md next to this script).
#
# Installs libvirt from Debian, starts virtlogd and libvirtd by hand (no systemd), defines the
# domains the list and lookup benchmarks read, builds the benchmarks with -Plibvirt-peer, runs
# PeerBenchmark twice (libvirtd as it is, then libvirtd under `tini -s`), writes
#   horcrux-bench/baselines/peer.json            every benchmark but libvirtDestroySubreaper
#   horcrux-bench/baselines/peer-subreaper.json  libvirtDestroySubreaper
#   horcrux-bench/baselines/peer-machine.json    the machine
# and cleans up everything it made, also on failure.
#
# Run as root on Debian 12, from anywhere:  horcrux-bench/peer/run-libvirt-peer.sh
# Environment (all optional):
#   PEER_DIR        disks and serial logs of the libvirt domains   (default /var/lib/horcrux-peer)
#   PEER_OUT        where the JSON files go                         (default horcrux-bench/baselines)
#   PEER_JMH_ARGS   extra JMH arguments for both runs, e.g. "-i 3 -wi 1" for a smoke run
#   PEER_MVN_ARGS   extra Maven arguments, e.g. "-o"
#   PEER_SKIP_BUILD set to 1 to reuse horcrux-bench/target/benchmarks.jar
#   PEER_JMH_IGNORE_LOCK  set to 1 to run while another JMH run holds /tmp/jmh.lock
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench=$(dirname "$here")
root=$(dirname "$bench")
uri=qemu:///system
peer_dir=${PEER_DIR:-/var/lib/horcrux-peer}
out=${PEER_OUT:-$bench/baselines}
list_size=1000
list_prefix=peer-list-
qemu_conf=/etc/libvirt/qemu.conf
work=$(mktemp -d /tmp/horcrux-peer-run.XXXXXX)
libvirtd_pid=
virtlogd_pid=
tini_pid=
jmh_pid=

log() { printf '%s run-libvirt-peer: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  echo "run-libvirt-peer: must run as root (it installs packages and starts libvirtd)" >&2
  exit 2
fi

# ---------------------------------------------------------------- cleanup, armed before anything starts

# True while process $1 exists and is not a zombie (PID 1 here may be slow to reap orphans).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# Waits up to $2 tenths of a second for process $1 to be gone.
wait_gone() {
  local pid=$1 tenths=$2
  while alive "$pid" && ((tenths-- > 0)); do sleep 0.1; done
  ! alive "$pid"
}

# Stops process $1 (TERM, then KILL after 10 s).
stop_pid() {
  local pid=$1
  [[ -n $pid ]] && alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 100 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 50 || true; }
}

# QEMU processes of this run: their -name is guest=peer-... (libvirt's and Horcrux's alike).
peer_qemu_pids() {
  local d cmd
  for d in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null < "$d/cmdline") || continue
    if [[ $cmd == *qemu-system* && $cmd == *"guest=peer-"* ]]; then
      echo "${d#/proc/}"
    fi
  done
}

stop_libvirtd() {
  stop_pid "$libvirtd_pid"
  stop_pid "$tini_pid"
  libvirtd_pid=
  tini_pid=
}

cleanup() {
  local status=$?
  set +e
  log "cleaning up"
  if [[ -n $jmh_pid ]]; then
    # JMH's forked benchmark JVM first: it holds the connection and starts domains.
    for pid in $(pgrep -P "$jmh_pid"); do stop_pid "$pid"; done
    stop_pid "$jmh_pid"
  fi
  if [[ -n $libvirtd_pid ]] && alive "$libvirtd_pid"; then
    # One virsh session for all of them: a virsh process per domain costs minutes.
    {
      virsh -c "$uri" list --name 2>/dev/null | grep '^peer-' | sed 's/^/destroy /'
      virsh -c "$uri" list --all --name 2>/dev/null | grep '^peer-' | sed 's/^/undefine /'
    } > "$work/cleanup.virsh"
    virsh -c "$uri" < "$work/cleanup.virsh" >/dev/null 2>&1
  fi
  stop_libvirtd
  stop_pid "$virtlogd_pid"
  for pid in $(peer_qemu_pids); do
    log "killing leftover QEMU $pid"
    kill -KILL "$pid" 2>/dev/null
  done
  # Domains libvirtd could not undefine (it was gone) would come back at its next start.
  rm -f /etc/libvirt/qemu/peer-*.xml
  rm -rf /var/lib/libvirt/qemu/domain-*-peer-* /run/libvirt/qemu/peer-*
  if [[ -f $work/qemu.conf.orig ]]; then
    cp -p "$work/qemu.conf.orig" "$qemu_conf"
  elif [[ -f $work/qemu.conf.created ]]; then
    rm -f "$qemu_conf"
  fi
  rm -rf "$peer_dir" "$work" /tmp/horcrux-peer-[0-9]*
  log "done (exit $status)"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if pgrep -x libvirtd >/dev/null || pgrep -x virtlogd >/dev/null; then
  echo "run-libvirt-peer: a libvirtd or virtlogd is already running; stop it first (this script starts and stops its own)" >&2
  exit 2
fi

# ---------------------------------------------------------------- install

packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils tini procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's libvirt-daemon-system would create this user; without it libvirtd's qemu driver fails.
if ! getent passwd libvirt-qemu >/dev/null; then
  log "creating system user libvirt-qemu"
  useradd --system --user-group --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu
fi

# ---------------------------------------------------------------- configure and start the daemons

# QEMU runs as root (the JVM's QEMUs do too), libvirt leaves file ownership alone, and no
# AppArmor/SELinux driver: there is none on this machine.
if [[ -f $qemu_conf ]]; then
  cp -p "$qemu_conf" "$work/qemu.conf.orig"
else
  touch "$work/qemu.conf.created"
fi
mkdir -p /etc/libvirt
cat > "$qemu_conf" <<'EOF'
# Written by horcrux-bench/peer/run-libvirt-peer.sh for the duration of its run.
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
EOF
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt/qemu /run/libvirt "$peer_dir" "$out"

wait_ready() {
  local tries=300
  until virsh -c "$uri" version >/dev/null 2>&1; do
    if ((tries-- == 0)); then
      echo "run-libvirt-peer: libvirtd did not answer on $uri; last lines of /var/log/libvirt/libvirtd.log:" >&2
      tail -20 /var/log/libvirt/libvirtd.log >&2 || true
      return 1
    fi
    sleep 0.1
  done
}

log "starting virtlogd"
virtlogd -d
for _ in $(seq 50); do [[ -s /run/virtlogd.pid ]] && break; sleep 0.1; done
virtlogd_pid=$(cat /run/virtlogd.pid)

start_libvirtd() {
  rm -f /run/libvirtd.pid
  libvirtd -d
  for _ in $(seq 100); do [[ -s /run/libvirtd.pid ]] && break; sleep 0.1; done
  libvirtd_pid=$(cat /run/libvirtd.pid)
  wait_ready
}

# libvirtd in the foreground under tini, which registers as a child subreaper (-s): the QEMU
# processes libvirtd daemonizes are reparented to tini, which reaps them at once.
start_libvirtd_subreaped() {
  rm -f /run/libvirtd.pid
  setsid tini -s -- libvirtd </dev/null >>"$work/libvirtd-tini.out" 2>&1 &
  tini_pid=$!
  for _ in $(seq 100); do [[ -s /run/libvirtd.pid ]] && break; sleep 0.1; done
  libvirtd_pid=$(cat /run/libvirtd.pid)
  wait_ready
}

log "starting libvirtd"
start_libvirtd
virsh -c "$uri" version >&2

# ---------------------------------------------------------------- the domains the list and lookup read

# The domain template PeerBenchmark fills too, so both define VMs of one shape.
domain_template=$bench/src/peer/resources/io/horcrux/bench/peer-domain.xml
accel=qemu; cpu_mode=maximum
if [[ -r /dev/kvm && -w /dev/kvm ]]; then accel=kvm; cpu_mode=host-passthrough; fi
domain_xml() {
  local name=$1 disk=$2 serial=$3
  sed -e "s|@type@|$accel|" -e "s|@name@|$name|" -e "s|@memoryMiB@|64|" -e "s|@cpuMode@|$cpu_mode|" \
      -e "s|@disk@|$disk|" -e "s|@serial@|$serial|" "$domain_template"
}

log "defining $list_size domains with their disks in $peer_dir"
qemu-img create -q -f qcow2 "$work/template.qcow2" $((64 << 20))
mkdir -p "$work/xml"
: > "$work/define.virsh"
for ((i = 0; i < list_size; i++)); do
  name=$(printf '%s%04d' "$list_prefix" "$i")
  cp --sparse=always "$work/template.qcow2" "$peer_dir/$name.qcow2"
  domain_xml "$name" "$peer_dir/$name.qcow2" "$peer_dir/$name.serial.log" > "$work/xml/$name.xml"
  echo "define $work/xml/$name.xml" >> "$work/define.virsh"
done
virsh -c "$uri" < "$work/define.virsh" >/dev/null
log "defined"
defined=$(virsh -c "$uri" list --all --name | grep -c "^$list_prefix" || true)
if ((defined != list_size)); then
  echo "run-libvirt-peer: defined $defined domains, expected $list_size" >&2
  exit 1
fi

# ---------------------------------------------------------------- build and run

if [[ ${PEER_SKIP_BUILD:-0} != 1 ]]; then
  log "building benchmarks.jar with -Plibvirt-peer"
  # shellcheck disable=SC2086
  (cd "$root" && mvn -B -q ${PEER_MVN_ARGS:-} -Plibvirt-peer -pl horcrux-bench -am package -DskipTests)
fi
jar=$bench/target/benchmarks.jar
jvm_args="-Dpeer.uri=$uri -Dpeer.dir=$peer_dir -Dpeer.listPrefix=$list_prefix"

# PEER_JMH_IGNORE_LOCK=1 runs even while another JMH run holds /tmp/jmh.lock (numbers get noisier).
lock_args=()
[[ ${PEER_JMH_IGNORE_LOCK:-0} == 1 ]] && lock_args=(-Djmh.ignoreLock=true)

run_jmh() {
  local include=$1 result=$2
  # In the background and waited for, so that a TERM to this script runs the cleanup at once.
  # shellcheck disable=SC2086
  java "${lock_args[@]}" -jar "$jar" "$include" -foe true -rf json -rff "$result" -jvmArgsAppend "$jvm_args" ${PEER_JMH_ARGS:-} &
  jmh_pid=$!
  wait "$jmh_pid"
  jmh_pid=
}

log "run 1: both sides, libvirtd as it is (its QEMUs orphaned to PID 1)"
run_jmh 'PeerBenchmark\.(horcruxList|horcruxLookup|horcruxStart|horcruxForcedStop|libvirtList|libvirtLookup|libvirtStart|libvirtDestroy)$' \
  "$out/peer.json"

log "run 2: libvirtd under tini -s (a subreaper reaps its QEMUs at once)"
stop_libvirtd
start_libvirtd_subreaped
run_jmh 'PeerBenchmark\.libvirtDestroySubreaper$' "$out/peer-subreaper.json"

# ---------------------------------------------------------------- the machine (the fields of Suite.writeMachine, plus versions)

java_prop() { java -XshowSettings:properties -version 2>&1 | sed -n "s/^ *$1 = //p" | head -1; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_kib=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo)
accelerator=TCG
[[ -r /dev/kvm && -w /dev/kvm ]] && accelerator=KVM
json_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
cat > "$out/peer-machine.json" <<EOF
{
  "cpu" : $(json_string "$cpu"),
  "cores" : $(nproc),
  "memoryGiB" : $(((mem_kib + 524288) / 1048576)),
  "kernel" : $(json_string "$(java_prop os.name) $(java_prop os.version)"),
  "jdk" : $(json_string "$(java_prop java.vm.name) $(java_prop java.runtime.version)"),
  "accelerator" : "$accelerator",
  "date" : "$(date -u +%F)",
  "libvirt" : $(json_string "$(libvirtd --version | awk '{print $NF}')"),
  "qemu" : $(json_string "$(qemu-system-x86_64 --version | head -1)")
}
EOF
log "wrote $out/peer.json, $out/peer-subreaper.json and $out/peer-machine.json"
