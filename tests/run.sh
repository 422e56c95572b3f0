#!/usr/bin/env bash
# The whole test suite, as `make check` and CI run it: installs what is missing, builds the
# release and ASan+UBSan trees, runs the C unit tests and the fuzz-corpus replays in both, the
# interop suites against real outside software through both builds of the gateway, and the
# official conformance suite direct vs through the gateway. Ends with "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LOGDIR="$ROOT/build/test-logs"
mkdir -p "$LOGDIR"
PASSED=0
FAILED=0
FAILED_SUITES=()

note() { printf '\n==> %s\n' "$*"; }
count() { # suite name, passed, failed
  PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3))
  printf '    %-40s %4d passed, %d failed\n' "$1" "$2" "$3"
  [ "$3" -eq 0 ] || FAILED_SUITES+=("$1")
}

note "dependencies"
bash scripts/deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

build() { # preset
  cmake --preset "$1" >"$LOGDIR/cmake-$1.log" 2>&1 &&
    cmake --build --preset "$1" -j"$(nproc)" >>"$LOGDIR/cmake-$1.log" 2>&1
}
for p in release asan; do
  note "build ($p)"
  if ! build "$p"; then
    tail -40 "$LOGDIR/cmake-$p.log"
    count "build-$p" 0 1
  fi
done

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"; a binary that dies
# without a summary counts as one failure. Fuzz replays count one each.
run_ctest() { # preset
  local log="$LOGDIR/ctest-$1.log"
  ( cd "build/$1" && ctest --output-on-failure -V ) >"$log" 2>&1
  local up uf fp ff crashed
  up=$(grep -E '\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$(NF-1)} END {print s+0}')
  uf=$(grep -E '\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
  crashed=$(grep -cE 'unit\.[a-z_]+ \.+\*+(Failed|Exception|Timeout)|unit\.[a-z_]+ \.+ *(Subprocess|Child)' "$log")
  fp=$(grep -cE 'fuzz\.[a-z_]+ \.+ +Passed' "$log")
  ff=$(grep -cE 'fuzz\.[a-z_]+ \.+.*(Failed|Exception|Timeout)' "$log")
  # a crashed unit binary has no cmocka summary: count it unless cmocka already counted failures
  if [ "$uf" -eq 0 ] && [ "$crashed" -gt 0 ]; then uf=$crashed; fi
  count "unit ($1)" "$up" "$uf"
  count "fuzz corpus replay ($1)" "$fp" "$ff"
  if [ "$uf" -gt 0 ] || [ "$ff" -gt 0 ]; then grep -E 'FAILED|Failed|ERROR|runtime error|AddressSanitizer' "$log" | head -30; fi
}
for p in release asan; do
  note "unit tests and fuzz corpus replay ($p)"
  if [ -d "build/$p" ]; then run_ctest "$p"; fi
done

note "npm packages (tests/interop and tests/interop/v2, from their lockfiles)"
for d in tests/interop tests/interop/v2 tests/interop/idp; do
  if ! (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >"$LOGDIR/npm-${d//\//-}.log" 2>&1); then
    tail -20 "$LOGDIR/npm-${d//\//-}.log"
    count "npm ci $d" 0 1
  fi
done

run_node() { # label, binary, files...
  local label=$1 bin=$2; shift 2
  local log="$LOGDIR/interop-${label// /-}.log"
  ( cd tests/interop && GATEHOUSE_BIN="$bin" node --test --test-concurrency=1 "$@" ) >"$log" 2>&1
  local p f
  p=$(grep -E '^# pass [0-9]+' "$log" | awk '{print $3}' | tail -1)
  f=$(grep -E '^# fail [0-9]+' "$log" | awk '{print $3}' | tail -1)
  [ -n "$p" ] || { p=0; f=1; }
  count "$label" "$p" "${f:-1}"
  [ "${f:-1}" -eq 0 ] || grep -E '^\s*not ok|error:|expected|actual' "$log" | head -30
}
INTEROP=(everything.test.mjs dev.test.mjs framing.test.mjs stdio.test.mjs lifecycle.test.mjs aggregate.test.mjs shared.test.mjs bridge2026.test.mjs auth.test.mjs policy.test.mjs audit.test.mjs audit-sinks.test.mjs metrics.test.mjs propagation.test.mjs roots.test.mjs logging.test.mjs limits.test.mjs)
# portable configuration (issue 8): scanner, client formats, the connect bridge
# -- scan --
INTEROP+=(scan.test.mjs)

# -- export/import/migrate --
INTEROP+=(portable.test.mjs)

# -- connect --
INTEROP+=(connect.test.mjs)

# -- inbound auth fetches (issue 4): discovery, JWKS caps and counts, egress guard, introspection --
INTEROP+=(auth-fetch.test.mjs)

note "interop: SDK client + server-everything + raw-socket framing (release gateway)"
run_node "interop (release)" "$ROOT/build/release/gatehouse" "${INTEROP[@]}"
note "interop under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run_node "interop (asan)" "$ROOT/build/asan/gatehouse" "${INTEROP[@]}"
if grep -lE 'ERROR: AddressSanitizer|runtime error:' tests/interop/out/*.log >/dev/null 2>&1; then
  grep -hE -A5 'ERROR: AddressSanitizer|runtime error:' tests/interop/out/*.log | head -40
  count "sanitizer reports in gateway logs" 0 1
fi

note "test IdP (oidc-provider) self-test: the real authorization server the auth stage tests against"
run_node "idp selftest" "$ROOT/build/release/gatehouse" idp/selftest.test.mjs

note "conformance: official suite direct vs through the gateway"
clog="$LOGDIR/conformance.log"
( cd tests/interop && GATEHOUSE_BIN="$ROOT/build/release/gatehouse" node conformance.mjs ) >"$clog" 2>&1
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$clog" | tail -1)
if [ -n "$line" ]; then
  count "conformance (gateway == direct)" "$(echo "$line" | awk '{print $1}')" "$(echo "$line" | awk '{print $3}')"
else
  tail -30 "$clog"
  count "conformance (gateway == direct)" 0 1
fi
grep -E 'score|direct:|gateway:' "$clog" | tail -4

note "conformance 2026-07-28 (stateless): SDK v2 upstream direct vs through the gateway"
clog="$LOGDIR/conformance-2026.log"
( cd tests/interop/v2 && GATEHOUSE_BIN="$ROOT/build/release/gatehouse" node conformance-2026.mjs ) >"$clog" 2>&1
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$clog" | tail -1)
if [ -n "$line" ]; then
  count "conformance 2026 (gateway == direct)" "$(echo "$line" | awk '{print $1}')" "$(echo "$line" | awk '{print $3}')"
else
  tail -30 "$clog"
  count "conformance 2026 (gateway == direct)" 0 1
fi
grep -E 'direct :|gateway:' "$clog" | tail -2

echo
[ ${#FAILED_SUITES[@]} -eq 0 ] || echo "failing: ${FAILED_SUITES[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
