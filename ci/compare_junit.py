"""Compare two JUnit XML reports of the same test suite.

    compare_junit.py NAME=REPORT NAME=REPORT

Prints passed/failed/skipped counts for each and the tests whose outcome
differs. Exits 1 if a test passes in the first report but not in the
second: the second run must do at least as well as the first.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path


def outcomes(report: Path) -> dict[str, str]:
    """Test id -> passed, failed, skipped."""
    result: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            result[name] = "failed"
        elif case.find("skipped") is not None:
            result[name] = "skipped"
        else:
            result[name] = "passed"
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not all("=" in arg for arg in argv):
        print(__doc__, file=sys.stderr)
        return 2
    (base_name, base_path), (name, path) = (arg.split("=", 1) for arg in argv)
    base, other = outcomes(Path(base_path)), outcomes(Path(path))
    for label, result in ((base_name, base), (name, other)):
        counts = Counter(result.values())
        print(
            f"{label}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped ({len(result)} tests)"
        )
    differ = sorted(t for t in base.keys() | other.keys() if base.get(t) != other.get(t))
    for test in differ:
        print(
            f"  {test}: {base_name} {base.get(test, 'absent')}, {name} {other.get(test, 'absent')}"
        )
    worse = [t for t in differ if base.get(t) == "passed" and other.get(t) != "passed"]
    if worse:
        print(f"{len(worse)} tests pass with {base_name} but not with {name}")
        return 1
    print(f"every test that passes with {base_name} passes with {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
