"""The reference for fangpin's Kafka throughput: a plain librdkafka consumer (confluent-kafka)
draining every contract topic from the beginning in batches, doing nothing with the records.

    python3 benches/drain.py BROKERS
Prints one JSON line: records, seconds, records_per_second.
"""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

TOPICS = [
    "dept.rural.roster", "dept.medical.settlements", "dept.hr.employment", "dept.agri.production",
    "dept.civil.assistance", "dept.emergency.disasters", "dept.edu.expenses", "market.prices",
    "weather.observations", "verify.outcomes",
]


def main(brokers):
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"drain-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    metadata = consumer.list_topics(timeout=30)
    total = 0
    for topic in TOPICS:
        for p in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            total += high - low
    consumer.subscribe(TOPICS)
    started = None
    read = 0
    while read < total:
        messages = consumer.consume(num_messages=10_000, timeout=1.0)
        if messages and started is None:
            started = time.monotonic()
        read += sum(1 for m in messages if m.error() is None)
    seconds = time.monotonic() - started
    consumer.close()
    print(json.dumps({"records": read, "seconds": round(seconds, 2), "records_per_second": round(read / seconds)}))


if __name__ == "__main__":
    main(sys.argv[1])
