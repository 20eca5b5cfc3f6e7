"""Print one line per test suite and a total from JUnit XML files.

Usage: summarize.py [--baseline NAME=LIST] NAME=FILE [NAME=FILE ...]

A baseline lists test names (one per line, # comments) that must pass in
suite NAME. Exits 1 if any suite failed, is missing, ran no test, or lost a
baseline test.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def outcomes(path: Path) -> dict[str, str]:
    """Map each test case name to 'passed', 'failed' or 'skipped'."""
    result = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        if case.get("classname") and case.get("classname") != name:
            name = f"{case.get('classname')}::{name}"
        if case.find("failure") is not None or case.find("error") is not None:
            result[name] = "failed"
        elif case.find("skipped") is not None or case.get("status") == "notrun":
            result[name] = "skipped"
        else:
            result[name] = "passed"
    return result


def read_baseline(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", action="append", default=[])
    parser.add_argument("suites", nargs="+")
    args = parser.parse_args()
    baselines = dict(item.split("=", 1) for item in args.baseline)

    ok = True
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for suite in args.suites:
        name, _, file = suite.partition("=")
        path = Path(file)
        if not path.is_file():
            print(f"{name:>8}: no results ({path} missing)")
            ok = False
            continue
        results = outcomes(path)
        counts = {k: sum(1 for v in results.values() if v == k) for k in totals}
        print(
            f"{name:>8}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
        )
        for test, outcome in sorted(results.items()):
            if outcome == "failed":
                print(f"{'':>10}FAILED {test}")
        ok = ok and counts["failed"] == 0 and counts["passed"] > 0
        if name in baselines:
            lost = [t for t in read_baseline(Path(baselines[name])) if results.get(t) != "passed"]
            for test in lost:
                print(f"{'':>10}REGRESSION {test}: {results.get(test, 'missing')}")
            ok = ok and not lost
        for k in totals:
            totals[k] += counts[k]
    print(
        f"summary: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
