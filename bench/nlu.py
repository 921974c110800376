"""The free-text matcher: accuracy on the labelled set, what it confuses, and time per utterance.

    python bench/nlu.py              # from the repo root, in the project's virtualenv
    python bench/nlu.py --rounds 20  # more timing rounds

Accuracy is printed for the whole set (`tests/data/nlu_labelled.jsonl`), for its `dev` half (the
half the cues were tuned on) and its held-out `test` half, and per kind of writing (plain,
colloquial or with typos, English and mixed). The confusion summary lists each expected → got
pair that happened, most frequent first. Time per utterance is `matching.intents.match` with the
shipped FAQ loaded (all topics' cues in the model), over every utterance of the set, `--rounds`
times after a warm-up: p50 and p99. Targets: p50 ≤ 1 ms, p99 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching import intents
from storage import faq

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "nlu_labelled.jsonl"


def label(intent: str, topic: str | None) -> str:
    return f"faq:{topic}" if intent == "faq" else intent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    started = time.perf_counter()
    book = faq.shipped()
    print(f"model: {len(book.model.labels)} labels ({len(book.topics)} FAQ topics), "
          f"built in {(time.perf_counter() - started) * 1000:.0f} ms")
    today = dt.date.today()
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    confused: Counter[tuple[str, str]] = Counter()
    unsure = 0
    for r in rows:
        found = intents.match(r["text"], book.model, today)
        want, got = label(r["intent"], r.get("topic")), label(found.intent, found.topic)
        unsure += found.intent != "unknown" and not found.confident
        for group in ("all", r["split"], r["kind"]):
            total[group] += 1
            right[group] += want == got
        if want != got:
            confused[(want, got)] += 1
    print(f"\nutterances: {len(rows)}; asked back (two guesses) instead of acting: {unsure}")
    for group in ("all", "dev", "test", "plain", "colloquial", "english"):
        print(f"accuracy {group:<11} {right[group] / total[group]:.3f}  ({right[group]}/{total[group]})")
    print("\nconfusions (expected -> got: count)")
    for (want, got), n in confused.most_common():
        print(f"  {want} -> {got}: {n}")
    timings: list[float] = []
    for text in (r["text"] for r in rows):  # warm-up: the jamo vocabulary, regexes, caches
        intents.match(text, book.model, today)
    for _ in range(args.rounds):
        for r in rows:
            start = time.perf_counter()
            intents.match(r["text"], book.model, today)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(f"\ntime per utterance over {len(timings)} calls: p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
          f"max {timings[-1]:.3f} ms  (targets: p50 <= 1 ms, p99 <= 5 ms) "
          f"{'PASS' if p50 <= 1 and p99 <= 5 else 'FAIL'}")


if __name__ == "__main__":
    main()
