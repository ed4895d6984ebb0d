"""Time location resolution over a realistic mix of customer messages.

Usage: .venv/bin/python bench/locations.py [--rounds N]

Each message is resolved once per round, timed alone with perf_counter_ns; the report
gives the median and the 99th percentile over every call, overall and per kind of input.
Numbers are made unique per call (a different subscriber number each time), so no cache
can flatter them.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bot.locations.locator import Locator
from bot.settings import ROOT

MIX: dict[str, list[str]] = {
    "code": ["broadband down in 0161?", "(020) no internet", "01483", "area code 0113", "0131"],
    "number": [
        "no dial tone, 020 7946 {n4}",
        "0161 496 {n4}",
        "+44 161 496 {n4}",
        "my landline (0117) 496-{n4} is dead",
        "0044 131 496 {n4}",
        "01483 5{n5}",
    ],
    "mobile": ["call me on 07700 900{n3}", "+44 7700 900{n3}"],
    "place": [
        "I'm in Leeds",
        "broadband down in manchester since 9am",
        "Newcastle upon Tyne",
        "no internet in stoke-on-trent for 3 days",
        "in Reading",
        "machester",
        "edinbrugh here, still down",
    ],
    "postcode": ["M1 1AE", "LS6", "my postcode is sw1a 1aa", "ls6 2ab no broadband"],
    "none": [
        "when will it be fixed?",
        "get me a human",
        "@support this is the third time this month, £20 refund please",
        "I'm reading the status page and it says nothing",
        "😡😡😡",
    ],
}


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        n3=f"{rng.randrange(1000):03d}",
        n4=f"{rng.randrange(1000):04d}",
        n5=f"{rng.randrange(100000):05d}",
    )


def _percentile(samples: list[int], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()

    started = time.perf_counter()
    locator = Locator.from_data(ROOT / "data")
    print(f"Locator.from_data: {(time.perf_counter() - started) * 1000:.1f} ms")

    rng = random.Random(20160720)
    items = [(kind, text) for kind, texts in MIX.items() for text in texts]
    samples: dict[str, list[int]] = {kind: [] for kind in MIX}
    for _ in range(args.rounds):
        rng.shuffle(items)
        for kind, template in items:
            text = _fill(template, rng)
            begin = time.perf_counter_ns()
            locator.locate(text)
            samples[kind].append(time.perf_counter_ns() - begin)

    everything = [value for values in samples.values() for value in values]
    print(f"{'input kind':<10} {'calls':>8} {'median µs':>10} {'p99 µs':>8}")
    for kind, values in [*samples.items(), ("all", everything)]:
        median = statistics.median(values) / 1000
        print(f"{kind:<10} {len(values):>8} {median:>10.1f} {_percentile(values, 0.99):>8.1f}")


if __name__ == "__main__":
    main()
