#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need. Idempotent: packages
# already present are not touched, and apt-get runs only when something is missing.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libevent-dev        # event loop (event_base only; evhttp is not used: too slow, see docs/benchmarks.md)
  libssl-dev          # OpenSSL 3: TLS, SHA-256, randomness
  libjansson-dev      # strict JSON DOM: oracle for our scanner in tests and fuzzing, cold-path documents
  libyaml-dev         # YAML configuration with line/column marks
  libpcre2-dev        # bounded regular expressions for policy argument constraints
  libcmocka-dev       # unit-test framework
  nodejs npm          # interop peers: MCP SDK client, server-everything, conformance
  wrk nginx-light     # benchmark load generator and the reference reverse proxy
  rsyslog             # interop peer: a real RFC 5424/6587 syslog receiver for the audit syslog sink
  rsyslog-openssl     # its TLS stream driver: the syslog sink over TLS is tested against it
  openssl             # the CLI: test certificates are made when the tests run
  curl procps psmisc
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from outside Debian on some machines: accept any node >= 18 on PATH.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
