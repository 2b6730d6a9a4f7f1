#!/usr/bin/env bash
# Recorder benchmarks (issue 4), not timed tests: playback throughput of ~1 GB against `cat` of the
# same segment files (ratio), ingest throughput (new records, then the same records again, which
# are all duplicates), and the agent's peak memory (VmHWM) while ingesting and while streaming.
#
#   bash recorder/bench/recorder.sh            # 1 GiB
#   SIZE_MB=256 bash recorder/bench/recorder.sh
#
# Uses the release build in ${CARGO_TARGET_DIR:-target}. Everything runs on 127.0.0.1 and in a
# temporary directory that is removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SIZE_MB=${SIZE_MB:-1024}
RECORD_BYTES=${RECORD_BYTES:-25000} # a 2 Mbit/s, 10 fps video frame
CHUNKS=8
WORK=$(mktemp -d "${TMPDIR:-/tmp}/standby-recorder-bench.XXXXXX")
PID=""

cleanup() {
  if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --quiet --release -p recorder --bin standby-recorder --example make-records)
BIN=$TARGET/release/standby-recorder
GEN=$TARGET/release/examples/make-records

start_agent() {
  "$BIN" --listen 127.0.0.1:0 --data-dir "$WORK/data" --name fo-1 --kind failover \
    --retention-max-bytes 0 >"$WORK/stdout" 2>>"$WORK/agent.log" &
  PID=$!
  for _ in $(seq 1 600); do
    if grep -q "listening on" "$WORK/stdout" 2>/dev/null; then break; fi
    sleep 0.1
  done
  BASE="$(sed -n 's/^standby-recorder listening on //p' "$WORK/stdout")/api/v1"
  [[ "$BASE" == http* ]] || { echo "agent did not start"; cat "$WORK/agent.log"; exit 1; }
}

stop_agent() {
  kill -TERM "$PID"
  wait "$PID" || true
  PID=""
}

hwm_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }
now() { date +%s.%N; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }

Y2001=978307200000000
TOTAL=$((SIZE_MB * 1048576))
PER_CHUNK=$((TOTAL / CHUNKS / (RECORD_BYTES + 32)))
STEP=100000 # 10 fps

echo "== generating $CHUNKS x $PER_CHUNK records of $RECORD_BYTES bytes"
for c in $(seq 0 $((CHUNKS - 1))); do
  "$GEN" fo-1 $((Y2001 + c * PER_CHUNK * STEP)) "$PER_CHUNK" "$RECORD_BYTES" "$STEP" >"$WORK/chunk-$c.bin"
done
BYTES=$(cat "$WORK"/chunk-*.bin | wc -c)

start_agent
# The channel comes into being by acting for a recorder that has it, then stopping.
curl -sf -X PUT -H 'content-type: application/json' "$BASE/acting" \
  -d '{"recorder":"rec-1","settings":{"channels":[{"id":"video-1","kind":"video","bitrate_kbps":8,"frame_rate":1}]}}' >/dev/null
curl -sf -X DELETE "$BASE/acting" >/dev/null

ingest_all() {
  for c in $(seq 0 $((CHUNKS - 1))); do
    curl -sf -X POST -T "$WORK/chunk-$c.bin" -H 'content-type: application/vnd.standby.records' \
      "$BASE/channels/video-1/records" >"$WORK/ingest-$c.json"
  done
}
echo "== ingest"
t0=$(now); ingest_all; t1=$(now)
INGEST_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
t0=$(now); ingest_all; t1=$(now)
REINGEST_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
grep -q '"stored":0' "$WORK/ingest-0.json" || { echo "re-ingest stored records"; exit 1; }
INGEST_HWM=$(hwm_mb)
stop_agent

FROM=2001-01-01T00:00:00Z
TO=2001-02-01T00:00:00Z
start_agent # a fresh process, so VmHWM is the playback's alone
echo "== playback"
curl -sf "$BASE/channels/video-1/playback?from=$FROM&to=$TO" -o /dev/null # warm the page cache
# Best of three runs each, as the machine may be shared with builds.
best() { awk 'NR == 1 || $1 < m { m = $1 } END { print m }'; }
PLAY_S=$(for _ in 1 2 3; do
  t0=$(now)
  PLAYED=$(curl -sf "$BASE/channels/video-1/playback?from=$FROM&to=$TO" -o /dev/null -w '%{size_download}')
  t1=$(now)
  echo "$PLAYED" >"$WORK/played"
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
done | best)
PLAYED=$(cat "$WORK/played")
PLAY_HWM=$(hwm_mb)
DIGEST=$(curl -sf "$BASE/channels/video-1/digest?from=$FROM&to=$TO")

echo "== cat of the same segment files"
SEGMENTS=("$WORK"/data/archive/video-1/*.rec)
cat "${SEGMENTS[@]}" >/dev/null
CATTED=$(cat "${SEGMENTS[@]}" | wc -c)
CAT_S=$(for _ in 1 2 3; do
  t0=$(now); cat "${SEGMENTS[@]}" | wc -c >/dev/null; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
done | best)
# For reference: the same bytes through loopback TCP without HTTP (needs socat).
TCP_S=""
if command -v socat >/dev/null; then
  TCP_S=$(for _ in 1 2 3; do
    port=$((20000 + RANDOM % 20000))
    socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" - >/dev/null &
    sink=$!
    sleep 0.3
    t0=$(now); cat "${SEGMENTS[@]}" | socat -u - "TCP:127.0.0.1:$port"; wait "$sink"; t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
  done | best)
fi
stop_agent

PLAY_RATE=$(rate "$PLAYED" "$PLAY_S")
CAT_RATE=$(rate "$CATTED" "$CAT_S")
echo
echo "records: $((PER_CHUNK * CHUNKS)) x $RECORD_BYTES B in $CHUNKS ingests ($(rate "$BYTES" 1) MiB)"
echo "digest:  $DIGEST"
echo "ingest (new records):        $(rate "$BYTES" "$INGEST_S") MiB/s  (${INGEST_S}s)"
echo "ingest (all duplicates):     $(rate "$BYTES" "$REINGEST_S") MiB/s  (${REINGEST_S}s)"
echo "peak memory, both ingests:   ${INGEST_HWM} MiB (VmHWM)"
echo "playback over HTTP (warm):   $PLAY_RATE MiB/s best of 3  ($PLAYED bytes in ${PLAY_S}s)"
echo "cat of the segments (warm):  $CAT_RATE MiB/s best of 3  ($CATTED bytes in ${CAT_S}s)"
if [[ -n "$TCP_S" ]]; then
  echo "cat | socat over loopback:   $(rate "$CATTED" "$TCP_S") MiB/s best of 3 (the transport alone)"
fi
echo "playback / cat:              $(awk -v p="$PLAY_RATE" -v c="$CAT_RATE" 'BEGIN { printf "%.2f", p / c }')"
echo "peak memory, streaming:      ${PLAY_HWM} MiB (VmHWM of a fresh agent after four full playbacks)"
