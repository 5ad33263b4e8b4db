"""The comparison loader for scripts/bench: a plain Python loader using the official
`neo4j` driver, writing a mimecast-graph graph.json the way Cartography loads
(`UNWIND $rows ... MERGE` per label and relationship type, in batches, one managed
write transaction per batch, sequentially).

Usage: python bench_loader.py GRAPH_JSON SCHEMA_TOML BATCH_SIZE
Reads NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD. Prints one JSON line with its timings.
"""

import json
import os
import sys
import time
import tomllib
import uuid

from neo4j import GraphDatabase


def batches(rows, size):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def main():
    graph_path, schema_path, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(schema_path, "rb") as f:
        schema = tomllib.load(f)
    labels = {e["type"]: [e["label"]] + ([e["class"]] if e["class"] != e["label"] else []) for e in schema["entity"]}
    rels = {r["type"]: (labels[r["from"]][0], r["class"], labels[r["to"]][0]) for r in schema["relationship"]}

    t_read = time.monotonic()
    with open(graph_path) as f:
        graph = json.load(f)
    read_s = time.monotonic() - t_read

    nodes_by_type, rels_by_type = {}, {}
    for e in graph["entities"]:
        nodes_by_type.setdefault(e["_type"], []).append(e)
    for r in graph["relationships"]:
        props = {k: v for k, v in r.items()}
        rels_by_type.setdefault(r["_type"], []).append(
            {"from": r["_fromEntityKey"], "to": r["_toEntityKey"], "props": props}
        )

    tag = str(uuid.uuid4())
    driver = GraphDatabase.driver(os.environ["NEO4J_URI"], auth=(os.environ["NEO4J_USER"], os.environ["NEO4J_PASSWORD"]))
    driver.verify_connectivity()
    written = 0
    t_write = time.monotonic()
    with driver.session() as session:
        for t, rows in nodes_by_type.items():
            label = labels[t]
            extra = "".join(f" SET n:{l}" for l in label[1:])
            q = f"UNWIND $rows AS row MERGE (n:{label[0]} {{_key: row._key}}) SET n += row, n.lastupdated = $tag{extra}"
            for b in batches(rows, batch_size):
                session.execute_write(lambda tx: tx.run(q, rows=b, tag=tag).consume())
                written += len(b)
        for t, rows in rels_by_type.items():
            a, rel, b_label = rels[t]
            q = (
                f"UNWIND $rows AS row MATCH (a:{a} {{_key: row.from}}) MATCH (b:{b_label} {{_key: row.to}}) "
                f"MERGE (a)-[r:{rel} {{_key: row.props._key}}]->(b) SET r += row.props, r.lastupdated = $tag"
            )
            for b in batches(rows, batch_size):
                session.execute_write(lambda tx: tx.run(q, rows=b, tag=tag).consume())
                written += len(b)
    write_s = time.monotonic() - t_write
    driver.close()
    print(json.dumps({"readSeconds": round(read_s, 2), "writeSeconds": round(write_s, 2), "elements": written}))


if __name__ == "__main__":
    main()
