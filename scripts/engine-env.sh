#!/usr/bin/env bash
# The real Docker engine the integration tests run against, set up from nothing.
#
#   scripts/engine-env.sh [start]   install what is missing, start dockerd and the registry
#                                   when they are not answering, build and push the test image
#   scripts/engine-env.sh stop [registry|dockerd ...]
#                                   stop only what an earlier `start` started (all of it, or
#                                   the parts named)
#
# Idempotent: every step checks before it acts. There is no Docker Hub here, so the test image
# `busybox:latest` is imported from the host's static busybox, and a registry on 127.0.0.1:5000
# serves 127.0.0.1:5000/effect-docker/<suite>:latest (busybox plus a layer of its own) so that
# real pulls, with progress, can be tested. A second registry on 127.0.0.1:5001 requires basic
# auth (htpasswd, bcrypt; user `effect-docker`, password `effect-docker-secret`, the test
# values the private-registry tests use) and serves 127.0.0.1:5001/effect-docker/private:latest.
# The engine pulls from both over plain HTTP: 127.0.0.0/8 registries are insecure by default.
set -euo pipefail

STATE_DIR=${EFFECT_DOCKER_ENGINE_STATE:-/tmp/effect-docker-engine}
REGISTRY=127.0.0.1:5000
REGISTRY_REPOSITORIES="busybox engine supervisor contract reliability bench cli"
AUTH_REGISTRY=127.0.0.1:5001
AUTH_USER=effect-docker
AUTH_PASSWORD=effect-docker-secret
mkdir -p "$STATE_DIR"

log() { printf '[engine-env] %s\n' "$*" >&2; }

# The docker.io client matches the daemon's API; prefer it over any newer client on PATH.
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker

daemon_answers() { timeout 5 "$DOCKER" info >/dev/null 2>&1; }
registry_answers() { curl -fsS -m 2 "http://$REGISTRY/v2/" >/dev/null 2>&1; }
# Answers at all: without credentials it says 401, which is what it should say.
auth_registry_answers() { curl -sS -m 2 -o /dev/null "http://$AUTH_REGISTRY/v2/" 2>/dev/null; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v tmux >/dev/null 2>&1 || missing+=(tmux)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then log "$what did not come up within ${seconds}s"; return 1; fi
    sleep 0.5
  done
}

start_dockerd() {
  if daemon_answers; then log "a Docker daemon already answers"; return; fi
  log "starting dockerd"
  # containerd is started by dockerd itself when none runs.
  nohup dockerd --pidfile "$STATE_DIR/dockerd.pid" >"$STATE_DIR/dockerd.log" 2>&1 9>&- &
  echo $! >"$STATE_DIR/dockerd.started"
  if ! wait_for dockerd 60 daemon_answers; then tail -n 40 "$STATE_DIR/dockerd.log" >&2; exit 1; fi
}

# A root filesystem of /bin/busybox and its applets, as a tar on stdout. Extra files
# (name=content) give an image a layer of its own, so that a pull of it downloads bytes
# instead of finding the layer already there.
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
  if [ -n "${1:-}" ]; then
    printf '%s\n' "$1" >"$root/etc/effect-docker-image"
    head -c 4194304 /dev/urandom >"$root/etc/effect-docker-padding"
  fi
  tar -C "$root" -c .
  rm -rf "$root"
}

import_image() { # import_image <tag> [unique name]
  rootfs_tar "${2:-}" | "$DOCKER" import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - "$1" >/dev/null
}

build_busybox() {
  if "$DOCKER" image inspect busybox:latest >/dev/null 2>&1; then return; fi
  log "importing busybox:latest from /bin/busybox"
  import_image busybox:latest
}

start_registry() {
  if ! registry_answers; then
    log "starting the registry on $REGISTRY"
    mkdir -p "$STATE_DIR/registry"
    cat >"$STATE_DIR/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
YAML
    nohup docker-registry serve "$STATE_DIR/registry.yml" >"$STATE_DIR/registry.log" 2>&1 9>&- &
    echo $! >"$STATE_DIR/registry.started"
    if ! wait_for registry 30 registry_answers; then tail -n 40 "$STATE_DIR/registry.log" >&2; exit 1; fi
  fi
  # One repository per test suite that pulls, each with a layer of its own, so suites that
  # run in parallel never share (or remove) each other's pulled image.
  local name
  for name in $REGISTRY_REPOSITORIES; do
    if curl -fsS -m 5 "http://$REGISTRY/v2/effect-docker/$name/manifests/latest" \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1; then
      continue
    fi
    log "pushing $REGISTRY/effect-docker/$name:latest"
    import_image "$REGISTRY/effect-docker/$name:latest" "$name"
    "$DOCKER" push "$REGISTRY/effect-docker/$name:latest" >/dev/null
    # The tests pull it themselves: keep only the registry's copy.
    "$DOCKER" image rm "$REGISTRY/effect-docker/$name:latest" >/dev/null
  done
}

# The registry that requires credentials, and its one private image pushed with them. The login
# for the push goes to a throwaway DOCKER_CONFIG, never to the user's ~/.docker/config.json.
start_auth_registry() {
  if ! auth_registry_answers; then
    log "starting the registry with basic auth on $AUTH_REGISTRY"
    mkdir -p "$STATE_DIR/registry-auth"
    htpasswd -Bbn "$AUTH_USER" "$AUTH_PASSWORD" >"$STATE_DIR/registry-auth.htpasswd"
    cat >"$STATE_DIR/registry-auth.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry-auth
  delete:
    enabled: true
auth:
  htpasswd:
    realm: effect-docker
    path: $STATE_DIR/registry-auth.htpasswd
http:
  addr: $AUTH_REGISTRY
YAML
    nohup docker-registry serve "$STATE_DIR/registry-auth.yml" >"$STATE_DIR/registry-auth.log" 2>&1 9>&- &
    echo $! >"$STATE_DIR/registry-auth.started"
    if ! wait_for registry-auth 30 auth_registry_answers; then tail -n 40 "$STATE_DIR/registry-auth.log" >&2; exit 1; fi
  fi
  local image="$AUTH_REGISTRY/effect-docker/private:latest"
  if curl -fsS -m 5 -u "$AUTH_USER:$AUTH_PASSWORD" "http://$AUTH_REGISTRY/v2/effect-docker/private/manifests/latest" \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1; then
    return
  fi
  log "pushing $image"
  local config
  config=$(mktemp -d)
  import_image "$image" private
  printf '%s' "$AUTH_PASSWORD" | DOCKER_CONFIG=$config "$DOCKER" login -u "$AUTH_USER" --password-stdin "$AUTH_REGISTRY" >/dev/null 2>&1
  DOCKER_CONFIG=$config "$DOCKER" push "$image" >/dev/null
  rm -rf "$config"
  "$DOCKER" image rm "$image" >/dev/null
}

stop_started() {
  local parts=("$@")
  [ ${#parts[@]} -gt 0 ] || parts=(registry-auth registry dockerd)
  for what in "${parts[@]}"; do
    local file="$STATE_DIR/$what.started"
    [ -f "$file" ] || continue
    local pid
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $what (pid $pid)"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
  done
}

case "${1:-start}" in
  start)
    # Test projects may start it at the same time (each has the same global setup): one at a time.
    exec 9>"$STATE_DIR/start.lock"
    flock -w 600 9 || { echo "[engine-env] another start holds $STATE_DIR/start.lock" >&2; exit 1; }
    install_packages
    start_dockerd
    build_busybox
    start_registry
    start_auth_registry
    log "ready: $("$DOCKER" version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}')"
    ;;
  stop) shift; stop_started "$@" ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
