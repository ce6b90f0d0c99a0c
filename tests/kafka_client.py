"""An independent Kafka client for the tests: kafka-python, a pure-Python implementation of the
protocol that shares no code with librdkafka (which fangpin uses).

    kafka_client.py publish BROKERS DIR [--from F] [--to T] [--malformed]
        Publishes the contract files DIR/<topic>.ndjson, lines [F, T) of each as fractions of
        its line count, keyed as the contracts say (kafka-python's default partitioner is the
        Java clients' murmur2). --malformed first sends one broken record to every topic.
    kafka_client.py publish-queues BROKERS DIR
        Publishes DIR/verify.door_visit.ndjson and DIR/verify.phone.ndjson keyed by township, as
        fangpin's pipeline does (the cadres' service reads them).
    kafka_client.py produce BROKERS TOPIC KEY VALUE
        Sends one message (to damage a topic on purpose).
    kafka_client.py consume BROKERS TOPIC
        Prints every message of TOPIC as a JSON line: key, value (JSON, or text when it is not),
        value_hex (the bytes, when it is not JSON), headers, partition, offset.
    kafka_client.py lag BROKERS GROUP
        Prints the group's total lag over the household topics' partitions, or -1 when it has
        committed nothing yet.
"""

import json
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

TOPICS = [
    "dept.rural.roster",
    "dept.medical.settlements",
    "dept.hr.employment",
    "dept.agri.production",
    "dept.civil.assistance",
    "dept.emergency.disasters",
    "dept.edu.expenses",
    "market.prices",
    "weather.observations",
    "verify.outcomes",
]


def contract_key(topic, line):
    try:
        record = json.loads(line)
        if topic == "market.prices":
            return f"{record['county_code']}:{record['commodity']}"
        if topic == "weather.observations":
            return record["station_id"]
        return record["household_code"]
    except (ValueError, KeyError, TypeError):
        return None


def publish(brokers, directory, start, end, malformed):
    producer = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=20)
    sent = 0
    if malformed:
        for topic in TOPICS:
            producer.send(topic, key=b"broken", value=b'{"household_code": "4209')
            sent += 1
    for topic in TOPICS:
        path = Path(directory) / f"{topic}.ndjson"
        if not path.exists():
            continue
        lines = [l for l in path.read_bytes().split(b"\n") if l.strip()]
        for line in lines[int(len(lines) * start) : int(len(lines) * end)]:
            key = contract_key(topic, line)
            producer.send(topic, key=key.encode() if key else None, value=line)
            sent += 1
    producer.flush()
    producer.close()
    print(sent)


def publish_queues(brokers, directory):
    producer = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=20)
    sent = 0
    for topic in ["verify.door_visit", "verify.phone"]:
        path = Path(directory) / f"{topic}.ndjson"
        for line in [l for l in path.read_bytes().split(b"\n") if l.strip()]:
            producer.send(topic, key=json.loads(line)["township_code"].encode(), value=line)
            sent += 1
    producer.flush()
    producer.close()
    print(sent)


def consume(brokers, topic):
    # Reads up to the end offsets seen at the start, however slowly a busy broker answers (a
    # plain consumer timeout returned nothing when tansu took seconds to serve the first fetch).
    consumer = KafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False, group_id=None)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    ends = consumer.end_offsets(partitions) if partitions else {}
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    remaining = {tp for tp in partitions if ends[tp] > consumer.position(tp)}
    deadline = time.monotonic() + 120
    while remaining:
        if time.monotonic() > deadline:
            sys.exit(f"consume {topic}: partitions {sorted(tp.partition for tp in remaining)} not read to their end in 120 s")
        for tp, messages in consumer.poll(timeout_ms=1000).items():
            for m in messages:
                if m.offset >= ends[tp]:
                    continue
                raw = None
                try:
                    value = None if m.value is None else json.loads(m.value)
                except ValueError:
                    # Binary (the state changelog): as text, for the privacy checks, and whole.
                    value, raw = m.value.decode(errors="replace"), m.value.hex()
                print(json.dumps({
                    "key": m.key.decode() if m.key else None,
                    "value": value,
                    "value_hex": raw,
                    "headers": {k: (v.decode() if v is not None else None) for k, v in m.headers},
                    "partition": m.partition,
                    "offset": m.offset,
                }, ensure_ascii=False))
        remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
    consumer.close()


def lag(brokers, group):
    # A consumer that never subscribes does not join the group: it only reads its offsets.
    consumer = KafkaConsumer(bootstrap_servers=brokers, group_id=group, enable_auto_commit=False)
    partitions = [
        TopicPartition(topic, p)
        for topic in TOPICS if topic not in ("market.prices", "weather.observations")
        for p in consumer.partitions_for_topic(topic) or []
    ]
    ends = consumer.end_offsets(partitions)
    committed = {tp: consumer.committed(tp) for tp in partitions}
    consumer.close()
    if all(c is None for c in committed.values()):
        print(-1)
        return
    print(sum(max(0, ends[tp] - (committed[tp] or 0)) for tp in partitions))


def main(argv):
    command, brokers = argv[1], argv[2]
    if command == "publish":
        args = argv[4:]
        start = float(args[args.index("--from") + 1]) if "--from" in args else 0.0
        end = float(args[args.index("--to") + 1]) if "--to" in args else 1.0
        publish(brokers, argv[3], start, end, "--malformed" in args)
    elif command == "publish-queues":
        publish_queues(brokers, argv[3])
    elif command == "produce":
        producer = KafkaProducer(bootstrap_servers=brokers, acks="all")
        producer.send(argv[3], key=argv[4].encode(), value=argv[5].encode())
        producer.flush()
        producer.close()
    elif command == "consume":
        consume(brokers, argv[3])
    elif command == "lag":
        lag(brokers, argv[3])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
