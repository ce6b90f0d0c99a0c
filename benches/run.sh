#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md in one run, each figure beside its reference and the ratio.
# The machines are shared and noisy: compare the ratios of one run, not figures across runs.
#
#   benches/run.sh [HOUSEHOLDS]        (default 100000, the default Xiaogan)
#
# 1. embedded end to end (`run --from-dir --measure-state`), with the time by stage, the peak
#    memory, the state as checkpoints (bytes per household, plain and lz4-compressed as the
#    changelog carries them) and an in-process restore of it;
# 2. the same files parsed only (`run --parse-only`): the practical upper bound;
# 3. DuckDB computing the same indicators from the same files (benches/duckdb_indicators.py);
# 4. latency: records arriving at a steady 10,000 records/s (`run --rate 10000`) on a world of
#    HOUSEHOLDS/5 households, so that it covers a whole year in about a minute;
# 5. through Kafka (tansu): benches/kafka.sh on KAFKA_HOUSEHOLDS (default 5000; the default
#    world does not get through tansu here, see BENCHMARKS.md). KAFKA=0 skips it.
# The Criterion micro-benchmarks are a separate command:
#   cargo bench -p fangpin-pipelines --bench hot_paths --profile dev
set -euo pipefail
cd "$(dirname "$0")/.."
households=${1:-100000}
latency_households=$((households / 5))
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb==2.0.1
cargo build --features kafka --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The binary is copied so that a build during the run cannot change it under the benchmark.
bin=$work/fangpin
cp target/debug/fangpin "$bin"
export RUST_BACKTRACE=0 FANGPIN_PSEUDONYM_KEY=${FANGPIN_PSEUDONYM_KEY:-00112233445566778899aabbccddeeff}

echo "== simulate $households households (and $latency_households for the latency run)"
"$bin" simulate --households "$households" --out "$work/world" >/dev/null
"$bin" simulate --households "$latency_households" --seed 7 --out "$work/latency-world" >/dev/null

echo "== embedded end to end, with the state measured"
"$bin" run --from-dir "$work/world" --out "$work/queues" --measure-state >"$work/embedded.txt" 2>/dev/null
grep -E "^records read|^time by stage|^state:" "$work/embedded.txt"

echo "== parse only"
"$bin" run --from-dir "$work/world" --parse-only | tee "$work/parse.txt"

echo "== DuckDB, same indicators from the same files"
python3 benches/duckdb_indicators.py "$work/world" --json | tee "$work/duckdb.json"

echo "== latency at a steady 10,000 records/s ($latency_households households)"
"$bin" run --from-dir "$work/latency-world" --out "$work/latency-queues" --rate 10000 \
  >"$work/latency.txt" 2>/dev/null
grep -E "^paced" "$work/latency.txt"

if [ "${KAFKA:-1}" != 0 ]; then
  echo "== through Kafka (tansu), ${KAFKA_HOUSEHOLDS:-5000} households"
  benches/kafka.sh "${KAFKA_HOUSEHOLDS:-5000}" | tee "$work/kafka.txt"
else
  : >"$work/kafka.txt"
fi

python3 - "$work" <<'PY'
import json, re, sys
from pathlib import Path
work = Path(sys.argv[1])
def text(name): return (work / name).read_text()
def find(pattern, name, cast=float):
    m = re.search(pattern, text(name))
    return cast(m.group(1)) if m else None

embedded = find(r"records read: \d+ in [\d.]+ s \((\d+) records/s\)", "embedded.txt")
wall = find(r"records read: \d+ in ([\d.]+) s", "embedded.txt")
parse = find(r"\((\d+) records/s\), nothing kept", "parse.txt")
duck = json.loads(text("duckdb.json"))
duck_rate = duck.get("records_per_second")
rss_mb = find(r"peak memory of the replay (\d+) MiB", "embedded.txt")
state_bytes = find(r"\((\d+) bytes per household, ", "embedded.txt")
state_lz4 = find(r"bytes per household, (\d+) with lz4 one by one", "embedded.txt")
state_carried = find(r"one by one, (\d+) as the changelog producer's lz4 batches carry them", "embedded.txt")
restore = find(r"restored them in ([\d.]+) s", "embedded.txt")
households = find(r"state: (\d+) households", "embedded.txt")
p50 = find(r"p50 (\d+) ms", "latency.txt")
p99 = find(r"p99 (\d+) ms", "latency.txt")
kafka_ratio = find(r"ratio fangpin / plain consumer: ([\d.]+)", "kafka.txt")
kafka_rate = find(r"= (\d+) records/s", "kafka.txt")
drain = find(r'"records_per_second": ([\d.]+)', "kafka.txt")

# Targets from issue 11.
rows = [
    ("embedded end to end", f"{embedded:,.0f} records/s ({wall:.1f} s)", "DuckDB, same indicators", f"{duck_rate:,.0f} records/s", embedded / duck_rate, ">= 1.0"),
    ("embedded end to end", f"{embedded:,.0f} records/s", "parse only", f"{parse:,.0f} records/s", embedded / parse, ">= 0.5"),
    ("p99 alert latency at 10,000 records/s", f"{p99:,.0f} ms (p50 {p50:,.0f} ms)", "target", "250 ms", p99 / 250, "<= 1.0"),
    ("state per household (checkpoint, postcard)", f"{state_bytes:,.0f} bytes", "target", "512 bytes", state_bytes / 512, "<= 1.0"),
    ("state per household (checkpoint, lz4 alone)", f"{state_lz4:,.0f} bytes", "target", "512 bytes", state_lz4 / 512, "<= 1.0"),
    ("state per household (as the changelog carries it)", f"{state_carried:,.0f} bytes", "target", "512 bytes", state_carried / 512, "<= 1.0"),
    (f"restore of {households:,.0f} households, in process", f"{restore:.2f} s", "target for 100,000", "3 s", restore / 3 * 100_000 / households, "<= 1.0"),
    ("peak memory, embedded run", f"{rss_mb:,.0f} MiB ({rss_mb * 2**20 / households:,.0f} B a household)", "target", "1,024 MiB", rss_mb / 1024, "<= 1.0"),
]
if kafka_ratio is not None:
    rows.append(("through tansu, fangpin", f"{kafka_rate:,.0f} records/s", "plain librdkafka consumer", f"{drain:,.0f} records/s", kafka_ratio, ">= 0.8"))
print()
print(f"{'figure':50} {'value':28} {'reference':28} {'ref. value':18} {'ratio':>6}  target")
for what, value, ref, ref_value, ratio, target in rows:
    r = f"{ratio:.2f}" if ratio is not None else ""
    print(f"{what:50} {value:28} {ref:28} {ref_value:18} {r:>6}  {target}")
PY
