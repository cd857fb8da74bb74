"""The benchmark runs (smallest size only) and compares like with like; no timing is asserted."""
from __future__ import annotations

import yaml

from ses_mail.roster import parse_roster
from benchmarks import scale as benchmark


def test_generated_rosters_are_valid_and_sized():
    for people in (0, 10, 120):
        roster = parse_roster(benchmark.roster_text(people), "bench.yaml")
        assert len(roster.people) == people
        assert len(roster.domains) == max(1, people // benchmark.PEOPLE_PER_DOMAIN)
        assert yaml.safe_load(benchmark.roster_text(people))["domains"]


def test_the_smallest_size_runs_both_variants(tmp_path):
    row = benchmark.measure(10, repeat=1, heap=True)
    program, floor = row["program"], row["floor"]
    assert program["registered"] == floor["registered"] > 10
    assert program["seconds"] > 0 and floor["seconds"] > 0 and row["ratio"] > 0
    assert program["heap_peak_mib"] > 0 and program["peak_rss_mib"] > 0
    table = benchmark.report([row])
    assert table.splitlines()[0].startswith("| people |") and "| 10 |" in table
