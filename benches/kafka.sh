#!/usr/bin/env bash
# Through Kafka, in one run on one tansu broker (SQLite storage, or TANSU_STORAGE, such as
# memory://tansu/):
#   1. publish a simulated world (fangpin simulate --to-kafka);
#   2. drain every contract topic with a plain librdkafka consumer (benches/drain.py);
#   3. consume the same topics with fangpin to its queues (run --stop-at-end);
#   4. start fangpin again in the same group: it restores every household from the changelog.
# Usage: benches/kafka.sh [HOUSEHOLDS]   (default 100000, the default Xiaogan)
# Needs tansu (scripts/test.sh installs it) and confluent-kafka (pip).
set -euo pipefail
cd "$(dirname "$0")/.."
households=${1:-100000}
python3 -c "import confluent_kafka" 2>/dev/null || python3 -m pip install --quiet confluent-kafka==2.16.1
cargo build --features kafka --quiet
bin=target/debug/fangpin
tansu=$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
brokers=127.0.0.1:$port
(cd "$work" && exec "$tansu" broker --listener-url tcp://$brokers --advertised-listener-url tcp://$brokers \
  --storage-engine "${TANSU_STORAGE:-sqlite://tansu.db}" >broker.log 2>&1) &
broker=$!
trap 'kill $broker 2>/dev/null; rm -rf "$work"' EXIT
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do sleep 0.2; done
export RUST_BACKTRACE=0 FANGPIN_PSEUDONYM_KEY=${FANGPIN_PSEUDONYM_KEY:-00112233445566778899aabbccddeeff} RUST_LOG=warn

echo "== publish $households households to $brokers"
$bin simulate --households "$households" --out "$work/world" --to-kafka "$brokers" --config benches/kafka.toml | tail -1
echo "== plain librdkafka consumer (confluent-kafka), draining every topic"
drain=$(python3 benches/drain.py "$brokers")
echo "$drain"
echo "== fangpin, consume to queues"
start=$(date +%s.%N)
$bin run --config benches/kafka.toml --brokers "$brokers" --stop-at-end > "$work/run.txt" 2> "$work/run.err" \
  || { tail -20 "$work/run.err"; exit 1; }
end=$(date +%s.%N)
grep -E "^records read|assigned" "$work/run.txt"
echo "== fangpin again in the same group: restore from the changelog"
$bin run --config benches/kafka.toml --brokers "$brokers" --stop-at-end 2>&1 | grep "assigned: restored" | head -1
python3 - "$drain" "$work/run.txt" "$start" "$end" <<'PY'
import json, re, sys
drain = json.loads(sys.argv[1])
text = open(sys.argv[2]).read()
records = int(re.search(r"records read: (\d+)", text).group(1))
wall = float(sys.argv[4]) - float(sys.argv[3])
rate = records / wall
print(f"fangpin: {records} records in {wall:.1f} s wall (start to stop, group join included) = {rate:.0f} records/s")
print(f"ratio fangpin / plain consumer: {rate / drain['records_per_second']:.2f}")
PY
