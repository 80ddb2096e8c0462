#!/usr/bin/env bash
# r1flowd --http (daemon/http.h, docs/dashboard.md) against a live daemon running a
# tiny pipeline (pretrain, GRPO, an eval on an imported dataset whose prompts hold
# '<script>'), with two event streams open the whole time (so every other request
# is also answered while streams are held):
#   - usage: a non-loopback --http without a token file, a bad address, a token file
#     without --http are refused (exit 2); a short token exits 1; port 0 is written
#     to DATA/http.addr
#   - /api/OP returns exactly the control op's JSON (ok and error replies, their
#     HTTP status), application/json with nosniff; only read-only ops (404 for
#     shutdown, submit, ...); 404 for unknown paths (JSON even for a path that is not
#     UTF-8), 405 for other methods; a Host that is not loopback gets 403; a second
#     request reuses the connection; samples' offset pages through a step
#   - / and /static/NAME are the web/ files byte for byte, with their Content-Type,
#     the CSP and nosniff; an ETag revalidates to 304
#   - /api/events delivers the pipeline's events (stage_started, pipeline_succeeded)
#     as `data: {json}` lines; ?pipeline=1 only pipeline 1's
#   - /metrics passes tests/ref/prom_parse.py (strict) during and after the run, its
#     counters equal the status op's, jobs by state add up to status', stages show
#     progress 1 and the headline metric of the metrics op
#   - with --http-token-file: 401 without the token or with a wrong one; the Bearer
#     header, ?token= (which sets the cookie) and the cookie get in
#   - [::1]:0 serves (where the machine has IPv6 loopback)
#   - SIGTERM with streams open: the daemon stops with 0, the streams end,
#     http.addr is removed
#   - r1flow run --http prints the dashboard's address
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PROM=$SRC/tests/ref/prom_parse.py
command -v curl >/dev/null || fail "curl is not installed (scripts/deps.sh)"
/usr/bin/python3 "$PROM" --self-test >/dev/null || fail "prom_parse.py's self-test failed"

r1() { R1FLOW_DATA=$DATA "$R1FLOW_CLI" "$@"; }
# get PATH [CURL-ARGS]: body in $T/body, headers in $T/head, status in $CODE
get() {
	local path=$1; shift
	CODE=$(curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' "$@" "$U$path") || CODE=000
}
header() { sed -n "s/^$1: \(.*\)\r$/\1/Ip" "$T/head"; }
# same JSON (python equality), ignoring the keys named in $3... at any depth
same_json() {
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
def strip(v, drop):
    if isinstance(v, dict):
        return {k: strip(x, drop) for k, x in v.items() if k not in drop}
    if isinstance(v, list):
        return [strip(x, drop) for x in v]
    return v
a, b = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
sys.exit(0 if strip(a, sys.argv[3:]) == strip(b, sys.argv[3:]) else 1)
PY
}
# api QUERY 'REQUEST' STATUS [VOLATILE KEYS]: /api/QUERY equals the op's reply
api() {
	local query=$1 request=$2 status=$3; shift 3
	get "/api/$query"
	[[ $CODE == "$status" ]] || fail "/api/$query: HTTP $CODE, expected $status: $(cat "$T/body")"
	[[ $(header Content-Type) == "application/json; charset=utf-8" ]] ||
		fail "/api/$query: Content-Type '$(header Content-Type)'"
	[[ $(header X-Content-Type-Options) == nosniff ]] || fail "/api/$query: no nosniff"
	local reply
	reply=$(ctl "$request") || true
	same_json "$T/body" "$reply" "$@" ||
		fail "/api/$query differs from $request: $(cat "$T/body") vs $reply"
}

# --- usage: nothing starts
for args in "--http 0.0.0.0:0" "--http 10.1.2.3:7480" "--http 127.0.0.1" "--http localhost:65536" \
	"--http example.org:80" "--http-token-file $T/tok"; do
	RC=0; "$R1FLOWD" --data "$T/u" $args >"$T/out" 2>&1 || RC=$?
	[[ $RC == 2 ]] || fail "r1flowd $args exited $RC, expected 2: $(cat "$T/out")"
done
RC=0; "$R1FLOWD" --data "$T/u" --http 0.0.0.0:0 >"$T/out" 2>&1 || RC=$?
grep -q "not a loopback address.*--http-token-file" "$T/out" ||
	fail "a non-loopback --http without a token is not explained"
echo short >"$T/short"
RC=0; "$R1FLOWD" --data "$T/u" --http 127.0.0.1:0 --http-token-file "$T/short" >"$T/out" 2>&1 || RC=$?
[[ $RC == 1 ]] && grep -q "must hold 16 to 256 characters" "$T/out" ||
	fail "a short token: exit $RC: $(cat "$T/out")"

# --- the daemon, its address, two event streams
start_daemon --http 127.0.0.1:0
wait_for 10 test -s "$DATA/http.addr"
ADDR=$(cat "$DATA/http.addr")
[[ $ADDR =~ ^127\.0\.0\.1:[0-9]+$ && $ADDR != 127.0.0.1:0 ]] || fail "http.addr holds '$ADDR'"
U=http://$ADDR
curl -sN "$U/api/events" >"$T/sse_all" 2>&1 &
SSE_ALL=$!; PIDS+=("$SSE_ALL")
curl -sN "$U/api/events?pipeline=1" >"$T/sse_one" 2>&1 &
SSE_ONE=$!; PIDS+=("$SSE_ONE")
wait_for 10 grep -q "r1flow events" "$T/sse_all"
wait_for 10 grep -q "r1flow events" "$T/sse_one"

printf '%s\n' '{"prompt": "<script>alert(1)</script> 1+1=", "answer": "2"}' \
	'{"prompt": "</pre><img src=x onerror=alert(2)> 2+2=", "answer": "4"}' >"$T/evil.jsonl"
r1 dataset import --name evil "$T/evil.jsonl" >/dev/null || fail "dataset import refused"
cat >"$T/tiny.yaml" <<'YAML'
version: 1
name: tiny
seed: 3
model:
  config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 64}
datasets:
  corpus:  {generate: arithmetic, digits: 1, style: corpus, count: 64}
  prompts: {generate: arithmetic, digits: 1, style: problem, count: 16, seed: 3}
  test:    {shared: evil}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 8, buffer: 8}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 3, batch: 8}
  - {name: zero, kind: grpo, from: base, prompts: prompts, rewards: [acc, len], group: 2,
     prompts_per_step: 2, steps: 2, max_new_tokens: 8, shard: 4}
  - {name: check, kind: eval, from: zero, dataset: test, samples: 1, max_new_tokens: 8}
YAML
start_worker w1 --name w1 --threads 1
wait_for 10 has_workers 1
ID=$(r1 submit "$T/tiny.yaml") || fail "submit refused"
[[ $ID == 1 ]] || fail "the pipeline is $ID, expected 1"

# /metrics while it runs
get /metrics
[[ $CODE == 200 ]] || fail "/metrics: HTTP $CODE: $(cat "$T/body")"
[[ $(header Content-Type) == "text/plain; version=0.0.4; charset=utf-8" ]] ||
	fail "/metrics: Content-Type '$(header Content-Type)'"
/usr/bin/python3 "$PROM" "$T/body" >/dev/null || fail "/metrics during the run is malformed"

state() { ctl "{\"op\":\"pipeline\",\"id\":$ID}" | jq_ 'd["pipeline"]["state"]'; }
done_() { [[ $(state) == succeeded ]]; }
wait_for 100 done_

# --- the API is the control ops
api pipelines '{"op":"pipelines"}' 200
api "pipeline?id=1" '{"op":"pipeline","id":1}' 200
api "metrics?id=1&stage=zero" '{"op":"metrics","id":1,"stage":"zero"}' 200
api "report?id=1" '{"op":"report","id":1}' 200
api "samples?id=1&stage=zero&step=1&limit=3" '{"op":"samples","id":1,"stage":"zero","step":1,"limit":3}' 200
api "samples?id=1&stage=zero&step=2&offset=1&limit=2" '{"op":"samples","id":1,"stage":"zero","step":2,"offset":1,"limit":2}' 200
cp "$T/body" "$T/page.json"
get "/api/samples?id=1&stage=zero&step=2"
/usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["samples"]; p=json.load(open(sys.argv[2]))["samples"]; assert len(a) == 4 and p == a[1:3], (len(a), p)' "$T/body" "$T/page.json" ||
	fail "samples offset 1 limit 2 is not the 2nd and 3rd of the step's 4"
api "logs?id=1&after=0&limit=5" '{"op":"logs","id":1,"after":0,"limit":5}' 200
api "datasets?id=1" '{"op":"datasets","id":1}' 200
api "dataset_show?name=evil&limit=2" '{"op":"dataset_show","name":"evil","limit":2}' 200
api counters '{"op":"counters"}' 200
api counts '{"op":"counts"}' 200
api status '{"op":"status"}' 200 uptime_ms
api workers '{"op":"workers"}' 200 silent_ms connected_ms
api telemetry '{"op":"telemetry"}' 200 uptime_ms
api "pipeline?id=99" '{"op":"pipeline","id":99}' 404
api "pipeline?id=abc" '{"op":"pipeline","id":"abc"}' 400
api "samples?id=1&stage=nosuch" '{"op":"samples","id":1,"stage":"nosuch"}' 404
# '<script>' in data: only ever inside a JSON string of an application/json answer
get "/api/dataset_show?name=evil&limit=2"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["records"][0]["prompt"] == "<script>alert(1)</script> 1+1=", d' "$T/body" ||
	fail "dataset_show did not return the prompt as it is: $(cat "$T/body")"
[[ $(header Content-Type) == application/json* ]] || fail "dataset_show is not JSON"

get "/api/samples?id=1&stage=%ff"
[[ $CODE == 400 ]] && grep -q "not UTF-8" "$T/body" || fail "a value that is not UTF-8: HTTP $CODE: $(cat "$T/body")"

# --- what is not there
for path in /nope /api/nope /api/shutdown /api/submit /api/pipeline_cancel?id=1 /api/gc /api/blob_read \
	/static/nope.js /static/ /index.html "/static/../daemon/http.c" /metrics/x /%ff%fe; do
	get "$path" --path-as-is
	[[ $CODE == 404 ]] || fail "$path: HTTP $CODE, expected 404"
	[[ $(header Content-Type) == application/json* ]] || fail "$path: a 404 that is not JSON"
done
for m in POST PUT DELETE; do
	for path in / /api/shutdown /metrics; do
		get "$path" -X "$m"
		[[ $CODE == 405 ]] || fail "$m $path: HTTP $CODE, expected 405"
		[[ $(header Allow) == "GET, HEAD" ]] || fail "$m $path: Allow is '$(header Allow)'"
	done
done
get /api/status -H "Host: evil.example:80"
[[ $CODE == 403 ]] || fail "a foreign Host got HTTP $CODE, expected 403"
get /api/status -H "Host: localhost:1"
[[ $CODE == 200 ]] || fail "Host localhost got HTTP $CODE"
# a page's requests in a row share one connection
[[ $(curl -s -o /dev/null -o /dev/null -w '%{num_connects} ' "$U/api/counts" "$U/api/counters") == "1 0 " ]] ||
	fail "a second request on a kept-alive connection opened a new one"
get /api/status -I
[[ $CODE == 200 && $(header Content-Type) == application/json* ]] || fail "HEAD /api/status: HTTP $CODE"

# --- the embedded files
for f in "/ index.html text/html" "/static/index.html index.html text/html" \
	"/static/lib.js lib.js text/javascript" "/static/app.js app.js text/javascript" \
	"/static/style.css style.css text/css"; do
	set -- $f
	get "$1"
	[[ $CODE == 200 ]] || fail "$1: HTTP $CODE"
	cmp -s "$T/body" "$SRC/web/$2" || fail "$1 is not web/$2"
	[[ $(header Content-Type) == "$3; charset=utf-8" ]] || fail "$1: Content-Type '$(header Content-Type)'"
	[[ $(header Content-Security-Policy) == "default-src 'self';"* ]] || fail "$1: CSP '$(header Content-Security-Policy)'"
	[[ $(header X-Content-Type-Options) == nosniff ]] || fail "$1: no nosniff"
	etag=$(header ETag)
	get "$1" -H "If-None-Match: $etag"
	[[ -n $etag && $CODE == 304 ]] || fail "$1 with its ETag $etag: HTTP $CODE, expected 304"
done

# --- the event streams
wait_for 10 grep -q '"type":"pipeline_succeeded"' "$T/sse_all"
wait_for 10 grep -q '"type":"pipeline_succeeded"' "$T/sse_one"
/usr/bin/python3 - "$T/sse_all" "$T/sse_one" <<'PY' || fail "the event streams: see above"
import json, sys
def events(path):
    out = []
    for line in open(path).read().split('\n'):
        if line.startswith('data: '):
            out.append(json.loads(line[6:]))
        elif line and not line.startswith(':') and line != 'retry: 2000':
            sys.exit(f'{path}: a line that is not SSE: {line!r}')
    return out
every, one = events(sys.argv[1]), events(sys.argv[2])
types = [e['type'] for e in every]
for want in ('worker_joined', 'pipeline_succeeded'):
    assert want in types, (want, types)
started = {e['stage'] for e in every if e['type'] == 'stage_started' and e.get('pipeline') == 1}
assert started == {'base', 'zero', 'check'}, started
assert all(e.get('pipeline') == 1 for e in one), [e for e in one if e.get('pipeline') != 1]
assert 'pipeline_succeeded' in [e['type'] for e in one]
PY

# --- /metrics after the run against the status op
get /metrics
cp "$T/body" "$T/metrics.txt"
/usr/bin/python3 "$PROM" "$T/metrics.txt" >"$T/metrics.json" || fail "/metrics after the run is malformed"
ctl '{"op":"status"}' >"$T/status.json"
ctl '{"op":"metrics","id":1,"stage":"base"}' >"$T/base.json"
/usr/bin/python3 - "$T/metrics.json" "$T/status.json" "$T/base.json" <<'PY' || fail "/metrics disagrees with the daemon: see above"
import json, sys
m, st, base = (json.load(open(p)) for p in sys.argv[1:4])
def one(family, /, **labels):
    hits = [s['value'] for s in m.get(family, []) if all(s['labels'].get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (family, labels, m.get(family))
    return hits[0]
for k, v in st['counters'].items():
    assert one(f'r1flow_{k}_total') == v, (k, v, one(f'r1flow_{k}_total'))
for state, n in st['jobs'].items():
    got = sum(s['value'] for s in m['r1flow_jobs'] if s['labels']['state'] == state)
    assert got == n, (state, n, got)
assert one('r1flow_leases') == st['jobs']['leased']
assert one('r1flow_workers_live') == st['workers'] == 1
assert one('r1flow_workers', state='quarantined') == 0
for stage in ('base', 'zero', 'check'):
    assert one('r1flow_stage_progress', pipeline='1', stage=stage) == 1.0, stage
    assert one('r1flow_stage_info', pipeline='1', stage=stage, state='succeeded') == 1
assert one('r1flow_pipeline_info', pipeline='1', name='tiny', state='succeeded') == 1
assert one('r1flow_pipelines', state='succeeded') == 1
loss = base['metrics']['loss'] if isinstance(base.get('metrics'), dict) else None
got = one('r1flow_stage_metric', pipeline='1', stage='base', metric='loss')
if loss is not None:
    last = loss[-1][1] if isinstance(loss[-1], list) else loss[-1]['value']
    assert abs(got - last) <= 1e-6 * max(1, abs(last)), (got, last)
assert one('r1flow_stage_step_seconds', pipeline='1', stage='zero') > 0
assert one('r1flow_stage_step_seconds', pipeline='1', stage='base') > 0
assert one('process_cpu_seconds_total') > 0
assert one('process_resident_memory_bytes') > 1e6
PY

# --- a token
head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n=' >"$T/tok"; echo >>"$T/tok"
TOK=$(head -n 1 "$T/tok")
"$R1FLOWD" --data "$T/d2" --http 127.0.0.1:0 --http-token-file "$T/tok" >>"$T/daemon2.log" 2>&1 &
D2=$!; PIDS+=("$D2")
wait_for 10 test -s "$T/d2/http.addr"
U=http://$(cat "$T/d2/http.addr")
get /api/status
[[ $CODE == 401 && $(header WWW-Authenticate) == Bearer* ]] || fail "no token: HTTP $CODE"
get /api/status -H "Authorization: Bearer ${TOK}x"
[[ $CODE == 401 ]] || fail "a wrong token: HTTP $CODE"
get "/api/status?token=${TOK:1}"
[[ $CODE == 401 ]] || fail "a token's prefix: HTTP $CODE"
get / ; [[ $CODE == 401 ]] || fail "/ without the token: HTTP $CODE"
get /metrics ; [[ $CODE == 401 ]] || fail "/metrics without the token: HTTP $CODE"
get /api/status -H "Authorization: Bearer $TOK"
[[ $CODE == 200 ]] || fail "the Bearer token: HTTP $CODE"
get "/?token=$TOK"
[[ $CODE == 200 && $(header Set-Cookie) == "r1flow_token=$TOK; "*HttpOnly* ]] ||
	fail "?token=: HTTP $CODE, Set-Cookie '$(header Set-Cookie)'"
get /api/pipelines -H "Cookie: r1flow_token=$TOK"
[[ $CODE == 200 ]] || fail "the cookie: HTTP $CODE"
get /metrics -H "Cookie: r1flow_token=$TOK" -H "Host: dashboard.example"
[[ $CODE == 200 ]] || fail "with a token any Host is fine: HTTP $CODE"
stop "$D2"
[[ $STOPPED_RC == 0 ]] || fail "the second r1flowd exited $STOPPED_RC"

# --- IPv6 loopback, where the machine has it
if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
	"$R1FLOWD" --data "$T/d3" --http '[::1]:0' >>"$T/daemon3.log" 2>&1 &
	D3=$!; PIDS+=("$D3")
	wait_for 10 test -s "$T/d3/http.addr"
	[[ $(cat "$T/d3/http.addr") =~ ^\[::1\]:[0-9]+$ ]] || fail "[::1]: http.addr holds '$(cat "$T/d3/http.addr")'"
	U=http://$(cat "$T/d3/http.addr")
	get /api/counts -g
	[[ $CODE == 200 ]] || fail "[::1]: HTTP $CODE"
	stop "$D3"
else
	log "no IPv6 loopback here: [::1] not tried"
fi

# --- SIGTERM with the streams open
stop "$DAEMON"
[[ $STOPPED_RC == 0 ]] || fail "r1flowd exited $STOPPED_RC with streams open"
[[ ! -e $DATA/http.addr ]] || fail "http.addr outlived the daemon"
wait_for 10 bash -c "! kill -0 $SSE_ALL 2>/dev/null && ! kill -0 $SSE_ONE 2>/dev/null"
grep -q '"type":"daemon_stopping"' "$T/sse_all" || fail "the stream did not carry daemon_stopping"

# --- r1flow run --http
printf 'version: 1\nname: p\nseed: 0\nmodel:\n  config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 16}\nstages:\n  - {name: a, kind: probe, jobs: 3}\n' >"$T/probe.yaml"
RC=0; "$R1FLOW_CLI" run "$T/probe.yaml" --workers 1 --data "$T/run" --http 127.0.0.1:0 --plain >"$T/out" 2>&1 || RC=$?
[[ $RC == 0 ]] || fail "run --http exited $RC: $(tail -n 5 "$T/out")"
grep -Eq '^dashboard at http://127\.0\.0\.1:[0-9]+/' "$T/out" || fail "run --http did not say where: $(cat "$T/out")"
echo "ok"
