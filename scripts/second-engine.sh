#!/usr/bin/env bash
# A second Docker engine beside the first, for the TLS and fault tests (test/reliability):
# it can be stopped, killed and restarted without touching the engine every other suite uses.
#
#   scripts/second-engine.sh [start]   make the certificates, the bridge, start dockerd on
#                                      tcp://127.0.0.1:2376 (TLS, client certificates required)
#                                      and load busybox:latest into it
#   scripts/second-engine.sh stop      stop only what an earlier `start` started
#   scripts/second-engine.sh restart   stop its dockerd (SIGTERM, as a host shutdown would) and start it again
#   scripts/second-engine.sh kill      SIGKILL its dockerd (a crash), leaving the rest for `start`
#   scripts/second-engine.sh env       print DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH for it
#
# Everything it owns lives under one state directory: data root, exec root (its own containerd
# socket and state), pidfile, certificates. It gets a bridge of its own (`-b`, `--iptables=false`):
# `--bridge none` would delete the first daemon's docker0 and break every suite running on it.
# So would `--default-address-pool`: dockerd 20.10, restarted with a default bridge in its store,
# deletes the interface named docker0 whatever `-b` says (removeDefaultBridgeInterface). As a
# last guard, a start that finds docker0 gone puts it back as it was.
set -euo pipefail

STATE_DIR=${EFFECT_DOCKER_SECOND_ENGINE_STATE:-/tmp/effect-docker-engine2}
HOST=127.0.0.1
PORT=${EFFECT_DOCKER_SECOND_ENGINE_PORT:-2376}
BRIDGE=${EFFECT_DOCKER_SECOND_ENGINE_BRIDGE:-edocker2}
BRIDGE_CIDR=172.31.250.1/24
CERTS="$STATE_DIR/certs"
SOCKET="$STATE_DIR/docker.sock"

log() { printf '[second-engine] %s\n' "$*" >&2; }

DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
# The script's own calls go through a unix socket only root can reach; the tests use TLS.
docker2() { "$DOCKER" -H "unix://$SOCKET" "$@"; }

answers() { timeout 5 "$DOCKER" -H "unix://$SOCKET" version >/dev/null 2>&1; }
tls_answers() {
  curl -fsS -m 3 --cacert "$CERTS/client/ca.pem" --cert "$CERTS/client/cert.pem" \
    --key "$CERTS/client/key.pem" "https://$HOST:$PORT/_ping" >/dev/null 2>&1
}

wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then log "$what did not come up within ${seconds}s"; return 1; fi
    sleep 0.3
  done
}

# A CA, a server certificate for 127.0.0.1 and a client certificate, as `docker --tlsverify`
# expects them: $CERTS/client holds ca.pem, cert.pem, key.pem (a DOCKER_CERT_PATH). A second,
# unrelated CA ($CERTS/wrong-ca) lets the tests check that a wrong CA is refused.
make_certificates() {
  if [ -f "$CERTS/client/key.pem" ] && [ -f "$CERTS/wrong-ca/ca.pem" ]; then return; fi
  log "making certificates in $CERTS"
  rm -rf "$CERTS"
  mkdir -p "$CERTS/server" "$CERTS/client" "$CERTS/no-client-cert" "$CERTS/wrong-ca"
  local work
  work=$(mktemp -d)
  (
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=effect-docker test CA" \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$HOST" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=effect-docker test client" \
      -keyout client-key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
      -extfile client.ext -out client-cert.pem 2>/dev/null
    # A CA that signed nothing here, with a client certificate of its own.
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=some other CA" \
      -keyout wrong-ca-key.pem -out wrong-ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=stranger" -keyout wrong-key.pem -out wrong.csr 2>/dev/null
    openssl x509 -req -in wrong.csr -CA wrong-ca.pem -CAkey wrong-ca-key.pem -CAcreateserial -days 30 \
      -extfile client.ext -out wrong-cert.pem 2>/dev/null
  )
  cp "$work/ca.pem" "$CERTS/server/ca.pem"
  cp "$work/server-cert.pem" "$CERTS/server/cert.pem"
  cp "$work/server-key.pem" "$CERTS/server/key.pem"
  cp "$work/ca.pem" "$CERTS/client/ca.pem"
  cp "$work/client-cert.pem" "$CERTS/client/cert.pem"
  cp "$work/client-key.pem" "$CERTS/client/key.pem"
  # Trusts the server, but has no certificate of its own to present.
  cp "$work/ca.pem" "$CERTS/no-client-cert/ca.pem"
  # The right client certificate, but trusting the wrong CA for the server.
  cp "$work/wrong-ca.pem" "$CERTS/wrong-ca/ca.pem"
  cp "$work/client-cert.pem" "$CERTS/wrong-ca/cert.pem"
  cp "$work/client-key.pem" "$CERTS/wrong-ca/key.pem"
  # A client certificate the server's CA never signed.
  mkdir -p "$CERTS/stranger"
  cp "$work/ca.pem" "$CERTS/stranger/ca.pem"
  cp "$work/wrong-cert.pem" "$CERTS/stranger/cert.pem"
  cp "$work/wrong-key.pem" "$CERTS/stranger/key.pem"
  chmod -R go-rwx "$CERTS"
  rm -rf "$work"
}

make_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "creating bridge $BRIDGE ($BRIDGE_CIDR)"
    ip link add "$BRIDGE" type bridge
    echo "$BRIDGE" >"$STATE_DIR/bridge.created"
  fi
  # (Not `ip addr | grep -q`: under pipefail, grep quitting early fails the pipeline.)
  local addresses
  addresses=$(ip -o -4 addr show dev "$BRIDGE")
  case "$addresses" in
    *" ${BRIDGE_CIDR} "*) ;;
    *) ip addr add "$BRIDGE_CIDR" dev "$BRIDGE" ;;
  esac
  ip link set "$BRIDGE" up
}

# docker0's addresses before a start, to put it back if the start deleted it.
first_bridge_addresses() { ip -o -4 addr show dev docker0 2>/dev/null | awk '{print $4}'; }

restore_first_bridge() { # restore_first_bridge <addresses before>
  [ -n "$1" ] || return 0
  ip link show docker0 >/dev/null 2>&1 && return 0
  log "WARNING: docker0 of the first engine disappeared during the start; putting it back ($1)"
  ip link add docker0 type bridge
  local address
  for address in $1; do ip addr add "$address" dev docker0; done
  ip link set docker0 up
}

start_dockerd() {
  if answers; then log "the second engine already answers"; return; fi
  local first_bridge
  first_bridge=$(first_bridge_addresses)
  log "starting dockerd on tcp://$HOST:$PORT"
  mkdir -p "$STATE_DIR/data" "$STATE_DIR/exec"
  nohup dockerd \
    --data-root "$STATE_DIR/data" \
    --exec-root "$STATE_DIR/exec" \
    --pidfile "$STATE_DIR/dockerd.pid" \
    -H "unix://$SOCKET" \
    -H "tcp://$HOST:$PORT" \
    --tlsverify \
    --tlscacert "$CERTS/server/ca.pem" \
    --tlscert "$CERTS/server/cert.pem" \
    --tlskey "$CERTS/server/key.pem" \
    -b "$BRIDGE" \
    --iptables=false \
    --ip-masq=false \
    --ip-forward=false \
    >>"$STATE_DIR/dockerd.log" 2>&1 &
  echo $! >"$STATE_DIR/dockerd.started"
  local ready=true
  if ! wait_for dockerd 60 answers || ! wait_for "dockerd (TLS)" 20 tls_answers; then ready=false; fi
  restore_first_bridge "$first_bridge"
  if [ "$ready" = false ]; then
    tail -n 40 "$STATE_DIR/dockerd.log" >&2
    exit 1
  fi
}

load_busybox() {
  if docker2 image inspect busybox:latest >/dev/null 2>&1; then return; fi
  log "loading busybox:latest from the first engine"
  "$DOCKER" save busybox:latest | docker2 load >/dev/null
}

stop_dockerd() { # stop_dockerd <signal>
  local file="$STATE_DIR/dockerd.started"
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping dockerd (pid $pid, $1)"
    kill "-$1" "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_started() {
  stop_dockerd TERM
  # dockerd stops the containerd it started; a crash (`kill`) can leave it behind.
  local containerd_pid="$STATE_DIR/exec/containerd/containerd.pid"
  if [ -f "$containerd_pid" ] && kill -0 "$(cat "$containerd_pid")" 2>/dev/null; then
    kill "$(cat "$containerd_pid")" 2>/dev/null || true
  fi
  if [ -f "$STATE_DIR/bridge.created" ]; then
    log "removing bridge $BRIDGE"
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -f "$STATE_DIR/bridge.created"
  fi
}

start() {
  mkdir -p "$STATE_DIR"
  make_certificates
  make_bridge
  start_dockerd
  load_busybox
}

case "${1:-start}" in
  start)
    start
    log "ready: tcp://$HOST:$PORT, DOCKER_CERT_PATH=$CERTS/client"
    ;;
  stop) stop_started ;;
  restart)
    stop_dockerd TERM
    start
    ;;
  kill)
    stop_dockerd KILL
    ;;
  env)
    printf 'DOCKER_HOST=tcp://%s:%s\nDOCKER_TLS_VERIFY=1\nDOCKER_CERT_PATH=%s\n' "$HOST" "$PORT" "$CERTS/client"
    ;;
  *) echo "usage: $0 [start|stop|restart|kill|env]" >&2; exit 2 ;;
esac
