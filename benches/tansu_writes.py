"""How fast a broker acknowledges changelog-sized writes, on a plain and a compacted topic.

    python3 benches/tansu_writes.py BROKERS [MESSAGES]     (default 20000)

It runs against an empty broker, for example
`tansu broker --listener-url tcp://127.0.0.1:39111 --advertised-listener-url tcp://127.0.0.1:39111
--storage-engine sqlite://tansu.db`. It uses fangpin's producer settings (idempotent,
acks=all, lz4, linger.ms=20) and 700-byte values, about a checkpoint's size, sent twice to each
topic. This separates the broker's write rate from the default world's stall through tansu
(BENCHMARKS.md). Needs confluent-kafka (benches/kafka.sh installs it).
"""
import os
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

brokers = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
admin = AdminClient({"bootstrap.servers": brokers})
created = admin.create_topics([
    NewTopic("bench-plain", 4, 1),
    NewTopic("bench-compacted", 4, 1, config={"cleanup.policy": "compact"}),
])
for f in created.values():
    f.result()
payload = os.urandom(700)
for topic in ["bench-plain", "bench-compacted"] * 2:
    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 20, "compression.type": "lz4"})
    start = time.time()
    for i in range(n):
        while True:
            try:
                p.produce(topic, key=f"household-{i % 50000}".encode(), value=payload)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(300)
    took = time.time() - start
    print(f"{topic}: {n} messages of 700 B acknowledged in {took:.1f} s = {n / took:.0f}/s ({left} left)", flush=True)
