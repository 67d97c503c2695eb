#!/usr/bin/env bash
# Makes sure a Debian docker-registry (the CNCF distribution registry) with
# htpasswd authentication answers on 127.0.0.1:5055 for the integration
# tests, installing it (and htpasswd) on Debian when missing. Its data and
# configuration live in a directory of their own; it never touches a
# system registry. Prints "host user password" on its last line.
set -euo pipefail

host=127.0.0.1 port=${CCM_REGISTRY_PORT:-5055}
user=ccm-ci password=ccm-ci-registry-password
dir=${CCM_REGISTRY_DIR:-${TMPDIR:-/tmp}/ccm-test-registry}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "ensure-registry: need root (or sudo) to $*" >&2; return 1; fi
}
# /v2/ answers 401 with auth on, 200 with the right user.
ready() { curl -fsS -o /dev/null -u "$user:$password" "http://$host:$port/v2/" 2>/dev/null; }

bin=/usr/bin/docker-registry
if [ -x "$bin" ] && command -v curl >/dev/null 2>&1 && ready; then echo "$host:$port $user $password"; exit 0; fi

if [ ! -x "$bin" ] || ! command -v htpasswd >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
  echo "ensure-registry: installing docker-registry and apache2-utils from Debian's packages" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  # The package's service is not wanted: policy-rc.d keeps it from starting.
  as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry apache2-utils curl >&2 || {
    as_root rm -f /usr/sbin/policy-rc.d; exit 1; }
  as_root rm -f /usr/sbin/policy-rc.d
fi

mkdir -p "$dir/data"
htpasswd -Bbc "$dir/htpasswd" "$user" "$password" >/dev/null 2>&1
cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $host:$port
auth:
  htpasswd:
    realm: ccm-test
    path: $dir/htpasswd
YAML
echo "ensure-registry: starting docker-registry on $host:$port" >&2
nohup "$bin" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
for _ in $(seq 1 30); do ready && break; sleep 0.5; done
ready || { echo "ensure-registry: docker-registry does not answer on $host:$port; its log:" >&2; cat "$dir/registry.log" >&2; exit 1; }
echo "$host:$port $user $password"
