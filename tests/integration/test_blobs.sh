#!/usr/bin/env bash
# Blob service: a 3 MB blob stored through the control socket is fetched in chunks
# (FETCH/CHUNK) by two workers sharing a cache, verified and cached once; a blob
# the daemon does not have, and one corrupted on the daemon's disk, fail their jobs
# with the reason (the damaged file named), and nothing unverified enters the
# cache; storing the same bytes again writes the damaged file back, also when the
# damage kept its size.
. "$(dirname "$0")/lib.sh"

start_daemon
start_worker w1
start_worker w2
wait_for 10 has_workers 2

head -c 3000001 /dev/urandom >"$T/blob.bin"   # 3 chunks of 1 MiB, the last one short
sha=$(sha256sum "$T/blob.bin" | cut -d' ' -f1)
reply=$("$R1FLOW_CTL" --blob "$T/blob.bin" "$DATA" '{"op":"blob_put"}')
[[ $reply == *"\"sha256\":\"$sha\""* ]] || fail "blob_put replied $reply, expected sha256 $sha"
cmp -s "$T/blob.bin" "$DATA/blobs/$sha" || fail "stored blob differs from the original"

ctl "{\"op\":\"enqueue_probe\",\"n\":20,\"blob\":\"$sha\"}" >/dev/null
wait_for 30 all_done 20
[[ $(sql "SELECT count(*) FROM jobs WHERE json_extract(result, '\$.blob_size') = 3000001") == 20 ]] ||
	fail "not every job saw the whole blob: $(sql "SELECT result FROM jobs LIMIT 3")"
[[ $(sha256sum <"$T/cache/$sha" | cut -d' ' -f1) == "$sha" ]] || fail "cached blob is wrong"
[[ -z $(ls "$T/cache/tmp") ]] || fail "partial files left in the cache: $(ls "$T/cache/tmp")"
fetches=$(grep -h "fetched and verified" "$T"/w*.log | wc -l)
log "fetched and verified: $fetches fetch(es) for 20 jobs"
# the daemon counts the CHUNK bytes it served: every fetch took the whole blob once
(( $(counter blob_bytes_sent) == fetches * 3000001 )) ||
	fail "blob_bytes_sent is $(counter blob_bytes_sent), expected $fetches x 3000001"

# a blob the daemon does not have
missing=$(printf 'f%.0s' {1..64})
ctl "{\"op\":\"enqueue_probe\",\"blob\":\"$missing\",\"max_attempts\":1}" >/dev/null
failed_is() { [[ $(count failed) == "$1" ]]; }   # evaluated on every try of wait_for
wait_for 15 failed_is 1
err=$(sql "SELECT error FROM jobs WHERE state = 'failed'")
[[ $err == *"daemon cannot serve blob"*"no blob"* ]] || fail "unexpected error: $err"

# a blob whose file on the daemon's disk was corrupted after it was stored
head -c 5000 /dev/urandom >"$T/blob2.bin"
sha2=$(sha256sum "$T/blob2.bin" | cut -d' ' -f1)
"$R1FLOW_CTL" --blob "$T/blob2.bin" "$DATA" '{"op":"blob_put"}' >/dev/null
printf 'X' | dd of="$DATA/blobs/$sha2" bs=1 seek=100 conv=notrunc status=none
ctl "{\"op\":\"enqueue_probe\",\"blob\":\"$sha2\",\"max_attempts\":1}" >/dev/null
wait_for 15 failed_is 2
err=$(sql "SELECT error FROM jobs WHERE state = 'failed' ORDER BY id DESC LIMIT 1")
[[ $err == *"blob file '$DATA/blobs/$sha2' is damaged"* ]] || fail "corruption not caught, or the file not named: $err"
[[ ! -e $T/cache/$sha2 ]] || fail "an unverified blob entered the cache"
[[ ! -e $DATA/blobs/$sha2 ]] || fail "the damaged file is still served from the daemon's blobs/"
# the same bytes stored again replace it
"$R1FLOW_CTL" --blob "$T/blob2.bin" "$DATA" '{"op":"blob_put"}' >/dev/null
cmp -s "$T/blob2.bin" "$DATA/blobs/$sha2" || fail "storing the blob again did not write it back"
# a damaged file of the right size is replaced by the next store of its bytes
printf 'X' | dd of="$DATA/blobs/$sha2" bs=1 seek=200 conv=notrunc status=none
"$R1FLOW_CTL" --blob "$T/blob2.bin" "$DATA" '{"op":"blob_put"}' >/dev/null
cmp -s "$T/blob2.bin" "$DATA/blobs/$sha2" || fail "a damaged file of the same size was not rewritten"

# probe jobs answering with result blobs (result_bytes: how bench/cluster.sh models a
# gradient) upload them in pieces; the daemon counts the bytes and keeps each job's file
before=$(counter blob_bytes_received)
ctl '{"op":"enqueue_probe","n":3,"result_bytes":2500000}' >/dev/null
wait_for 30 all_done 23
(( $(counter blob_bytes_received) - before == 3 * 2500000 )) ||
	fail "blob_bytes_received grew by $(( $(counter blob_bytes_received) - before )), expected 3 x 2500000"
[[ $(sql "SELECT count(*) FROM jobs WHERE json_array_length(result, '\$.files') = 1") == 3 ]] ||
	fail "not every result_bytes job kept one result file: $(sql "SELECT result FROM jobs ORDER BY id DESC LIMIT 3")"
log "ok"
