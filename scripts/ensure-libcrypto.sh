#!/usr/bin/env bash
# The TPM simulator test (internal/platform/azurecvm, built only with cgo)
# links OpenSSL's libcrypto: install its headers on Debian when a C
# compiler is there but they are missing. Without cgo there is nothing to do.
set -euo pipefail
[ "$(go env CGO_ENABLED)" = 1 ] || exit 0
if [ -e /usr/include/openssl/evp.h ]; then exit 0; fi
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "ensure-libcrypto: need root (or sudo) to $*" >&2; return 1; fi
}
echo "ensure-libcrypto: installing libssl-dev from Debian's packages (for the TPM simulator test)" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl-dev >&2
