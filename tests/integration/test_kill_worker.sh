#!/usr/bin/env bash
# kill -9 of a busy worker, 20 times over a run, a new worker started each time:
# nothing lost, nothing committed twice, and every orphaned job leased again within
# 4 s of the kill (default heartbeat 1 s, liveness 3). Re-dispatch is measured from
# the kill to the job's next lease (jobs.leased_at, polled every 0.1 s).
#
# A job can be orphaned more than once, so the attempt cap is raised for this run
# (--max-attempts) to keep a rare triple orphan from failing the job.
. "$(dirname "$0")/lib.sh"

N=1800          # probe jobs, 30 ms each: ~27 s of work for 2 workers
KILLS=20
EVERY_MS=900
LIMIT_MS=4000

start_daemon --max-attempts 50
slot=()
start_worker w0; slot[0]=$LAST_PID
start_worker w1; slot[1]=$LAST_PID
wait_for 10 has_workers 2
ctl "{\"op\":\"enqueue_probe\",\"n\":$N,\"sleep_ms\":30}" >/dev/null

declare -A pend_kill=()    # orphaned job id -> ms of the kill that orphaned it
declare -A pend_worker=()  # orphaned job id -> store id of the killed worker
declare -A victims=()      # store id of a killed worker -> ms of its kill
lat_max=0; lat_sum=0; orphans=0

worker_id() { sql "SELECT id FROM workers WHERE name = '$(worker_name "$1")'"; }

# Record re-leases: an orphan is re-dispatched once its lease belongs to another
# worker and was granted after the kill.
resolve() {
	(( ${#pend_kill[@]} )) || return 0
	local ids; ids=$(IFS=,; echo "${!pend_kill[*]}")
	while IFS='|' read -r id leased_at worker; do
		[[ -n $id && -n $leased_at && -n $worker ]] || continue
		if [[ $worker != "${pend_worker[$id]}" ]] && (( leased_at > pend_kill[$id] )); then
			local lat=$(( leased_at - pend_kill[$id] ))
			(( lat > lat_max )) && lat_max=$lat
			lat_sum=$(( lat_sum + lat )); orphans=$(( orphans + 1 ))
			unset "pend_kill[$id]" "pend_worker[$id]"
		fi
	done < <(sql "SELECT id, leased_at, worker FROM jobs WHERE id IN ($ids)")
}

# Leases still held by killed workers (recent kills) are orphans, including any
# granted in the moment between the kill and the daemon noticing.
capture() {
	local wid
	for wid in "${!victims[@]}"; do
		if (( $(now_ms) - victims[$wid] > 6000 )); then unset "victims[$wid]"; continue; fi
		while read -r id; do
			[[ -n $id && -z ${pend_kill[$id]:-} ]] || continue
			pend_kill[$id]=${victims[$wid]}; pend_worker[$id]=$wid
		done < <(sql "SELECT id FROM jobs WHERE state = 'leased' AND worker = $wid")
	done
}

kills=0; next_kill=$(( $(now_ms) + EVERY_MS )); i=0
while (( kills < KILLS )); do
	resolve; capture
	if (( $(now_ms) >= next_kill )); then
		pid=${slot[$i]}; wid=$(worker_id "$pid")
		busy=$( [[ -n $wid ]] && sql "SELECT count(*) FROM jobs WHERE state = 'leased' AND worker = $wid" || echo 0)
		if (( busy > 0 )); then
			t=$(now_ms); kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
			victims[$wid]=$t; kills=$(( kills + 1 ))
			resolve; capture
			start_worker "w$i.$kills"; slot[$i]=$LAST_PID
			next_kill=$(( t + EVERY_MS ))
		fi
		i=$(( 1 - i ))
	fi
	[[ $(count queued) != 0 ]] || fail "ran out of work after $kills kills: raise N"
	sleep 0.1
done
log "$kills workers killed; waiting for the last orphans and the rest of the jobs"

deadline=$(( $(now_ms) + 60000 ))
until all_done "$N"; do
	resolve; capture
	(( $(now_ms) < deadline )) || fail "jobs did not finish: $(ctl '{"op":"counts"}')"
	sleep 0.1
done
resolve
(( ${#pend_kill[@]} == 0 )) || fail "orphans never re-dispatched: ${!pend_kill[*]}"
(( orphans >= KILLS )) || fail "only $orphans orphaned jobs seen for $KILLS kills"
log "re-dispatch after kill -9: $orphans orphaned jobs, max $lat_max ms, mean $(( lat_sum / orphans )) ms (limit $LIMIT_MS)"
(( lat_max <= LIMIT_MS )) || fail "an orphaned job waited $lat_max ms (> $LIMIT_MS) to be leased again"

[[ $(count failed) == 0 ]] || fail "jobs failed: $(sql "SELECT id, error FROM jobs WHERE state = 'failed'")"
check_results "$N"
[[ $(counter workers_lost) == "$KILLS" ]] || fail "workers_lost is $(counter workers_lost), expected $KILLS"
log "requeued $(counter jobs_requeued), stale $(counter results_stale), max attempts used $(sql "SELECT max(attempt) FROM jobs")"
log "ok"
