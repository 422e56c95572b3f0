#!/usr/bin/env bash
# Gatehouse benchmark harness: one command that measures the gateway and its peers the same way in
# one session on loopback, prints a table and writes docs/benchmarks.md.
#
# Part A (acceptance): the pass-through hop. An nginx stub answers MCP POSTs; nginx as a plain
#   keep-alive reverse proxy and gatehouse each sit in front of it. The hop cost is the proxy
#   process's own CPU per request; gatehouse must stay within 1.5x nginx's.
# Part B: MCP peers in front of the same real MCP server (server-everything): the server alone,
#   gatehouse, supergateway --stateful and mcp-proxy.
# Part C: gatehouse bridging a stdio server-everything it spawns per session, next to supergateway
#   and mcp-proxy bridging the same stdio server; the bridge's own CPU and its child's, separately.
# Part D: inbound authentication on Part A's path: gatehouse without auth, with `auth:` and one
#   cached Bearer token, and with a never-verified token on every request (ES256, RS256), against
#   the test IdP (tests/interop/idp) on loopback. Target: cached − none ≤ 1 µs of gatehouse CPU/req.
# Part P: policy cost per call, in process (build/release/policy_bench, bench/policy_bench.c):
#   gh_policy_evaluate, gh_policy_listable and tools/list filtering on generated policies of 10 to
#   10,000 rules, CPU ns per call; then the same with literal tool names only (no globs, no deny
#   rule without targets). Target: well under 1 µs per evaluation at 1,000 rules. No network.
#
# Figure of merit: server CPU microseconds per request = (utime+stime of the server's processes
# over the measured run, from /proc/PID/stat) / requests served. On these noisy shared machines
# req/s moves by 30% between runs, CPU/req by less than 10% (shared/reference/perf-baselines.md).
#
# Environment (all optional):
#   BENCH_SECONDS=10          measured seconds per Part A target
#   BENCH_WARMUP=2            warm-up seconds before each measured run (not counted)
#   BENCH_CONNECTIONS=64      wrk connections for Part A
#   BENCH_NODE_SECONDS=5      measured seconds per Part B target
#   BENCH_NODE_CONNECTIONS=16 wrk connections for Part B
#   BENCH_PARTS=ABCDP         which parts to run (any of A, B, C, D, P)
#   BENCH_AUTH_TOKENS=10000   distinct tokens minted per cold-token row of Part D (each sent once)
#   BENCH_AUTH_ROUNDS=3       Part D: alternating no-auth / cached-token runs; each row is the median
#   BENCH_PIN=1               pin servers to CPU0 and wrk to CPU1 (0 to disable)
#   BENCH_OUT=docs/benchmarks.md  report path; BENCH_OUT=- prints the report and writes no file
#   GATEHOUSE_BIN=build/release/gatehouse
#   POLICY_BENCH_BIN=build/release/policy_bench   Part P's program
#   BENCH_INTEROP_DIR=tests/interop   where the npm packages of Part B are installed
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB="$ROOT/bench/lib"
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-64}
NODE_SECS=${BENCH_NODE_SECONDS:-5}
NODE_CONNS=${BENCH_NODE_CONNECTIONS:-16}
PARTS=${BENCH_PARTS:-ABCDP}
GATEHOUSE_BIN=${GATEHOUSE_BIN:-$ROOT/build/release/gatehouse}
[[ $GATEHOUSE_BIN = /* ]] || GATEHOUSE_BIN="$ROOT/$GATEHOUSE_BIN"
POLICY_BENCH_BIN=${POLICY_BENCH_BIN:-$ROOT/build/release/policy_bench}
[[ $POLICY_BENCH_BIN = /* ]] || POLICY_BENCH_BIN="$ROOT/$POLICY_BENCH_BIN"
P_FAIL= # Part P: why it did not run
INTEROP=${BENCH_INTEROP_DIR:-$ROOT/tests/interop}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
[[ $OUT = - || $OUT = /* ]] || OUT="$ROOT/$OUT"
PROTO=2025-06-18
STUB_SESSION="stub-session-1"
AUTH_TOKENS=${BENCH_AUTH_TOKENS:-10000}
ROUNDS=${BENCH_AUTH_ROUNDS:-3}
BEARER= # when set, mcp_post sends it as a Bearer token (Part D)
TOK_WARM= TOK_RUN= TOK_SECS= # Part D: token files for wrk's warm-up and measured run, its -d cap
HZ=$(getconf CLK_TCK)
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

PIN=${BENCH_PIN:-1}
if [[ $PIN = 1 && $(nproc) -ge 2 ]]; then
	SRV_PIN=(taskset -c 0)
	LOAD_PIN=(taskset -c 1)
else
	PIN=0
	SRV_PIN=()
	LOAD_PIN=()
fi

TMP=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg) # other work on the machine skews req/s far more than CPU/req
STARTED=() # root pids of every server this script started
declare -A LOGNAME_OF # root pid -> name of its $TMP/NAME.log

log() { printf '[bench] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- processes

# tree_pids PID: the pid and all its live descendants, parents first.
tree_pids() {
	local p=$1 c
	[[ -d /proc/$p ]] || return 0
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
		tree_pids "$c"
	done
}

# live PID...: those of the given processes that still run (not gone, not zombies).
live() {
	local p
	for p in "$@"; do
		[[ -d /proc/$p ]] && ! grep -q '^State:.*Z' /proc/"$p"/status 2>/dev/null && echo "$p"
	done
}

# stop_tree PID: TERM a server this script started and its descendants, KILL what is left after 3 s,
# and reap it. The root must still be this shell's child, so a recycled pid is never signalled.
stop_tree() {
	local pids left
	[[ $(awk '{ sub(/.*\) /, ""); print $2 }' /proc/"$1"/stat 2>/dev/null) = "$$" ]] || return 0
	pids=$(tree_pids "$1")
	kill -TERM $pids 2>/dev/null
	for _ in $(seq 30); do
		left=$(live $pids)
		[[ -z $left ]] && break
		sleep 0.1
	done
	[[ -n $left ]] && kill -KILL $left 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	local p
	for p in "${STARTED[@]}"; do stop_tree "$p"; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: run a server pinned to CPU0 with output to $TMP/NAME.log; sets PID.
start() {
	local name=$1
	shift
	"${SRV_PIN[@]}" "$@" >"$TMP/$name.log" 2>&1 &
	PID=$!
	STARTED+=("$PID")
	LOGNAME_OF[$PID]=$name
}

# pin_tree PID: pin every thread of the process tree to CPU0 (children spawned later inherit it).
pin_tree() {
	[[ $PIN = 1 ]] || return 0
	local p
	for p in $(tree_pids "$1"); do taskset -apc 0 "$p" >/dev/null 2>&1; done
}

# free_port: a TCP port on 127.0.0.1 that no socket uses, below the kernel's ephemeral range
# (32768+), so a client connection made meanwhile cannot take it before our server binds it.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return; }
	done
}

# wait_http PID URL [STATUS]: wait up to 15 s until URL answers (with STATUS if given); on failure
# sets WHY (the process's exit status, or what the URL last answered).
wait_http() {
	local pid=$1 url=$2 want=${3:-} code=000 st
	WHY=
	for _ in $(seq 150); do
		if [[ ! -d /proc/$pid ]] || grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null; then
			wait "$pid" 2>/dev/null
			st=$?
			WHY="exited with status $st"
			return 1
		fi
		code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null)
		if [[ $code != 000 && ( -z $want || $code = "$want" ) ]]; then return 0; fi
		sleep 0.1
	done
	WHY="no ${want:-answer} from /${url#http://127.0.0.1:*/} in 15 s (last: HTTP $code)"
	return 1
}

# why NAME: WHY plus the server's first error line (else its last line), cut to 160 characters.
why() {
	local line
	line=$(grep -m1 -iE 'error|fatal|emerg|bug|abort|assert' "$TMP/$1.log" 2>/dev/null || tail -n1 "$TMP/$1.log" 2>/dev/null)
	line=$(printf '%s' "$line" | tr -d '\r' | cut -c1-160)
	echo "$WHY${line:+: $line}"
}

# cpu_ticks PID...: utime+stime+cutime+cstime of the given processes, in clock ticks. Fields are
# read after the last ')' because the command name may hold spaces; the thread-group line
# already includes every thread of the process.
cpu_ticks() {
	local p files=()
	for p in "$@"; do files+=("/proc/$p/stat"); done
	((${#files[@]})) || { echo 0; return; }
	cat "${files[@]}" 2>/dev/null | awk '{ sub(/.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}

# cpu_uticks PID...: user-mode ticks only (utime+cutime): what instruction counts convert to.
cpu_uticks() {
	local p files=()
	for p in "$@"; do files+=("/proc/$p/stat"); done
	((${#files[@]})) || { echo 0; return; }
	cat "${files[@]}" 2>/dev/null | awk '{ sub(/.*\) /, ""); s += $12 + $14 } END { print s + 0 }'
}

# ---------------------------------------------------------------- MCP session and load

# mcp_post URL SESSION BODY: POST one JSON-RPC message; sets HTTP_CODE, RESP_HEADERS, RESP_BODY.
mcp_post() {
	local url=$1 session=$2 body=$3 args=()
	[[ -n $session ]] && args=(-H "Mcp-Session-Id: $session" -H "MCP-Protocol-Version: $PROTO")
	[[ -n $BEARER ]] && args+=(-H "Authorization: Bearer $BEARER")
	HTTP_CODE=$(curl -sS -m 15 -o "$TMP/resp.body" -D "$TMP/resp.hdrs" -w '%{http_code}' \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		"${args[@]}" --data-binary "$body" "$url" 2>"$TMP/curl.err")
	RESP_HEADERS=$(cat "$TMP/resp.hdrs" 2>/dev/null)
	RESP_BODY=$(head -c 300 "$TMP/resp.body" 2>/dev/null | tr -d '\r' | tr '\n' ' ')
}

# mcp_session URL: initialize + notifications/initialized + one checked tools/call; sets SESSION,
# or FAIL with the reason.
mcp_session() {
	local url=$1
	SESSION=
	FAIL=
	mcp_post "$url" "" '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"'$PROTO'","capabilities":{},"clientInfo":{"name":"gatehouse-bench","version":"1.0"}}}'
	if [[ $HTTP_CODE != 2* ]]; then
		FAIL="initialize -> HTTP $HTTP_CODE $(head -c 120 "$TMP/curl.err")"
		return 1
	fi
	SESSION=$(printf '%s\n' "$RESP_HEADERS" | tr -d '\r' | awk -F': *' 'tolower($1) == "mcp-session-id" { print $2; exit }')
	if [[ -z $SESSION ]]; then
		FAIL="initialize answered without Mcp-Session-Id"
		return 1
	fi
	mcp_post "$url" "$SESSION" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	if [[ $HTTP_CODE != 2* ]]; then
		FAIL="notifications/initialized -> HTTP $HTTP_CODE"
		return 1
	fi
	mcp_post "$url" "$SESSION" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}'
	if [[ $HTTP_CODE != 2* ]]; then
		FAIL="tools/call -> HTTP $HTTP_CODE"
		return 1
	fi
	if [[ $RESP_BODY == *'"error":{'* || $RESP_BODY == *'"isError":true'* ]]; then
		FAIL="tools/call -> JSON-RPC error"
		return 1
	fi
	return 0
}

# wrk_run URL SESSION CONNS SECONDS OUTFILE [TOKEN-FILE]: one wrk run on CPU1 with the MCP Lua
# script (TOKEN-FILE: Bearer tokens, Part D; see lib/mcp.lua). Also writes wrk's own user+system
# seconds to OUTFILE.time: a wrk near 100% of its core means the load generator, not the server,
# set the pace.
wrk_run() {
	local TIMEFORMAT='%U %S' tok=()
	[[ -n ${6:-} ]] && tok=("$6")
	{ time "${LOAD_PIN[@]}" wrk -t1 -c"$3" -d"$4"s --latency -s "$LIB/mcp.lua" "$1" -- "$2" "$PROTO" "${tok[@]}" >"$5" 2>&1; } 2>"$5.time"
}

# ---------------------------------------------------------------- results

declare -A R # R[target,field]
TARGETS=()
TARGETS_C=()

# measure TARGET URL CONNS SECONDS PROXY_ROOT UPSTREAM_ROOTS: session setup, warm-up, measured run.
# PROXY_ROOT is the process whose own CPU is the hop ("" when the target is a server alone);
# UPSTREAM_ROOTS are the processes behind it. A proxy's descendants count as its upstream (the stdio
# children of the Node bridges), so "proxy" is the proxy process alone.
measure() {
	local t=$1 url=$2 conns=$3 secs=$4 proxy=$5 ups=$6
	local ppids upids p0 u0 p1 u1 pu0 pu1 line n
	R[$t,conns]=$conns
	if ! mcp_session "$url"; then
		R[$t,fail]=$FAIL
		log "$t: n/a ($FAIL)"
		return 1
	fi
	wrk_run "$url" "$SESSION" "$conns" "$WARM" "$TMP/$t.warm" "$TOK_WARM"
	ppids=
	upids=
	if [[ -n $proxy ]]; then
		ppids=$proxy
		for p in $(tree_pids "$proxy"); do [[ $p != "$proxy" ]] && upids+=" $p"; done
	fi
	for p in $ups; do upids+=" $(tree_pids "$p" | tr '\n' ' ')"; done
	p0=$(cpu_ticks $ppids)
	pu0=$(cpu_uticks $ppids)
	u0=$(cpu_ticks $upids)
	wrk_run "$url" "$SESSION" "$conns" "${TOK_SECS:-$secs}" "$TMP/$t.wrk" "$TOK_RUN"
	p1=$(cpu_ticks $ppids)
	pu1=$(cpu_uticks $ppids)
	u1=$(cpu_ticks $upids)
	line=$(grep '^BENCH ' "$TMP/$t.wrk")
	for p in $proxy $ups; do
		[[ -n $(live "$p") ]] && continue
		wait "$p" 2>/dev/null
		WHY="${LOGNAME_OF[$p]:-a server} died during the run (exit status $?)"
		R[$t,fail]=$(why "${LOGNAME_OF[$p]:-}")
		log "$t: n/a (${R[$t,fail]})"
		return 1
	done
	if [[ -z $line ]]; then
		R[$t,fail]="wrk failed: $(head -c 160 "$TMP/$t.wrk" | tr '\n' ' ')"
		log "$t: n/a (${R[$t,fail]})"
		return 1
	fi
	for kv in ${line#BENCH }; do R[$t,${kv%%=*}]=${kv#*=}; done
	n=${R[$t,requests]}
	if ((n == 0)); then
		R[$t,fail]="no request completed"
		return 1
	fi
	R[$t,rps]=$(awk -v n="$n" -v d="${R[$t,duration_us]}" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
	R[$t,cpu_proxy]=$(awk -v a="$p0" -v b="$p1" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')
	R[$t,cpu_user]=$(awk -v a="$pu0" -v b="$pu1" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')
	R[$t,cpu_up]=$(awk -v a="$u0" -v b="$u1" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')
	R[$t,cpu_total]=$(awk -v a="${R[$t,cpu_proxy]}" -v b="${R[$t,cpu_up]}" 'BEGIN { printf "%.2f", a + b }')
	R[$t,wrk_cpu]=$(awk -v d="${R[$t,duration_us]}" '{ printf "%.0f", ($1 + $2) * 1e8 / d }' "$TMP/$t.wrk.time")
	[[ -n $proxy ]] || R[$t,cpu_proxy]=
	R[$t,errors]=$((R[$t,non2xx] + R[$t,rpc_errors] + R[$t,sock_errors] + R[$t,timeouts]))
	log "$t: ${R[$t,rps]} req/s, p50 ${R[$t,p50_us]} us, p99 ${R[$t,p99_us]} us, CPU/req total ${R[$t,cpu_total]} us proxy ${R[$t,cpu_proxy]:--} us, errors ${R[$t,errors]}, wrk CPU ${R[$t,wrk_cpu]}%"
	return 0
}

# ---------------------------------------------------------------- Part A

STUB_INIT='{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"gatehouse-bench-stub","version":"1"}}}'
# 196 bytes, the anchor's size; ids are fixed because nginx's return cannot echo the request's.
STUB_CALL='{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Echo: '$(printf 'x%.0s' $(seq 101))'"}],"isError":false}}'

# nginx_conf NAME HTTP-BLOCK-BODY: a self-contained foreground nginx config in $TMP/NAME.
nginx_conf() {
	local d="$TMP/$1"
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<-EOF
		daemon off;
		master_process off;
		worker_processes 1;
		pid $d/nginx.pid;
		error_log $d/error.log warn;
		events { worker_connections 4096; multi_accept on; }
		http {
		    access_log off;
		    client_body_temp_path $d/client_body;
		    proxy_temp_path $d/proxy;
		    fastcgi_temp_path $d/fastcgi;
		    uwsgi_temp_path $d/uwsgi;
		    scgi_temp_path $d/scgi;
		    keepalive_requests 1000000;
		    keepalive_timeout 60s;
		    server_tokens off;
		$2
		}
	EOF
	echo "$d"
}

start_nginx() { # NAME DIR
	start "$1" "$NGINX" -p "$2" -c "$2/nginx.conf" -e "$2/error.log"
}

# start_stub NAME: the nginx stub upstream in $TMP/NAME; sets PID and STUB_PORT (returns 1 if it
# did not start, with the reason logged).
start_stub() {
	local d
	STUB_PORT=$(free_port)
	d=$(nginx_conf "$1" "
    server {
        listen 127.0.0.1:$STUB_PORT;
        location = /mcp {
            default_type application/json;
            add_header Mcp-Session-Id $STUB_SESSION always;
            if (\$http_mcp_session_id = \"\") { return 200 '$STUB_INIT'; }
            return 200 '$STUB_CALL';
        }
    }")
	start_nginx "$1" "$d"
	if ! wait_http "$PID" "http://127.0.0.1:$STUB_PORT/"; then
		log "nginx stub did not start: $(why "$1") $(tail -c 200 "$d/error.log")"
		return 1
	fi
	pin_tree "$PID"
}

part_a() {
	local stub_port nx_port d stub nx gh t
	if ! start_stub stub; then
		for t in nginx-stub nginx-proxy gatehouse; do TARGETS+=("$t"); R[$t,fail]="nginx stub did not start"; done
		return 1
	fi
	stub=$PID
	stub_port=$STUB_PORT

	TARGETS+=(nginx-stub)
	measure nginx-stub "http://127.0.0.1:$stub_port/mcp" "$CONNS" "$SECS" "" "$stub"

	nx_port=$(free_port)
	d=$(nginx_conf proxy "
    upstream stub { server 127.0.0.1:$stub_port; keepalive 64; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$nx_port;
        location / {
            proxy_pass http://stub;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering off;
        }
    }")
	TARGETS+=(nginx-proxy)
	start_nginx nginx-proxy "$d"
	nx=$PID
	if wait_http "$nx" "http://127.0.0.1:$nx_port/"; then
		pin_tree "$nx"
		measure nginx-proxy "http://127.0.0.1:$nx_port/mcp" "$CONNS" "$SECS" "$nx" "$stub"
	else
		R[nginx-proxy,fail]="did not start: $(why nginx-proxy) $(tail -c 200 "$d/error.log")"
	fi
	stop_tree "$nx"

	TARGETS+=(gatehouse)
	start_gatehouse gatehouse "http://127.0.0.1:$stub_port/mcp" || return 0
	gh=$PID
	measure gatehouse "http://127.0.0.1:$GH_PORT/mcp" "$CONNS" "$SECS" "$gh" "$stub"
	stop_tree "$gh"
	stop_tree "$stub"
}

# start_gatehouse TARGET UPSTREAM-URL: sets PID and GH_PORT, or R[TARGET,fail].
start_gatehouse() {
	local t=$1
	if [[ ! -x $GATEHOUSE_BIN ]]; then
		R[$t,fail]="no binary at ${GATEHOUSE_BIN#$ROOT/}"
		log "$t: n/a (${R[$t,fail]})"
		return 1
	fi
	GH_PORT=$(free_port)
	start "$t" "$GATEHOUSE_BIN" serve --listen "127.0.0.1:$GH_PORT" --upstream "$2" \
		--insecure-no-auth --workers 1 --log-level warn
	if ! wait_http "$PID" "http://127.0.0.1:$GH_PORT/healthz" 200; then
		R[$t,fail]="not healthy: $(why "$t")"
		log "$t: n/a (${R[$t,fail]})"
		stop_tree "$PID"
		return 1
	fi
	pin_tree "$PID"
	return 0
}

# ---------------------------------------------------------------- Part B

# node_paths: sets node, everything, sg, mp (the caller declares them local) and NODE_BIN.
node_paths() {
	node="$INTEROP/node_modules/.bin/node"
	[[ -x $node ]] || node=$(command -v node)
	node=$(readlink -f "$node")
	everything="$INTEROP/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
	sg="$INTEROP/node_modules/supergateway/dist/index.js"
	mp="$INTEROP/node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs"
	NODE_BIN=$node
}

# supergateway --stateful: stdio server-everything behind Streamable HTTP (uses node_paths' names).
run_supergateway() {
	local port p
	port=$(free_port)
	start supergateway "$node" "$sg" --stdio "$node $everything stdio" --outputTransport streamableHttp \
		--stateful --port "$port" --logLevel none
	p=$PID
	if wait_http "$p" "http://127.0.0.1:$port/mcp"; then
		pin_tree "$p"
		measure supergateway "http://127.0.0.1:$port/mcp" "$NODE_CONNS" "$NODE_SECS" "$p" ""
	else
		R[supergateway,fail]="did not start: $(why supergateway)"
	fi
	stop_tree "$p"
}

# mcp-proxy: stdio server-everything behind Streamable HTTP (/mcp).
run_mcp_proxy() {
	local port p
	port=$(free_port)
	start mcp-proxy "$node" "$mp" --host 127.0.0.1 --port "$port" --server stream -- "$node" "$everything" stdio
	p=$PID
	if wait_http "$p" "http://127.0.0.1:$port/mcp"; then
		pin_tree "$p"
		measure mcp-proxy "http://127.0.0.1:$port/mcp" "$NODE_CONNS" "$NODE_SECS" "$p" ""
	else
		R[mcp-proxy,fail]="did not start: $(why mcp-proxy)"
	fi
	stop_tree "$p"
}

part_b() {
	local node everything sg mp port p t
	node_paths
	local -a peers=(everything gatehouse-everything supergateway mcp-proxy)
	for t in "${peers[@]}"; do TARGETS+=("$t"); done
	if [[ ! -f $everything ]]; then
		for t in "${peers[@]}"; do R[$t,fail]="npm packages missing in ${INTEROP#$ROOT/} (npm ci there)"; done
		return 1
	fi
	# Servers that take only a port listen on 127.0.0.1 through this preload.
	export NODE_OPTIONS="--import=file://$LIB/loopback.mjs"

	# server-everything Streamable HTTP on its own
	port=$(free_port)
	PORT=$port start everything "$node" "$everything" streamableHttp
	p=$PID
	if wait_http "$p" "http://127.0.0.1:$port/mcp"; then
		pin_tree "$p"
		measure everything "http://127.0.0.1:$port/mcp" "$NODE_CONNS" "$NODE_SECS" "" "$p"
	else
		R[everything,fail]="did not start: $(why everything)"
	fi
	stop_tree "$p"

	# gatehouse in front of a fresh server-everything (its replay store never evicts)
	port=$(free_port)
	PORT=$port start everything-2 "$node" "$everything" streamableHttp
	p=$PID
	if wait_http "$p" "http://127.0.0.1:$port/mcp"; then
		pin_tree "$p"
		if start_gatehouse gatehouse-everything "http://127.0.0.1:$port/mcp"; then
			measure gatehouse-everything "http://127.0.0.1:$GH_PORT/mcp" "$NODE_CONNS" "$NODE_SECS" "$PID" "$p"
			stop_tree "$PID"
		fi
	else
		R[gatehouse-everything,fail]="server-everything did not start: $(why everything-2)"
	fi
	stop_tree "$p"

	run_supergateway
	run_mcp_proxy
	unset NODE_OPTIONS
}

# ---------------------------------------------------------------- Part C

# Part C: the three bridges in front of the same stdio server-everything. gatehouse spawns the
# server per session (a direct child of the gatehouse process), so measure() counts the gatehouse
# process alone as the proxy and its child as the upstream, exactly as for the Node bridges.
# supergateway and mcp-proxy are measured once per run: when Part B ran, its rows are reused.
C_TARGETS=(gatehouse-stdio supergateway mcp-proxy)
part_c() {
	local node everything sg mp t cfg gh kids
	node_paths
	TARGETS_C=("${C_TARGETS[@]}")
	if [[ ! -f $everything ]]; then
		for t in "${C_TARGETS[@]}"; do R[$t,fail]="npm packages missing in ${INTEROP#$ROOT/} (npm ci there)"; done
		return 1
	fi
	if [[ ! -x $GATEHOUSE_BIN ]]; then
		R[gatehouse-stdio,fail]="no binary at ${GATEHOUSE_BIN#$ROOT/}"
	else
		GH_PORT=$(free_port)
		cfg="$TMP/gatehouse-stdio.yaml"
		cat >"$cfg" <<-EOF
			gateway: {insecure_no_auth: true, workers: 1, log_level: warn}
			listeners: [{address: "127.0.0.1:$GH_PORT"}]
			upstreams:
			  - name: everything
			    command: $node
			    args: ["$everything", "stdio"]
			    cwd: $INTEROP
			    env: {PATH: /usr/bin:/bin}
			    path: /mcp
		EOF
		start gatehouse-stdio "$GATEHOUSE_BIN" serve --config "$cfg"
		gh=$PID
		if wait_http "$gh" "http://127.0.0.1:$GH_PORT/healthz" 200; then
			pin_tree "$gh" # the child spawned at initialize inherits CPU0
			measure gatehouse-stdio "http://127.0.0.1:$GH_PORT/mcp" "$NODE_CONNS" "$NODE_SECS" "$gh" "" &&
				{
					kids=$(cat /proc/"$gh"/task/*/children 2>/dev/null | wc -w)
					R[gatehouse-stdio,children]=$kids
					log "gatehouse-stdio: $kids stdio child(ren) of pid $gh counted as upstream"
				}
		else
			R[gatehouse-stdio,fail]="not healthy: $(why gatehouse-stdio)"
		fi
		stop_tree "$gh"
	fi
	if [[ $PARTS != *B* ]]; then
		export NODE_OPTIONS="--import=file://$LIB/loopback.mjs"
		run_supergateway
		run_mcp_proxy
		unset NODE_OPTIONS
	fi
}

# ---------------------------------------------------------------- Part D

# Part D: what inbound authentication adds to Part A's path (same stub, load and measurement).
# One gateway per row kind: without auth, and with auth (one instance for the three auth rows, on the
# port the tokens' audience names). The cold rows present each of AUTH_TOKENS distinct tokens once.
D_TARGETS=(gh-noauth gh-auth-cached gh-auth-policy gh-audit-buffered gh-audit-before gh-audit-before-long gh-auth-cold-es256 gh-auth-cold-rs256)
AUDIT_ROUNDS=${BENCH_AUDIT_ROUNDS:-5}
AUDIT_LONG_DELAY=${BENCH_AUDIT_LONG_DELAY:-2000} # commit_delay_us of the third audit row
TARGETS_D=()

# gh_config FILE PORT STUB-PORT [ISSUER [AUDIENCE]]: the stub as the one upstream at /mcp, one
# worker; with ISSUER an auth section (audience = http://127.0.0.1:PORT/mcp, or AUDIENCE too, mcp:read
# required on every request), else insecure_no_auth. The configs differ only in that.
gh_config() {
	local iss=${4:-}
	{
		if [[ -n $iss ]]; then
			echo "gateway: {workers: 1, log_level: warn}"
		else
			echo "gateway: {insecure_no_auth: true, workers: 1, log_level: warn}"
		fi
		echo "listeners: [{address: \"127.0.0.1:$2\"}]"
		echo "upstreams: [{name: stub, url: \"http://127.0.0.1:$3/mcp\"}]"
		[[ -n $iss ]] && printf '%s\n' "auth:" "  resource: http://127.0.0.1:$2" "  issuers:" \
			"    - issuer: $iss" "      algorithms: [ES256, RS256]" "      token_type: at+jwt"
		[[ -n $iss && -n ${5:-} ]] && printf '      audiences: ["%s"]\n' "$5"
		[[ -n $iss ]] && printf '%s\n' "  scopes:" "    required: [mcp:read]"
	} >"$1"
}

# policy_section FILE: appends a 1,000-rule policy: 990 allow rules naming literal tools of the stub
# for groups g0..g98 (one in ten also for `readers`, the bench principal's group), 10 glob and deny
# rules, and the rule that admits the measured call (`echo` for `readers`) last.
policy_section() {
	{
		echo "policy:"
		echo "  rules:"
		local i g
		for ((i = 0; i < 990; i++)); do
			g="g$((i % 99))"
			((i % 10 == 0)) && g="$g, readers"
			echo "    - {id: r$i, effect: allow, principal: {groups: [$g]}, upstream: stub, tools: [tool_$i, tool_$((i + 1000))]}"
		done
		for ((i = 0; i < 5; i++)); do
			echo "    - {id: glob$i, effect: allow, principal: {groups: [g$i, readers]}, tools: [\"get_${i}_*\"]}"
			echo "    - {id: deny$i, effect: deny, principal: {groups: [suspended$i]}}"
		done
		echo "    - {id: readers-echo, effect: allow, principal: {groups: [readers]}, upstream: stub, tools: [echo]}"
	} >>"$1"
}

# start_gh_config NAME CONFIG PORT: gatehouse serve --config; healthy, and when BEARER is set, an
# authenticated initialize answered 2xx (the JWKS is fetched after start); sets PID or fails.
start_gh_config() {
	local t=$1 url="http://127.0.0.1:$3/mcp"
	start "$t" "$GATEHOUSE_BIN" serve --config "$2"
	if ! wait_http "$PID" "http://127.0.0.1:$3/healthz" 200; then
		WHY="not healthy: $(why "$t")"
		stop_tree "$PID"
		return 1
	fi
	pin_tree "$PID"
	[[ -n $BEARER ]] || return 0
	for _ in $(seq 150); do
		mcp_post "$url" "" '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"'$PROTO'","capabilities":{},"clientInfo":{"name":"gatehouse-bench","version":"1.0"}}}'
		[[ $HTTP_CODE = 2* ]] && return 0
		sleep 0.1
	done
	WHY="an authenticated initialize still answers HTTP $HTTP_CODE after 15 s: $(why "$t")"
	stop_tree "$PID"
	return 1
}

# start_idp AUDIENCE: the test IdP (oidc-provider) on a free loopback port, tokens valid for an
# hour; sets PID and ISSUER, with the ready line in $TMP/idp.log.
start_idp() {
	local ready=
	"$NODE_BIN" "$INTEROP/idp/idp.mjs" --port 0 --resource "$1" --ttl 3600 --rotations 0 >"$TMP/idp.log" 2>&1 &
	PID=$!
	STARTED+=("$PID")
	LOGNAME_OF[$PID]=idp
	for _ in $(seq 300); do
		ready=$(grep -m1 '^{"issuer"' "$TMP/idp.log")
		[[ -n $ready || ! -d /proc/$PID ]] && break
		sleep 0.1
	done
	ISSUER=$(printf '%s' "$ready" | sed -n 's/^{"issuer":"\([^"]*\)".*/\1/p')
	[[ -n $ISSUER ]] || { WHY="test IdP not ready: $(why idp)"; return 1; }
}

# mint CLIENT COUNT FILE: COUNT distinct access tokens of CLIENT, one a line.
mint() {
	"$NODE_BIN" "$LIB/mint.mjs" "$TMP/idp.log" "$1" "$2" "$3" 2>"$TMP/mint.err" && return 0
	WHY="minting $2 $1 tokens failed: $(head -c 160 "$TMP/mint.err")"
	return 1
}

# pick_median T: the round (T.r1 ... T.rN) with the median gatehouse CPU becomes row T; errors are
# summed over the rounds, and a failed round fails the row.
pick_median() {
	local t=$1 r k best list=() f
	for ((r = 1; r <= ROUNDS; r++)); do
		if ! ok "$t.r$r"; then
			R[$t,fail]="round $r: ${R[$t.r$r,fail]:-not run}"
			R[$t,conns]=${R[$t.r$r,conns]:-}
			return 1
		fi
		list+=("${R[$t.r$r,cpu_proxy]} $r")
	done
	best=$(printf '%s\n' "${list[@]}" | sort -n | awk -v m=$(((ROUNDS + 1) / 2)) 'NR == m { print $2 }')
	for k in conns rps p50_us p99_us cpu_proxy cpu_user cpu_up cpu_total wrk_cpu requests duration_us non2xx rpc_errors sock_errors timeouts; do
		R[$t,$k]=${R[$t.r$best,$k]}
	done
	R[$t,errors]=0
	R[$t,rounds]=
	for ((r = 1; r <= ROUNDS; r++)); do
		R[$t,errors]=$((R[$t,errors] + R[$t.r$r,errors]))
		R[$t,rounds]+="${R[$t,rounds]:+, }${R[$t.r$r,cpu_proxy]}"
	done
}

part_d() {
	local node everything sg mp t stub gh gh0 port port0 cap r
	node_paths
	TARGETS_D=("${D_TARGETS[@]}")
	d_fail() { for t in "$@"; do R[$t,fail]=$WHY; done; log "Part D: ${WHY}"; }
	if [[ ! -d $INTEROP/idp/node_modules/oidc-provider ]]; then
		WHY="test IdP packages missing (npm ci in ${INTEROP#$ROOT/}/idp)"
		d_fail "${D_TARGETS[@]}"
		return 1
	fi
	if [[ ! -x $GATEHOUSE_BIN ]]; then
		WHY="no binary at ${GATEHOUSE_BIN#$ROOT/}"
		d_fail "${D_TARGETS[@]}"
		return 1
	fi
	start_stub stub-d || { WHY="nginx stub did not start"; d_fail "${D_TARGETS[@]}"; return 1; }
	stub=$PID

	# tokens for the audience http://127.0.0.1:PORT/mcp, minted before the auth gateway starts
	port=$(free_port)
	if ! start_idp "http://127.0.0.1:$port/mcp"; then
		d_fail "${D_TARGETS[@]}"
		stop_tree "$stub"
		return 1
	fi
	log "Part D: test IdP at $ISSUER; minting 1 + $AUTH_TOKENS ES256 and 1 + $AUTH_TOKENS RS256 tokens"
	if ! { mint jwt-es256-client 1 "$TMP/tok-es256-cached" && mint reader-client 1 "$TMP/tok-reader" &&
		mint jwt-es256-client "$AUTH_TOKENS" "$TMP/tok-es256" &&
		mint jwt-rs256-client 1 "$TMP/tok-rs256-cached" && mint jwt-rs256-client "$AUTH_TOKENS" "$TMP/tok-rs256"; }; then
		d_fail "${D_TARGETS[@]}"
		stop_tree "$stub"
		return 1
	fi

	# both gateways run side by side (the idle one costs nothing) so that the no-auth and cached
	# rows alternate, ROUNDS times each: the row is the median round
	port0=$(free_port)
	gh_config "$TMP/gh-noauth.yaml" "$port0" "$STUB_PORT"
	if ! start_gh_config gh-noauth "$TMP/gh-noauth.yaml" "$port0"; then
		d_fail "${D_TARGETS[@]}"
		stop_tree "$stub"
		return 1
	fi
	gh0=$PID
	BEARER=$(head -1 "$TMP/tok-es256-cached")
	gh_config "$TMP/gh-auth.yaml" "$port" "$STUB_PORT" "$ISSUER"
	if ! start_gh_config gh-auth "$TMP/gh-auth.yaml" "$port"; then
		d_fail gh-auth-cached gh-auth-cold-es256 gh-auth-cold-rs256
		port=
	fi
	gh=$PID
	# the same auth config plus a 1,000-rule policy, on its own port, accepting the same audience
	local portp ghp=
	portp=$(free_port)
	gh_config "$TMP/gh-policy.yaml" "$portp" "$STUB_PORT" "$ISSUER" "http://127.0.0.1:$port/mcp"
	policy_section "$TMP/gh-policy.yaml"
	BEARER=$(head -1 "$TMP/tok-reader")
	if [[ -n $port ]] && start_gh_config gh-policy "$TMP/gh-policy.yaml" "$portp"; then
		ghp=$PID
	else
		d_fail gh-auth-policy
	fi
	for ((r = 1; r <= ROUNDS; r++)); do
		BEARER= TOK_WARM= TOK_RUN=
		measure "gh-noauth.r$r" "http://127.0.0.1:$port0/mcp" "$CONNS" "$SECS" "$gh0" "$stub"
		[[ -n $port ]] || continue
		BEARER=$(head -1 "$TMP/tok-es256-cached") TOK_WARM="$TMP/tok-es256-cached" TOK_RUN=$TOK_WARM
		measure "gh-auth-cached.r$r" "http://127.0.0.1:$port/mcp" "$CONNS" "$SECS" "$gh" "$stub"
		[[ -n $ghp ]] || continue
		BEARER=$(head -1 "$TMP/tok-reader") TOK_WARM="$TMP/tok-reader" TOK_RUN=$TOK_WARM
		measure "gh-auth-policy.r$r" "http://127.0.0.1:$portp/mcp" "$CONNS" "$SECS" "$ghp" "$stub"
	done
	pick_median gh-noauth
	[[ -n $port ]] && pick_median gh-auth-cached
	[[ -n $ghp ]] && pick_median gh-auth-policy
	[[ -n $ghp ]] && stop_tree "$ghp"
	stop_tree "$gh0"
	part_d_audit "$stub"

	# new token per request: the session and the warm-up use the client's one extra token (sessions
	# are bound to the principal: the RS256 client needs its own); each cold run stops once every
	# token was sent, -d is only a cap (>= 1500 req/s assumed)
	cap=$(((AUTH_TOKENS + 1499) / 1500 + 1))
	for t in es256 rs256; do
		[[ -n $port ]] || break
		BEARER=$(head -1 "$TMP/tok-$t-cached") TOK_WARM="$TMP/tok-$t-cached" TOK_RUN="$TMP/tok-$t" TOK_SECS=$cap
		measure "gh-auth-cold-$t" "http://127.0.0.1:$port/mcp" "$CONNS" "$SECS" "$gh" "$stub"
	done
	[[ -n $port ]] && stop_tree "$gh"
	BEARER= TOK_WARM= TOK_RUN= TOK_SECS=
	[[ -n $port ]] && part_d_instr "$port"
	stop_tree "$stub"
}

# Part D by instruction count: the same gateways under callgrind (valgrind), counted over a fixed
# stretch of load. Instructions do not move with the other work on a shared machine, so the
# difference between two configs is read off exactly, where CPU seconds carry a spread of several
# µs per request. CG_SECS measured seconds at CG_CONNS connections after a warm-up; the counters are
# zeroed before and dumped after, so start-up, session set-up and warm-up are not counted.
CG_SECS=${BENCH_CG_SECONDS:-5}
CG_CONNS=${BENCH_CG_CONNECTIONS:-$CONNS}
D_CG_TARGETS=(gh-noauth gh-auth-cached gh-auth-policy)

# cg_measure TARGET CONFIG PORT [TOKEN-FILE]: sets R[TARGET,instr] (instructions per request of the
# gateway process) and R[TARGET,cg_requests]. BENCH_CG_KEEP=DIR keeps the dumps there (for
# callgrind_annotate).
cg_measure() {
	local t=$1 cfg=$2 port=$3 tokf=${4:-} url pid n dump total
	url="http://127.0.0.1:$3/mcp"
	start "cg-$t" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg-$t.%p" \
		"$GATEHOUSE_BIN" serve --config "$cfg"
	pid=$PID
	if ! wait_http "$pid" "http://127.0.0.1:$port/healthz" 200; then
		R[$t,cg_fail]="under callgrind: $(why "cg-$t")"
		stop_tree "$pid"
		return 1
	fi
	callgrind_control -i on "$pid" >/dev/null 2>&1
	BEARER=
	[[ -n $tokf ]] && BEARER=$(head -1 "$tokf")
	local ok_session=
	for _ in $(seq 100); do # an auth gateway answers once it has fetched the IdP's keys
		mcp_session "$url" && { ok_session=1; break; }
		sleep 0.2
	done
	if [[ -z $ok_session ]]; then
		R[$t,cg_fail]="under callgrind: $FAIL"
		stop_tree "$pid"
		return 1
	fi
	wrk_run "$url" "$SESSION" "$CG_CONNS" "$WARM" "$TMP/cg-$t.warm" "$tokf"
	callgrind_control -z "$pid" >/dev/null 2>&1
	wrk_run "$url" "$SESSION" "$CG_CONNS" "$CG_SECS" "$TMP/cg-$t.wrk" "$tokf"
	callgrind_control -d "$pid" >/dev/null 2>&1
	BEARER=
	n=$(grep '^BENCH ' "$TMP/cg-$t.wrk" | tr ' ' '\n' | sed -n 's/^requests=//p')
	local e
	e=$(grep '^BENCH ' "$TMP/cg-$t.wrk" | tr ' ' '\n' | awk -F= '$1 ~ /^(non2xx|rpc_errors|sock_errors|timeouts)$/ { s += $2 } END { print s + 0 }')
	dump="$TMP/cg-$t.$pid.1" # the one dump asked for; the file without a suffix is the exit's
	stop_tree "$pid"
	total=$(sed -n 's/^summary: *//p' "$dump" 2>/dev/null | head -1)
	if [[ -z $n || $n = 0 || -z $total ]]; then
		R[$t,cg_fail]="under callgrind: no count (requests ${n:-?}, dump ${dump:-none})"
		return 1
	fi
	if ((e > 0)); then
		R[$t,cg_fail]="under callgrind: $e errors in $n requests"
		return 1
	fi
	[[ -n ${BENCH_CG_KEEP:-} ]] && mkdir -p "$BENCH_CG_KEEP" && cp "$dump" "$BENCH_CG_KEEP/$t.callgrind"
	R[$t,cg_requests]=$n
	R[$t,instr]=$(awk -v a="$total" -v n="$n" 'BEGIN { printf "%.0f", a / n }')
	log "$t under callgrind: $n requests, ${R[$t,instr]} instructions/request"
}

# part_d_instr PORT: the three Part D configs again, each under callgrind on a port of its own
# (the auth configs accept the tokens' audience, http://127.0.0.1:PORT/mcp).
part_d_instr() {
	local aud="http://127.0.0.1:$1/mcp" p
	if ! command -v callgrind_control >/dev/null; then
		for p in "${D_CG_TARGETS[@]}"; do R[$p,cg_fail]="valgrind not installed"; done
		return 1
	fi
	p=$(free_port)
	gh_config "$TMP/cg-noauth.yaml" "$p" "$STUB_PORT"
	cg_measure gh-noauth "$TMP/cg-noauth.yaml" "$p"
	p=$(free_port)
	gh_config "$TMP/cg-auth.yaml" "$p" "$STUB_PORT" "$ISSUER" "$aud"
	cg_measure gh-auth-cached "$TMP/cg-auth.yaml" "$p" "$TMP/tok-es256-cached"
	p=$(free_port)
	gh_config "$TMP/cg-policy.yaml" "$p" "$STUB_PORT" "$ISSUER" "$aud"
	policy_section "$TMP/cg-policy.yaml"
	cg_measure gh-auth-policy "$TMP/cg-policy.yaml" "$p" "$TMP/tok-reader"
}

# The audit trail on the no-auth hop: buffered, then before-forward (every tools/call waits for
# the fsync of its decision record; group commit), alternating, files on the repo's disk (not a
# tmpfs: fsync must cost what it costs).
part_d_audit() {
	local stub=$1 pb pf pl gb gf gl r dir="$ROOT/bench/out/audit.$$"
	rm -rf "$dir" && mkdir -p "$dir"
	AUDIT_FS=$(df -T "$dir" 2>/dev/null | awk 'NR == 2 { print $2 }')
	pb=$(free_port)
	gh_config "$TMP/gh-audit-b.yaml" "$pb" "$STUB_PORT"
	printf 'audit:\n  path: %s/buffered.jsonl\n  durability: buffered\n  key: file:%s/k.pem\n' "$dir" "$dir" >>"$TMP/gh-audit-b.yaml"
	pf=$(free_port)
	gh_config "$TMP/gh-audit-f.yaml" "$pf" "$STUB_PORT"
	printf 'audit:\n  path: %s/before.jsonl\n  durability: before-forward\n  key: file:%s/k.pem\n' "$dir" "$dir" >>"$TMP/gh-audit-f.yaml"
	pl=$(free_port)
	gh_config "$TMP/gh-audit-l.yaml" "$pl" "$STUB_PORT"
	printf 'audit:\n  path: %s/long.jsonl\n  durability: before-forward\n  commit_delay_us: %s\n  key: file:%s/k.pem\n' "$dir" "$AUDIT_LONG_DELAY" "$dir" >>"$TMP/gh-audit-l.yaml"
	openssl genpkey -algorithm ed25519 -out "$dir/k.pem" 2>/dev/null
	BEARER= TOK_WARM= TOK_RUN=
	if ! start_gh_config gh-audit-b "$TMP/gh-audit-b.yaml" "$pb"; then
		d_fail gh-audit-buffered gh-audit-before
		return 1
	fi
	gb=$PID
	if ! start_gh_config gh-audit-f "$TMP/gh-audit-f.yaml" "$pf"; then
		d_fail gh-audit-before
		stop_tree "$gb"
		return 1
	fi
	gf=$PID
	gl=
	if start_gh_config gh-audit-l "$TMP/gh-audit-l.yaml" "$pl"; then
		gl=$PID
	else
		d_fail gh-audit-before-long
	fi
	# buffered and before-forward alternate, so each round's ratio compares runs a few seconds
	# apart: the verdict is the median of those per-round ratios
	local rounds_saved=$ROUNDS
	ROUNDS=$AUDIT_ROUNDS
	AUDIT_RATIOS=()
	AUDIT_RATIOS_LONG=()
	for ((r = 1; r <= ROUNDS; r++)); do
		measure "gh-audit-buffered.r$r" "http://127.0.0.1:$pb/mcp" "$CONNS" "$SECS" "$gb" "$stub"
		measure "gh-audit-before.r$r" "http://127.0.0.1:$pf/mcp" "$CONNS" "$SECS" "$gf" "$stub"
		[[ -n $gl ]] && measure "gh-audit-before-long.r$r" "http://127.0.0.1:$pl/mcp" "$CONNS" "$SECS" "$gl" "$stub"
		ok "gh-audit-buffered.r$r" && ok "gh-audit-before.r$r" &&
			AUDIT_RATIOS+=("$(ratio "${R[gh-audit-before.r$r,rps]}" "${R[gh-audit-buffered.r$r,rps]}")")
		[[ -n $gl ]] && ok "gh-audit-buffered.r$r" && ok "gh-audit-before-long.r$r" &&
			AUDIT_RATIOS_LONG+=("$(ratio "${R[gh-audit-before-long.r$r,rps]}" "${R[gh-audit-buffered.r$r,rps]}")")
	done
	pick_median gh-audit-buffered
	pick_median gh-audit-before
	[[ -n $gl ]] && pick_median gh-audit-before-long
	ROUNDS=$rounds_saved
	stop_tree "$gb"
	stop_tree "$gf"
	[[ -n $gl ]] && stop_tree "$gl"
	AUDIT_LINES_B=$(cat "$dir"/buffered.jsonl* 2>/dev/null | wc -l)
	AUDIT_LINES_F=$(cat "$dir"/before.jsonl* 2>/dev/null | wc -l)
	rm -rf "$dir"
}

# ---------------------------------------------------------------- report

declare -A DESC=(
	[nginx-stub]="nginx stub upstream (return 200)"
	[nginx-proxy]="nginx reverse proxy -> stub"
	[gatehouse]="gatehouse -> stub"
	[everything]="server-everything (Streamable HTTP)"
	[gatehouse-everything]="gatehouse -> server-everything HTTP"
	[supergateway]="supergateway --stateful -> stdio"
	[mcp-proxy]="mcp-proxy -> stdio"
	[gatehouse-stdio]="gatehouse -> stdio (child per session)"
	[gh-noauth]="gatehouse -> stub, no auth"
	[gh-auth-cached]="gatehouse -> stub, auth, one cached ES256 token"
	[gh-auth-policy]="gatehouse -> stub, auth (cached token) + 1,000-rule policy"
	[gh-audit-buffered]="gatehouse -> stub, no auth, audit trail buffered"
	[gh-audit-before]="gatehouse -> stub, no auth, audit trail before-forward (fsync per call, group commit)"
	[gh-audit-before-long]="gatehouse -> stub, no auth, audit trail before-forward, longer commit delay"
	[gh-auth-cold-es256]="gatehouse -> stub, auth, new ES256 token per request"
	[gh-auth-cold-rs256]="gatehouse -> stub, auth, new RS256 token per request"
)

fmt_us() { # microseconds -> readable latency
	awk -v u="$1" 'BEGIN { if (u >= 1e6) printf "%.2f s", u / 1e6; else if (u >= 1e3) printf "%.2f ms", u / 1e3; else printf "%d us", u }'
}

median() { # numbers -> their median (the lower middle for an even count), or n/a
	(($#)) || { echo n/a; return; }
	printf '%s\n' "$@" | sort -n | awk -v m=$((($# + 1) / 2)) 'NR == m { print }'
}

ratio() { # A B -> A/B with 2 decimals, or n/a
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# table [C]: Parts A and B, or (C) Part C with its own column names.
table() {
	local t
	local -a list=("${TARGETS[@]}")
	if [[ ${1:-} = C ]]; then
		list=("${TARGETS_C[@]}")
		echo "| target | conns | req/s | p50 | p99 | server CPU µs/req (all processes) | bridge process's own CPU µs/req | stdio child CPU µs/req | errors |"
	else
		echo "| target | conns | req/s | p50 | p99 | server CPU µs/req (all processes) | proxy's own CPU µs/req | upstream CPU µs/req | errors |"
	fi
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
	for t in "${list[@]}"; do
		if [[ -n ${R[$t,fail]:-} || -z ${R[$t,rps]:-} ]]; then
			local why=${R[$t,fail]:-not run}
			echo "| ${DESC[$t]} | ${R[$t,conns]:--} | n/a (${why//|//}) | | | | | | |"
			continue
		fi
		local err=0
		if ((R[$t,errors] > 0)); then
			err="**${R[$t,errors]} FAILED** (non-2xx ${R[$t,non2xx]}, JSON-RPC ${R[$t,rpc_errors]}, socket ${R[$t,sock_errors]}, timeout ${R[$t,timeouts]})"
		fi
		local mark=
		((R[$t,wrk_cpu] >= 90)) && mark=" ‡"
		echo "| ${DESC[$t]} | ${R[$t,conns]} | ${R[$t,rps]}$mark | $(fmt_us "${R[$t,p50_us]}") | $(fmt_us "${R[$t,p99_us]}") | ${R[$t,cpu_total]} | ${R[$t,cpu_proxy]:--} | ${R[$t,cpu_up]} | $err |"
	done
}

ok() { [[ -z ${R[$1,fail]:-} && -n ${R[$1,rps]:-} ]]; }

ratios() {
	local hop
	if [[ $PARTS == *A* ]]; then
		if ok gatehouse && ok nginx-proxy; then
			hop=$(ratio "${R[gatehouse,cpu_proxy]}" "${R[nginx-proxy,cpu_proxy]}")
			local verdict=FAIL
			awk -v r="$hop" 'BEGIN { exit !(r <= 1.5) }' && verdict=PASS
			((R[gatehouse,errors] > 0)) && verdict="FAIL (the gatehouse run had errors)"
			echo "- **Hop CPU, gatehouse / nginx: $hop** (${R[gatehouse,cpu_proxy]} / ${R[nginx-proxy,cpu_proxy]} µs/req); target ≤ 1.5: **$verdict**"
			echo "- Whole path (proxy + stub) CPU, gatehouse / nginx: $(ratio "${R[gatehouse,cpu_total]}" "${R[nginx-proxy,cpu_total]}")"
			echo "- req/s, gatehouse / nginx (noisy; CPU is the figure of merit): $(ratio "${R[gatehouse,rps]}" "${R[nginx-proxy,rps]}")"
		else
			echo "- Hop CPU, gatehouse / nginx: n/a (gatehouse: ${R[gatehouse,fail]:-ok}; nginx proxy: ${R[nginx-proxy,fail]:-ok})"
		fi
		ok nginx-proxy && ok nginx-stub &&
			echo "- nginx hop / nginx stub CPU: $(ratio "${R[nginx-proxy,cpu_proxy]}" "${R[nginx-stub,cpu_total]}")"
	fi
	if [[ $PARTS == *B* ]]; then
		local t
		for t in supergateway mcp-proxy; do
			ok "$t" || continue
			if ok gatehouse-everything; then
				echo "- $t's own CPU / gatehouse's own CPU in front of server-everything: $(ratio "${R[$t,cpu_proxy]}" "${R[gatehouse-everything,cpu_proxy]}")"
			fi
			if ok nginx-proxy; then
				echo "- $t's own CPU / nginx hop CPU: $(ratio "${R[$t,cpu_proxy]}" "${R[nginx-proxy,cpu_proxy]}")"
			fi
		done
		ok gatehouse-everything || echo "- gatehouse in front of server-everything: n/a (${R[gatehouse-everything,fail]:-not run})"
		ok gatehouse-everything && ok everything &&
			echo "- gatehouse → server-everything whole path / server-everything alone: $(ratio "${R[gatehouse-everything,cpu_total]}" "${R[everything,cpu_total]}")"
	fi
}

ratios_c() {
	local t
	if ! ok gatehouse-stdio; then
		echo "- gatehouse in front of stdio server-everything: n/a (${R[gatehouse-stdio,fail]:-not run})"
		return
	fi
	for t in supergateway mcp-proxy; do
		ok "$t" || { echo "- $t: n/a (${R[$t,fail]:-not run})"; continue; }
		echo "- $t's own CPU / gatehouse's own CPU (both bridging stdio): $(ratio "${R[$t,cpu_proxy]}" "${R[gatehouse-stdio,cpu_proxy]}") (${R[$t,cpu_proxy]} / ${R[gatehouse-stdio,cpu_proxy]} µs/req)"
		echo "- $t whole path / gatehouse whole path: $(ratio "${R[$t,cpu_total]}" "${R[gatehouse-stdio,cpu_total]}"); stdio child, behind $t / behind gatehouse: $(ratio "${R[$t,cpu_up]}" "${R[gatehouse-stdio,cpu_up]}")"
	done
	ok gatehouse-everything &&
		echo "- gatehouse's own CPU, stdio bridge / HTTP pass-through to server-everything (Part B): $(ratio "${R[gatehouse-stdio,cpu_proxy]}" "${R[gatehouse-everything,cpu_proxy]}")"
}

versions() {
	local v
	echo "- nginx: $("$NGINX" -v 2>&1 | sed 's/.*version: //') ($(dpkg-query -W -f '${Package} ${Version}' nginx-light 2>/dev/null || echo 'nginx-light not installed'))"
	echo "- wrk: $(dpkg-query -W -f '${Version}' wrk 2>/dev/null || wrk -v 2>&1 | head -1)"
	if [[ $PARTS == *[BC]* ]]; then
		echo "- node: $("${NODE_BIN:-node}" --version 2>/dev/null)"
		for v in @modelcontextprotocol/server-everything supergateway mcp-proxy @modelcontextprotocol/sdk; do
			echo "- $v: $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$INTEROP/node_modules/$v/package.json" 2>/dev/null | head -1)"
		done
	fi
	if [[ -x $GATEHOUSE_BIN ]]; then
		v=$("$GATEHOUSE_BIN" --version 2>/dev/null | head -1)
		echo "- gatehouse: ${v:-${GATEHOUSE_BIN#$ROOT/}} (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ', src modified'))"
	fi
}

report() {
	cat <<-EOF
		# Gatehouse benchmarks

		Generated by \`bench/run.sh\` (see bench/README.md for the method and the columns). Every figure below
		comes from the same run on the same machine; compare CPU µs/req and the ratios, not req/s, which moves by
		30% between runs on shared machines.

		- date: $(date -u '+%Y-%m-%d %H:%M UTC')
		- kernel: $(uname -r)
		- CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; load average at start $LOADAVG
		- pinning: $([[ $PIN = 1 ]] && echo 'servers on CPU0, wrk on CPU1' || echo 'none')
		$([[ $PARTS == *[AD]* ]] && echo "- Part A load: wrk -t1 -c$CONNS, ${WARM} s warm-up then ${SECS} s measured, 323-byte JSON-RPC tools/call POSTs with unique ids in one MCP session")
		$([[ $PARTS == *[BC]* ]] && echo "- Part B load: wrk -t1 -c$NODE_CONNS, ${WARM} s warm-up then ${NODE_SECS} s measured, tools/call \`echo\` with unique ids after initialize + notifications/initialized")
		$(versions)

		## Results

		$(table)

		‡ wrk used ≥ 90% of its core: the load generator set the pace and the server was not saturated (its
		CPU µs/req then reads somewhat higher than at saturation, as fewer requests share each wake-up).

		## Ratios (same run)

		$(ratios)
		$(part_c_report)
		$(part_d_report)
		$(part_p_report)
	EOF
}

part_c_report() {
	[[ $PARTS == *C* ]] || return 0
	cat <<-EOF

		## Part C — bridges in front of the same stdio server-everything

		gatehouse spawns server-everything (\`stdio\`) per session as its own direct child; supergateway
		--stateful and mcp-proxy each run it as their child too$([[ $PARTS == *B* ]] && echo ' (their rows are the Part B measurements of this run)'). "Bridge process's own
		CPU" is the bridge's pid alone (/proc/PID/stat, all its threads); "stdio child CPU" is every
		descendant (found through /proc/PID/task/*/children just before the measured run). Same load as
		Part B: wrk -t1 -c$NODE_CONNS, ${WARM} s warm-up then ${NODE_SECS} s, tools/call \`echo\` with unique ids in one
		session after initialize + notifications/initialized.

		$(table C)

		$(ratios_c)
	EOF
}

# table_d: Part D, gatehouse's own CPU next to the no-auth row of the same run.
table_d() {
	local t base=${R[gh-noauth,cpu_proxy]:-} delta tok err
	echo "| target | conns | req/s | p50 | p99 | gatehouse CPU µs/req | Δ vs no auth µs/req | stub CPU µs/req | tokens / requests | errors |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
	for t in "${TARGETS_D[@]}"; do
		if ! ok "$t"; then
			local why=${R[$t,fail]:-not run}
			echo "| ${DESC[$t]} | ${R[$t,conns]:--} | n/a (${why//|//}) | | | | | | | |"
			continue
		fi
		delta=-
		[[ $t != gh-noauth && -n $base ]] && ok gh-noauth &&
			delta=$(awk -v a="${R[$t,cpu_proxy]}" -v b="$base" 'BEGIN { printf "%+.2f", a - b }')
		case $t in
		gh-noauth) tok="no token / ${R[$t,requests]}" ;;
		gh-auth-cached | gh-auth-policy) tok="1 / ${R[$t,requests]}" ;;
		gh-audit-*) tok="no token / ${R[$t,requests]}" ;;
		*)
			tok="${R[$t,tokens]:-?} distinct / ${R[$t,requests]}"
			if [[ ${R[$t,stopped]:-0} = 1 ]]; then
				tok+=" (${R[$t,reused]:-0} sent after the last new token, with it)"
			else
				tok+=" (time cap reached first: every request a new token)"
			fi
			;;
		esac
		err=0
		((R[$t,errors] > 0)) &&
			err="**${R[$t,errors]} FAILED** (non-2xx ${R[$t,non2xx]}, JSON-RPC ${R[$t,rpc_errors]}, socket ${R[$t,sock_errors]}, timeout ${R[$t,timeouts]})"
		local mark=
		((R[$t,wrk_cpu] >= 90)) && mark=" ‡"
		echo "| ${DESC[$t]} | ${R[$t,conns]} | ${R[$t,rps]}$mark | $(fmt_us "${R[$t,p50_us]}") | $(fmt_us "${R[$t,p99_us]}") | ${R[$t,cpu_proxy]} | $delta | ${R[$t,cpu_up]} | $tok | $err |"
	done
}

ratios_d() {
	local d verdict t
	if ok gh-noauth && ok gh-auth-cached && [[ -n ${R[gh-noauth,instr]:-} && -n ${R[gh-auth-cached,instr]:-} ]]; then
		local upi di du
		upi=$(awk -v c="${R[gh-noauth,cpu_user]}" -v i="${R[gh-noauth,instr]}" 'BEGIN { printf "%.6f", c / i }')
		di=$((R[gh-auth-cached,instr] - R[gh-noauth,instr]))
		du=$(awk -v d="$di" -v u="$upi" 'BEGIN { printf "%.2f", d * u }')
		verdict=FAIL
		awk -v x="$du" 'BEGIN { exit !(x <= 1) }' && verdict=PASS
		echo "- **Cached token − no auth, by instruction count: +$di instructions/req = $du µs/req**; target ≤ 1 µs: **$verdict** (callgrind, ${CG_SECS} s at $CG_CONNS connections after the warm-up: no auth ${R[gh-noauth,instr]} instructions/req over ${R[gh-noauth,cg_requests]} requests, cached token ${R[gh-auth-cached,instr]} over ${R[gh-auth-cached,cg_requests]}; converted at the no-auth row's measured user-mode rate, $(awk -v u="$upi" 'BEGIN { printf "%.2f", u * 1000 }') ns per instruction: ${R[gh-noauth,cpu_user]} µs/req of user CPU of its ${R[gh-noauth,cpu_proxy]} in all)"
		[[ -n ${R[gh-auth-policy,instr]:-} ]] &&
			echo "- 1,000-rule policy − cached token, by instruction count: +$((R[gh-auth-policy,instr] - R[gh-auth-cached,instr])) instructions/req = $(awk -v d="$((R[gh-auth-policy,instr] - R[gh-auth-cached,instr]))" -v u="$upi" 'BEGIN { printf "%.2f", d * u }') µs/req (${R[gh-auth-policy,instr]} instructions/req over ${R[gh-auth-policy,cg_requests]} requests)"
	elif ok gh-noauth && ok gh-auth-cached; then
		echo "- Cached token − no auth by instruction count: n/a (no auth: ${R[gh-noauth,cg_fail]:-ok}; cached: ${R[gh-auth-cached,cg_fail]:-ok})"
	fi
	if ok gh-noauth && ok gh-auth-cached; then
		d=$(awk -v a="${R[gh-auth-cached,cpu_proxy]}" -v b="${R[gh-noauth,cpu_proxy]}" 'BEGIN { printf "%.2f", a - b }')
		((R[gh-auth-cached,errors] > 0 || R[gh-noauth,errors] > 0)) && d="$d (a run had errors)"
		echo "- Cached token − no auth, gatehouse CPU seconds: $d µs/req (${R[gh-auth-cached,cpu_proxy]} − ${R[gh-noauth,cpu_proxy]}; the rounds' spread is several µs on this shared machine, which is why the verdict above is read off instruction counts)"
		echo "- gatehouse CPU µs/req of each round, no auth: ${R[gh-noauth,rounds]}; cached token: ${R[gh-auth-cached,rounds]} (rows above: the median round)"
		echo "- req/s, cached token / no auth (noisy): $(ratio "${R[gh-auth-cached,rps]}" "${R[gh-noauth,rps]}")"
	else
		echo "- Cached token − no auth: n/a (no auth: ${R[gh-noauth,fail]:-ok}; cached: ${R[gh-auth-cached,fail]:-ok})"
	fi
	if ok gh-audit-buffered && ok gh-audit-before; then
		local v=FAIL q
		q=$(median "${AUDIT_RATIOS[@]}")
		awk -v x="$q" 'BEGIN { exit !(x >= 0.8) }' && v=PASS
		echo "- **Audit before-forward / buffered, req/s at $CONNS connections: $q** (median of the per-round ratios ${AUDIT_RATIOS[*]}; the median rows above: $(ratio "${R[gh-audit-before,rps]}" "${R[gh-audit-buffered,rps]}")); target ≥ 0.8: **$v** (audit files on ${AUDIT_FS:-?}, rotated at 100 MB; records written over all rounds and warm-ups, rotated files included: buffered ${AUDIT_LINES_B:-?}, before-forward ${AUDIT_LINES_F:-?})"
		((${#AUDIT_RATIOS_LONG[@]})) &&
			echo "- Audit before-forward with \`commit_delay_us: $AUDIT_LONG_DELAY\` / buffered: $(median "${AUDIT_RATIOS_LONG[@]}") (per round: ${AUDIT_RATIOS_LONG[*]}); its gatehouse CPU ${R[gh-audit-before-long,cpu_proxy]:-?} µs/req against ${R[gh-audit-before,cpu_proxy]} with the default 500 µs"
		echo "- Audit buffered − no auth, gatehouse CPU: $(awk -v a="${R[gh-audit-buffered,cpu_proxy]}" -v b="${R[gh-noauth,cpu_proxy]}" 'BEGIN { printf "%.2f", a - b }') µs/req (two records per call: decision and outcome, built and queued; the writer thread is in the process too)"
	fi
	if ok gh-auth-policy && ok gh-auth-cached; then
		echo "- **1,000-rule policy − cached token, gatehouse CPU: $(awk -v a="${R[gh-auth-policy,cpu_proxy]}" -v b="${R[gh-auth-cached,cpu_proxy]}" 'BEGIN { printf "%.2f", a - b }') µs/req** (the policy decision, the known-names check and the limits lookup of every tools/call; rounds: ${R[gh-auth-policy,rounds]})"
	fi
	for t in es256 rs256; do
		ok "gh-auth-cold-$t" && ok gh-auth-cached &&
			echo "- New ${t^^} token per request − cached token: $(awk -v a="${R[gh-auth-cold-$t,cpu_proxy]}" -v b="${R[gh-auth-cached,cpu_proxy]}" 'BEGIN { printf "%.2f", a - b }') µs/req (signature verification, claims, cache insert)"
	done
	if ok gh-noauth && ok gatehouse; then
		echo "- No-auth row here / Part A's gatehouse row (same setup, run-to-run spread): $(ratio "${R[gh-noauth,cpu_proxy]}" "${R[gatehouse,cpu_proxy]}")"
	fi
	return 0
}

part_d_report() {
	[[ $PARTS == *D* ]] || return 0
	local v
	v=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$INTEROP/idp/node_modules/oidc-provider/package.json" 2>/dev/null | head -1)
	cat <<-EOF

		## Part D — inbound authentication on the pass-through hop

		Part A's stub, load and measurement (wrk -t1 -c$CONNS, ${WARM} s warm-up, 323-byte tools/call with unique ids in
		one session, gatehouse pinned to CPU0), gatehouse started from a config file with \`workers: 1\`. No auth:
		\`insecure_no_auth: true\`. Auth: the same config plus \`auth:\` with \`resource\` = the gateway's base URL,
		one issuer = the test IdP on loopback (oidc-provider ${v:-?}, tests/interop/idp), \`algorithms: [ES256, RS256]\`,
		\`token_type: at+jwt\`, \`scopes.required: [mcp:read]\`; client_credentials tokens of \`jwt-es256-client\` /
		\`jwt-rs256-client\` with \`aud\` = the resource URI, minted before the gateway starts. The session is opened
		with the cached token (every token of a client has the same iss/sub/client_id, so one session serves them
		all; the RS256 client gets its own session and token). No auth and cached token: both gateways run side by
		side and their ${SECS} s runs alternate, $ROUNDS rounds, each row being its median round; cached = every request
		\`Authorization: Bearer\` with the same token. New token per request: $AUTH_TOKENS distinct tokens per row, each
		sent once; the run ends at the response that completes that many requests (its own duration, not wrk's -d);
		session and warm-up use one more token of the same client. "Gatehouse CPU" is the gateway process alone.

		Instruction counts: the no-auth, cached-token and policy configs again, each gateway under
		\`valgrind --tool=callgrind --instr-atstart=no\` with the same session set-up and warm-up; then the counters
		are zeroed (\`callgrind_control -z\`), ${CG_SECS} s of the same load run at $CG_CONNS connections, and the dump's
		total divided by the requests served is the config's instructions per request. Unlike CPU seconds these do
		not move much with other work on the machine. They are turned into µs at the no-auth row's own rate in
		user mode (its user CPU µs/req over its instructions/req): callgrind counts user-mode instructions, and
		a cached token adds no system call, only user-mode work.

		$(table_d)

		$(ratios_d)
	EOF
}

# ---------------------------------------------------------------- Part P

# part_p: the policy micro-benchmark, on CPU0 like the servers; its tables go to $TMP.
part_p() {
	if [[ ! -x $POLICY_BENCH_BIN ]]; then
		P_FAIL="${POLICY_BENCH_BIN#$ROOT/} not built (cmake --build --preset release --target policy_bench)"
		log "Part P: $P_FAIL"
		return 1
	fi
	log "Part P: policy_bench (realistic mix, ~2 min)"
	if ! "${SRV_PIN[@]}" "$POLICY_BENCH_BIN" >"$TMP/policy-mix.md" 2>"$TMP/policy-mix.log"; then
		P_FAIL="policy_bench failed: $(tail -1 "$TMP/policy-mix.log")"
		log "Part P: $P_FAIL"
		return 1
	fi
	log "Part P: policy_bench --literal-only"
	"${SRV_PIN[@]}" "$POLICY_BENCH_BIN" --literal-only >"$TMP/policy-literal.md" 2>"$TMP/policy-literal.log" ||
		echo "n/a ($(tail -1 "$TMP/policy-literal.log"))" >"$TMP/policy-literal.md"
}

part_p_report() {
	[[ $PARTS == *P* ]] || return 0
	cat <<-EOF

		## Policy cost per call

		In process, no network: \`build/release/policy_bench\` (bench/policy_bench.c)$([[ $PIN = 1 ]] && echo ' pinned to CPU0'). Each policy
		is a full config (8 upstreams) loaded with gh_config_load_file (rules past the first 1,000 in \`include:\`
		files) and compiled with gh_policy_compile. Rule mix: ~70% allow rules naming 1-4 literal tools on one
		upstream for one or two groups, ~15% allow rules with a tool glob, ~10% deny rules (literal tools for a
		group, a tool glob on an upstream, or no targets for a \`suspended\` group), ~5% allow rules with argument
		constraints (enum, prefix, regex, path_under, integer min/max, some \`additional_arguments: false\`).
		100,000 actions drawn up front, each a parsed JSON-RPC message with its own subject (1-4 groups): ~40%
		calls an allow rule admits, ~10% argument-checked calls, ~20% random tools on random upstreams, ~10%
		unknown or invalid names, ~5% glob-named tools, ~5% resources/read, ~5% prompts/get, ~5% other methods.
		ns/call = process CPU time (CLOCK_PROCESS_CPUTIME_ID) over the array / 100,000, median of 7 passes; "hot"
		cycles the first 1,024 actions (a gateway evaluates a request it has just parsed, so its data is in
		cache: the 100k column adds ~200-300 ns of cache misses on the benchmark's own 100k-action array,
		visible at 10 rules). listable: gh_policy_listable per list entry over the same actions. filter: one
		gh_policy_filter_list of a 50-tool tools/list answer (~17 KB) for one of 64 subjects, parse + checks +
		rebuild. Instructions: perf_event_open, user space (n/a where the machine exposes no PMU).

		$(if [[ -n $P_FAIL ]]; then echo "n/a: $P_FAIL"; else cat "$TMP/policy-mix.md"; fi)

		$(policy_verdict "$TMP/policy-mix.md" "realistic mix")

		Same, literal tool names only (\`policy_bench --literal-only\`: glob allow rules become literal allow rules,
		every deny rule names literal tools for a group):

		$(if [[ -n $P_FAIL ]]; then echo "n/a"; else cat "$TMP/policy-literal.md"; fi)

		$(policy_verdict "$TMP/policy-literal.md" "literal names only")
	EOF
}

# policy_verdict TABLE LABEL: the 1,000-rule row against the target (< 1 µs per evaluation).
policy_verdict() {
	[[ -z $P_FAIL && -s $1 ]] || return 0
	awk -F'|' -v label="$2" '$2 + 0 == 1000 {
		v = ($4 + 0 < 1000 && $6 + 0 < 1000) ? "PASS" : "FAIL"
		printf "- **%s, 1,000 rules: %d ns per evaluation (100k actions), %d ns (hot)**; target well under 1 µs: **%s**\n", label, $4, $6, v
	}' "$1"
}

# ---------------------------------------------------------------- main

if [[ $PARTS == *[ABCD]* ]]; then
	for tool in wrk curl taskset ss "$NGINX"; do
		command -v "$tool" >/dev/null || { log "missing $tool (apt-get install wrk curl util-linux iproute2 nginx-light)"; exit 1; }
	done
fi
log "temp dir $TMP; parts $PARTS; Part A ${SECS}s x -c$CONNS, Parts B/C ${NODE_SECS}s x -c$NODE_CONNS, warm-up ${WARM}s"
[[ $PARTS == *A* ]] && part_a
[[ $PARTS == *B* ]] && part_b
[[ $PARTS == *C* ]] && part_c
[[ $PARTS == *D* ]] && part_d
[[ $PARTS == *P* ]] && part_p
REPORT=$(report)
echo
printf '%s\n' "$REPORT"
if [[ $OUT != - ]]; then
	mkdir -p "$(dirname "$OUT")"
	printf '%s\n' "$REPORT" >"$OUT"
	log "wrote ${OUT#$ROOT/}"
fi
