#!/usr/bin/env bash
# A real multi-node Docker Swarm on this one machine, for the Swarm backend's tests (issue 17).
#
#   scripts/swarm-engines.sh [start]   create the bridge, the nodes' network namespaces, start a
#                                      dockerd in each, `swarm init` node 1 (manager), join the
#                                      others as workers, wait until every node is Ready, push the
#                                      test image and pull it on every node; only what is missing
#   scripts/swarm-engines.sh stop      stop the nodes and remove everything an earlier `start`
#                                      made (namespaces, bridge, registry listener, state)
#   scripts/swarm-engines.sh kill K    SIGKILL node K's dockerd (a crash); `start` brings it back
#   scripts/swarm-engines.sh env       print the variables test/support/swarmEnv.ts reads
#   scripts/swarm-engines.sh status    `docker node ls` on the manager
#
# Use a node with the docker CLI:  docker -H unix:///run/effect-docker-swarm/node1.sock node ls
#
# Layout (EFFECT_DOCKER_SWARM_NODES nodes, default 3; node 1 is the only manager):
# - bridge eswarm0 with 10.231.77.1/24, a private /24 that exists only on this machine;
# - node K: network namespace effect-swarm-K, a veth pair (eswK on the bridge, eth0 inside) with
#   10.231.77.(10+K)/24, and a dockerd with its own data root, exec root (so its own
#   containerd), pidfile, hostname swarm-nodeK (a UTS namespace) and unix socket
#   /run/effect-docker-swarm/nodeK.sock. A unix socket is reachable from every network
#   namespace: the tests talk to each node through it. dockerd enters the namespace with
#   `nsenter --net`, not `ip netns exec`, which remounts /sys and so hides the cgroup mounts
#   dockerd needs. Its iptables rules and bridges (docker0, docker_gwbridge, from 10.232.0.0/16)
#   live inside the node's namespace, never on the host; overlay networks come from 10.233.0.0/16.
# - the registry: 127.0.0.1:5000 inside a namespace is that namespace's own loopback, so a second
#   `docker-registry` listens on the bridge address 10.231.77.1:5000 over the same storage as the
#   one scripts/engine-env.sh starts (its repositories are there under this name too); the nodes
#   have it as an insecure registry. The test image 10.231.77.1:5000/effect-docker/swarm:latest
#   is busybox plus a layer of its own, built on node 1 and pushed from there; `start` pulls it
#   on every node, which proves each one reaches the registry.
# - the host's FORWARD policy is DROP (the first engine set it) and bridged packets go through it
#   (bridge-nf-call-iptables), so one rule accepts eswarm0-to-eswarm0 traffic; `stop` removes it.
# The shared first engine (/var/run/docker.sock) and the second engine (tcp 2376) are never
# touched, and swarm mode is never enabled on them.
#
# What works: attachable overlay networks across nodes (VXLAN), placement over the nodes,
# `node update --availability drain`, a node's dockerd killed (the node is Down after ~10 s and
# its tasks are started elsewhere; `start` brings it back and it rejoins), `service rm`.
# Service discovery by `tasks.<service>` DNS and `--endpoint-mode dnsrr`, and ports published
# with `--publish mode=host` (reachable at the node's address from the host).
# What does not: this kernel has no IPVS (CONFIG_IP_VS is not set, no modules), so the virtual
# IP of a service (`--endpoint-mode vip`, the default: its name resolves, connections fail) and
# the ingress routing mesh (`--publish` in the default ingress mode: connection refused on every
# node) do not work. A task's own overlay address works.
set -euo pipefail

STATE_DIR=${EFFECT_DOCKER_SWARM_STATE:-/tmp/effect-docker-swarm}
SOCKET_DIR=${EFFECT_DOCKER_SWARM_SOCKET_DIR:-/run/effect-docker-swarm}
NODES=${EFFECT_DOCKER_SWARM_NODES:-3}
BRIDGE=eswarm0
NET=10.231.77
BRIDGE_ADDRESS=$NET.1
REGISTRY=$BRIDGE_ADDRESS:5000
REGISTRY_STORAGE=${EFFECT_DOCKER_ENGINE_STATE:-/tmp/effect-docker-engine}/registry
IMAGE=$REGISTRY/effect-docker/swarm:latest
# The nodes' own bridges (docker0, docker_gwbridge) and the swarm's overlay networks: apart from
# each other, from 10.231.77.0/24 and from the other engines' 172.17/16 and 172.31.250/24.
LOCAL_POOL=10.232.0.0/16
SWARM_POOL=10.233.0.0/16
FORWARD_RULE=(FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment effect-docker-swarm -j ACCEPT)

log() { printf '[swarm-engines] %s\n' "$*" >&2; }

DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker

namespace() { echo "effect-swarm-$1"; }
address() { echo "$NET.$((10 + $1))"; }
socket() { echo "$SOCKET_DIR/node$1.sock"; }
node_dir() { echo "$STATE_DIR/node$1"; }
node() { local k=$1; shift; "$DOCKER" -H "unix://$(socket "$k")" "$@"; }
answers() { timeout 5 "$DOCKER" -H "unix://$(socket "$1")" version >/dev/null 2>&1; }
registry_answers() { curl -fsS -m 2 "http://$REGISTRY/v2/" >/dev/null 2>&1; }

wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then log "$what did not come up within ${seconds}s"; return 1; fi
    sleep 0.3
  done
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

make_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "creating bridge $BRIDGE ($BRIDGE_ADDRESS/24)"
    ip link add "$BRIDGE" type bridge
  fi
  local addresses
  addresses=$(ip -o -4 addr show dev "$BRIDGE")
  case "$addresses" in
    *" $BRIDGE_ADDRESS/24 "*) ;;
    *) ip addr add "$BRIDGE_ADDRESS/24" dev "$BRIDGE" ;;
  esac
  ip link set "$BRIDGE" up
  iptables -C "${FORWARD_RULE[@]}" 2>/dev/null || iptables -I "${FORWARD_RULE[@]}"
}

make_namespace() { # make_namespace <k>
  local k=$1 ns host_end
  ns=$(namespace "$k")
  host_end="esw$k"
  [ -e "/run/netns/$ns" ] || ip netns add "$ns"
  if ! ip link show "$host_end" >/dev/null 2>&1; then
    ip link add "$host_end" type veth peer name eth0 netns "$ns"
  fi
  ip link set "$host_end" master "$BRIDGE" up
  ip -n "$ns" link set lo up
  local addresses
  addresses=$(ip -n "$ns" -o -4 addr show dev eth0)
  case "$addresses" in
    *" $(address "$k")/24 "*) ;;
    *) ip -n "$ns" addr add "$(address "$k")/24" dev eth0 ;;
  esac
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route replace default via "$BRIDGE_ADDRESS"
}

start_registry() {
  if registry_answers; then return; fi
  log "starting the registry listener on $REGISTRY (storage $REGISTRY_STORAGE)"
  mkdir -p "$REGISTRY_STORAGE"
  cat >"$STATE_DIR/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $REGISTRY_STORAGE
  delete:
    enabled: true
http:
  addr: $REGISTRY
YAML
  nohup docker-registry serve "$STATE_DIR/registry.yml" >"$STATE_DIR/registry.log" 2>&1 9>&- &
  echo $! >"$STATE_DIR/registry.started"
  if ! wait_for registry 30 registry_answers; then tail -n 40 "$STATE_DIR/registry.log" >&2; exit 1; fi
}

# Whether the pid in <file> runs and is one of ours (its command line names the state
# directory): a pid file that outlived its process may name an unrelated process by now.
ours_alive() { # ours_alive <file>
  local pid cmdline
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$STATE_DIR"* ]]
}

stop_pid_file() { # stop_pid_file <file> <signal>
  local file=$1 pid
  if ours_alive "$file"; then
    pid=$(cat "$file")
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

start_node() { # start_node <k>
  local k=$1 dir
  dir=$(node_dir "$k")
  if answers "$k"; then return; fi
  # Started and not answering yet: wait_node waits for it.
  if ours_alive "$dir/dockerd.started"; then return; fi
  # A crash (`kill`) leaves the node's containerd behind; the new dockerd would reuse it.
  stop_pid_file "$dir/exec/containerd/containerd.pid" TERM
  rm -f "$dir/dockerd.pid"
  log "starting node $k ($(address "$k"), $(socket "$k"))"
  mkdir -p "$dir/data" "$dir/exec" "$SOCKET_DIR"
  # A UTS namespace of its own too, so that each node has a hostname of its own (swarm-nodeK,
  # for `docker node ls` and `node.hostname` constraints); every step execs, so $! is dockerd.
  nohup nsenter --net="/run/netns/$(namespace "$k")" unshare --uts \
    sh -c 'hostname "$0" && exec "$@"' "swarm-node$k" dockerd \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" \
    -H "unix://$(socket "$k")" \
    --storage-driver overlay2 \
    --insecure-registry "$REGISTRY" \
    --default-address-pool "base=$LOCAL_POOL,size=24" \
    >>"$dir/dockerd.log" 2>&1 9>&- &
  echo $! >"$dir/dockerd.started"
}

wait_node() { # wait_node <k>
  local k=$1
  if ! wait_for "node $k" 60 answers "$k"; then tail -n 40 "$(node_dir "$k")/dockerd.log" >&2; exit 1; fi
}

swarm_state() { node "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

init_swarm() {
  if [ "$(swarm_state 1)" = active ]; then return; fi
  log "swarm init on node 1"
  node 1 swarm init --advertise-addr "$(address 1)" --listen-addr "$(address 1):2377" \
    --default-addr-pool "$SWARM_POOL" --default-addr-pool-mask-length 24 >/dev/null
}

join_workers() {
  local token k pids=()
  token=$(node 1 swarm join-token -q worker)
  for k in $(seq 2 "$NODES"); do
    [ "$(swarm_state "$k")" = active ] && continue
    log "node $k joins as a worker"
    node "$k" swarm join --token "$token" --advertise-addr "$(address "$k")" \
      --listen-addr "$(address "$k"):2377" "$(address 1):2377" >/dev/null &
    pids+=($!)
  done
  wait_pids "a node could not join the swarm" "${pids[@]}"
}

# The shell's other children are daemons: wait for these pids only (`wait` alone would not return).
wait_pids() { # wait_pids <message when one failed> <pid...>
  local message=$1 failed=0 pid
  shift
  for pid in "$@"; do wait "$pid" || failed=1; done
  if [ $failed -ne 0 ]; then log "$message"; exit 1; fi
}

all_ready() {
  local states
  states=$(node 1 node ls --format '{{.Status}} {{.Availability}}' 2>/dev/null) || return 1
  [ "$(grep -c '^Ready Active$' <<<"$states")" -ge "$NODES" ]
}

# busybox plus a layer of its own, as scripts/engine-env.sh makes its images.
rootfs_tar() {
  local root
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'swarm\n' >"$root/etc/effect-docker-image"
  tar -C "$root" -c .
  rm -rf "$root"
}

push_image() {
  if curl -fsS -m 5 "http://$REGISTRY/v2/effect-docker/swarm/manifests/latest" \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1; then
    return
  fi
  log "pushing $IMAGE from node 1"
  rootfs_tar | node 1 import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
  node 1 push "$IMAGE" >/dev/null
}

# Every node pulls the image by its registry name: proof that each reaches the registry.
pull_everywhere() {
  local k pids=()
  for k in $(seq 1 "$NODES"); do
    node "$k" pull -q "$IMAGE" >/dev/null &
    pids+=($!)
  done
  wait_pids "a node could not pull $IMAGE" "${pids[@]}"
}

start() {
  # No node answers but an earlier run left state (its processes ended with the session that
  # started them): start from nothing rather than from a swarm of unknown services.
  local k any=false
  for k in $(seq 1 "$NODES"); do
    if answers "$k" || ours_alive "$(node_dir "$k")/dockerd.started"; then any=true; fi
  done
  if [ "$any" = false ] && [ -d "$STATE_DIR" ]; then
    log "no node answers: removing what an earlier run left"
    stop_all
  fi
  mkdir -p "$STATE_DIR"
  install_packages
  make_bridge
  for k in $(seq 1 "$NODES"); do make_namespace "$k"; done
  start_registry
  for k in $(seq 1 "$NODES"); do start_node "$k"; done
  for k in $(seq 1 "$NODES"); do wait_node "$k"; done
  init_swarm
  join_workers
  if ! wait_for "all $NODES nodes Ready" 60 all_ready; then node 1 node ls >&2; exit 1; fi
  push_image
  pull_everywhere
}

stop_all() {
  local k dir
  for k in $(seq 1 "$NODES"); do
    dir=$(node_dir "$k")
    if [ -f "$dir/dockerd.started" ]; then log "stopping node $k"; fi
    stop_pid_file "$dir/dockerd.started" TERM &
  done
  wait
  for k in $(seq 1 "$NODES"); do
    dir=$(node_dir "$k")
    stop_pid_file "$dir/exec/containerd/containerd.pid" TERM
    # Containers the crash of a dockerd and its containerd left running.
    pkill_shims "$dir"
    ip link del "esw$k" 2>/dev/null || true
    ip netns del "$(namespace "$k")" 2>/dev/null || true
    rm -f "$(socket "$k")"
  done
  stop_pid_file "$STATE_DIR/registry.started" TERM
  iptables -D "${FORWARD_RULE[@]}" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  # The nodes' layers are mounted on the host (nsenter keeps the host's mount namespace).
  local mounts
  mounts=$(awk -v dir="$STATE_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r)
  for mount in $mounts; do umount -l "$mount" 2>/dev/null || true; done
  rm -rf "$STATE_DIR"
  rmdir "$SOCKET_DIR" 2>/dev/null || true
}

# The shims of one node's containerd, found by their -address argument (its exec root), and
# their containers: a container's init is the shim's child, and outlives a killed shim.
pkill_shims() { # pkill_shims <node dir>
  local pid
  for pid in $(pgrep -f "containerd-shim.*-address $1/exec/" || true); do
    pkill -9 -P "$pid" 2>/dev/null || true
    kill -9 "$pid" 2>/dev/null || true
  done
}

# start, stop and kill one at a time (test projects may start it at the same time).
lock() {
  exec 9>"/tmp/effect-docker-swarm.lock"
  flock -w 600 9 || { log "another run holds /tmp/effect-docker-swarm.lock"; exit 1; }
}

case "${1:-start}" in
  start)
    lock
    started=$SECONDS
    start
    log "ready in $((SECONDS - started))s: $NODES nodes, manager $(socket 1), image $IMAGE"
    ;;
  stop) lock; stop_all ;;
  kill)
    lock
    [ -n "${2:-}" ] || { echo "usage: $0 kill <node number>" >&2; exit 2; }
    stop_pid_file "$(node_dir "$2")/dockerd.started" KILL
    ;;
  env)
    sockets=()
    addresses=()
    for k in $(seq 1 "$NODES"); do sockets+=("$(socket "$k")"); addresses+=("$(address "$k")"); done
    printf 'EFFECT_DOCKER_SWARM_SOCKETS=%s\nEFFECT_DOCKER_SWARM_ADDRESSES=%s\nEFFECT_DOCKER_SWARM_IMAGE=%s\n' \
      "$(IFS=,; echo "${sockets[*]}")" "$(IFS=,; echo "${addresses[*]}")" "$IMAGE"
    ;;
  status) node 1 node ls ;;
  *) echo "usage: $0 [start|stop|kill K|env|status]" >&2; exit 2 ;;
esac
