"""The checker of the shared leader record (README.md in this directory has
the argument and its limits).

Each line is `<term> <id> <seq> <t0_ns> <t1_ns>`, appended with one
O_APPEND write by candidate <id> right after is_leader() answered true for
<term> at an instant inside [t0, t1] (CLOCK_MONOTONIC, shared by every
process on the host).

    python record.py FILE          # check a record file, print a summary
    python record.py --self-test   # show that each check rejects a crafted violation
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Dict, List

LINE = re.compile(r"(\d+) (\S+) (\d+) (\d+) (\d+)")


@dataclass
class Record:
    term: int
    id: str
    seq: int
    t0: int
    t1: int


@dataclass
class Report:
    records: int = 0
    terms: List[int] = field(default_factory=list)  # distinct terms, in file order
    leader_of: Dict[int, str] = field(default_factory=dict)
    violations: List[str] = field(default_factory=list)

    def language_terms(self) -> Dict[str, int]:
        """How many terms each language led (the id is `<language>-<incarnation>`)."""
        out: Dict[str, int] = {}
        for cid in self.leader_of.values():
            lang = cid.rsplit("-", 1)[0]
            out[lang] = out.get(lang, 0) + 1
        return out


def parse(text: str, report: Report) -> List[Record]:
    records = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    else:
        # Every record ends with a newline; a last line without one is torn.
        report.violations.append(f"line {len(lines)}: last record has no newline: {lines[-1]!r}")
    for n, line in enumerate(lines, 1):
        m = LINE.fullmatch(line)
        if not m:
            # Two writers' bytes interleaved, or a partial write.
            report.violations.append(f"line {n}: malformed record {line!r}")
            continue
        r = Record(int(m[1]), m[2], int(m[3]), int(m[4]), int(m[5]))
        if r.term == 0 or r.t0 > r.t1:
            report.violations.append(f"line {n}: impossible record {line!r} (term 0, or t0 > t1)")
        records.append(r)
    return records


def check(text: str) -> Report:
    report = Report()
    records = parse(text, report)
    report.records = len(records)
    v = report.violations
    last_seq: Dict[str, int] = {}
    prev: Record | None = None
    # For the clock check: the latest t0 of any earlier term, and the min t1
    # of the current term.
    max_t0_before = -1
    cur_term_max_t0 = -1
    for n, r in enumerate(records, 1):
        # A term belongs to one candidate: two candidates writing the same
        # term would mean the fencing token was handed out twice.
        owner = report.leader_of.setdefault(r.term, r.id)
        if owner != r.id:
            v.append(f"record {n}: term {r.term} written by {r.id!r} but also by {owner!r}")
        # Terms never decrease in file order. The file order is the order of
        # the write calls; a record of term t after one of term t' > t means
        # the leader of t wrote after the leader of t' had begun: their
        # leaderships overlapped (as seen by a resource without fencing).
        if prev is not None and r.term < prev.term:
            v.append(f"record {n}: term {r.term} ({r.id}) after term {prev.term} ({prev.id}): "
                     "leaderships overlap")
        # One process's records in its own order (catches lost or reordered
        # writes, and two processes running under one id).
        if r.seq <= last_seq.get(r.id, 0):
            v.append(f"record {n}: {r.id} seq {r.seq} after seq {last_seq[r.id]}")
        last_seq[r.id] = r.seq
        if prev is None or r.term != prev.term:
            if prev is not None and r.term > prev.term:
                max_t0_before = max(max_t0_before, cur_term_max_t0)
                cur_term_max_t0 = -1
            if r.term not in report.terms:
                report.terms.append(r.term)
        # The clock check, independent of the write delay: a true
        # is_leader() of an earlier term happened at x_a in [t0_a, t1_a], one
        # of this term at x_b in [t0_b, t1_b], and safety says x_a < x_b; so
        # t0_a < t1_b for every pair. A violation proves two is_leader()
        # windows of different terms overlapped.
        if r.t1 <= max_t0_before:
            v.append(f"record {n}: term {r.term} ({r.id}) was leading by t1={r.t1} but an earlier "
                     f"term was still leading at t0={max_t0_before}: is_leader() windows overlap")
        cur_term_max_t0 = max(cur_term_max_t0, r.t0)
        prev = r
    return report


def self_test() -> int:
    """Each check must reject a record that breaks it, and pass a good one."""
    good = ("5 c-1 1 100 110\n5 c-1 2 120 130\n7 go-1 1 500 510\n"
            "7 go-1 2 520 530\n9 c-1 3 900 910\n")
    cases = {
        "good": (good, None),
        "term decreases": (good + "7 go-1 3 950 960\n", "leaderships overlap"),
        "term shared by two ids": (good.replace("7 go-1 2", "7 cpp-1 1"), "also by"),
        "seq not increasing": (good.replace("9 c-1 3", "9 c-1 2"), "seq 2 after seq 2"),
        "windows overlap": (good.replace("7 go-1 1 500 510", "7 go-1 1 90 105"),
                            "is_leader() windows overlap"),
        "torn line": (good + "11 pyt", "no newline"),
        "interleaved bytes": (good + "11 python-1 1 1000 1011 python-1 2\n", "malformed"),
    }
    failed = 0
    for name, (text, expect) in cases.items():
        rep = check(text)
        if expect is None:
            ok = not rep.violations and rep.terms == [5, 7, 9] and rep.records == 5
        else:
            ok = any(expect in x for x in rep.violations)
        print(f"{'ok  ' if ok else 'FAIL'} checker self-test: {name}: {rep.violations or 'no violation'}")
        failed += not ok
    return 1 if failed else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        rep = check(f.read())
    print(f"{rep.records} records, {len(rep.terms)} terms, per language: {rep.language_terms()}")
    for x in rep.violations[:20]:
        print("VIOLATION", x)
    return 1 if rep.violations else 0


if __name__ == "__main__":
    sys.exit(main())
