"""Compare JUnit XML reports of the same test suite run two ways.

    compare_junit.py [--differ-to FILE] NAME=REPORT NAME=REPORT
    compare_junit.py --verdict --tests FILE NAME=REPORT[,REPORT...] NAME=REPORT[,...]

The first form prints passed/failed/skipped counts for each and the tests
whose outcome differs, and exits 1 if a test passes in the first report but
not in the second: the second run must do at least as well as the first.
With --differ-to, the pytest node ids of those tests go to FILE, one a line,
to be run again.

The second form judges such re-runs (several reports each, comma-separated)
for the tests listed in FILE. A test is a regression only if it passed in
every re-run of the first and failed in every re-run of the second; any
other mix is a race in the test, reported but not failed. Exits 1 on a
regression.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path


def node_id(classname: str, name: str) -> str:
    """pytest's node id from JUnit's classname (tests.test_x.TestY) and name."""
    parts = [part for part in classname.split(".") if part]
    if not parts:  # a whole module (skipped when collected): name is its dotted path
        return f"{Path(*name.split('.'))}.py"
    # The module is the shortest prefix that names a file; the rest are classes.
    for end in range(1, len(parts) + 1):
        module = Path(*parts[:end]).with_suffix(".py")
        if module.is_file():
            return "::".join([str(module), *parts[end:], name])
    return "::".join([str(Path(*parts).with_suffix(".py")), name])


def outcomes(report: Path) -> dict[str, str]:
    """Test node id -> passed, failed, skipped."""
    result: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = node_id(case.get("classname") or "", case.get("name") or "")
        if case.find("failure") is not None or case.find("error") is not None:
            result[name] = "failed"
        elif case.find("skipped") is not None:
            result[name] = "skipped"
        else:
            result[name] = "passed"
    return result


def compare(base_name: str, base: Path, name: str, other_path: Path, differ_to: Path | None) -> int:
    before, other = outcomes(base), outcomes(other_path)
    for label, result in ((base_name, before), (name, other)):
        counts = Counter(result.values())
        print(
            f"{label}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped ({len(result)} tests)"
        )
    differ = sorted(t for t in before.keys() | other.keys() if before.get(t) != other.get(t))
    for test in differ:
        print(
            f"  {test}: {base_name} {before.get(test, 'absent')}, "
            f"{name} {other.get(test, 'absent')}"
        )
    worse = [t for t in differ if before.get(t) == "passed" and other.get(t) != "passed"]
    if differ_to is not None:
        differ_to.write_text("".join(f"{test}\n" for test in worse))
    if worse:
        print(f"{len(worse)} tests pass with {base_name} but not with {name}")
        return 1
    print(f"every test that passes with {base_name} passes with {name}")
    return 0


def verdict(
    tests: list[str], base_name: str, base: list[Path], name: str, other: list[Path]
) -> int:
    runs = {
        label: [outcomes(p) for p in paths] for label, paths in ((base_name, base), (name, other))
    }
    regressions = 0
    for test in tests:
        seen = {
            label: [run.get(test, "absent") for run in results] for label, results in runs.items()
        }
        base_passed = seen[base_name].count("passed")
        other_passed = seen[name].count("passed")
        regression = base_passed == len(base) and other_passed == 0
        regressions += regression
        print(
            f"  re-ran {test} (it passed with {base_name}, not with {name}): "
            f"{base_name} passed {base_passed}/{len(base)}, "
            f"{name} passed {other_passed}/{len(other)}"
            f" -> {'REGRESSION' if regression else 'a race in the test, not a regression'}"
        )
    if regressions:
        print(f"{regressions} tests fail with {name} in every re-run and pass with {base_name}")
        return 1
    print(f"no test fails with {name} in every re-run while passing with {base_name}")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--differ-to", type=Path)
    parser.add_argument("--verdict", action="store_true")
    parser.add_argument("--tests", type=Path)
    parser.add_argument("reports", nargs=2, metavar="NAME=REPORT")
    args = parser.parse_args(argv)
    if not all("=" in arg for arg in args.reports) or (args.verdict and not args.tests):
        print(__doc__, file=sys.stderr)
        return 2
    (base_name, base), (name, other) = (arg.split("=", 1) for arg in args.reports)
    if args.verdict:
        tests = args.tests.read_text().splitlines()
        return verdict(
            tests,
            base_name,
            [Path(p) for p in base.split(",")],
            name,
            [Path(p) for p in other.split(",")],
        )
    return compare(base_name, Path(base), name, Path(other), args.differ_to)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
