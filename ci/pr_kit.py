"""Write the pull-request kit for the patch series (run through ci/pr-kit).

The kit, in OUT: the patches, cover-letter.md and CHECKLIST.md. Every
checklist item says how it was checked; what was not run says so. Numbers come
from the files the other ci/ scripts wrote (JUnit XML in BUILD/results,
BUILD/bench/bench.md, BUILD/series-check.log), never from here. With --onto,
each patch is also tried on another libzmq checkout, and a patch that does not
apply is reported per file and hunk (onto.md).

Exit status: 1 when an automatic check failed, else 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summarize import outcomes  # ci/summarize.py, beside this file

PASS, FAIL, WARN, TODO, NOT_RUN, INFO = "PASS", "FAIL", "WARN", "TODO", "NOT RUN", "INFO"

# Where libzmq keeps what a transport touches; anything else is "unrelated".
EXPECTED_PATHS = re.compile(
    r"^(src/|include/|tests/|unittests/|doc/|builds/|perf/|RELICENSE/"
    r"|CMakeLists\.txt$|Makefile\.am$|configure\.ac$|acinclude\.m4$"
    r"|\.github/workflows/|config\.sh$|ci_build\.sh$)"
)
C_SOURCE = re.compile(r"\.(c|cc|cpp|cxx|h|hh|hpp|hxx)$")
PLACEHOLDER_DOMAINS = (".example", ".invalid", ".test", ".localhost", "example.com")


# --- the series ---------------------------------------------------------------


@dataclass
class FileDiff:
    old: str
    new: str
    header: list[str]
    hunks: list[list[str]] = field(default_factory=list)

    @property
    def is_new(self) -> bool:
        return any(line.startswith("new file mode") for line in self.header)

    @property
    def is_deleted(self) -> bool:
        return any(line.startswith("deleted file mode") for line in self.header)

    @property
    def path(self) -> str:
        return self.new

    def added(self) -> list[str]:
        return [line[1:] for hunk in self.hunks for line in hunk[1:] if line.startswith("+")]


@dataclass
class Patch:
    path: Path
    subject: str
    author: str
    message: str
    files: list[FileDiff]

    @property
    def name(self) -> str:
        return self.path.name


def unfold(value: str) -> str:
    return re.sub(r"\s*\n\s+", " ", value).strip()


def parse_patch(path: Path) -> Patch:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    head, _, rest = text.partition("\n\n")
    msg = email.message_from_string(head + "\n\n")
    subject = re.sub(r"^\[PATCH[^\]]*\]\s*", "", unfold(msg.get("Subject", "")))
    author = unfold(msg.get("From", ""))
    message, _, diff = rest.partition("\n---\n")
    files: list[FileDiff] = []
    current: FileDiff | None = None
    for line in diff.splitlines():
        if line == "-- ":  # signature
            break
        m = re.match(r"^diff --git a/(\S+) b/(\S+)$", line)
        if m:
            current = FileDiff(m[1], m[2], [line])
            files.append(current)
        elif current is None:
            continue  # the diffstat
        elif line.startswith("@@"):
            current.hunks.append([line])
        elif current.hunks:
            current.hunks[-1].append(line)
        else:
            current.header.append(line)
    return Patch(path, subject, author, message.strip(), files)


def read_series(patches_dir: Path) -> list[Patch]:
    return [parse_patch(p) for p in sorted(patches_dir.glob("*.patch"))]


# --- running the other ci/ scripts --------------------------------------------


def run(cmd: list[str], cwd: Path | None = None) -> tuple[int, str]:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return result.returncode, (result.stdout + result.stderr).strip()


def excerpt(text: str, lines: int = 30) -> str:
    kept = text.splitlines()[-lines:]
    return "\n".join(kept)


# --- test and benchmark results -----------------------------------------------


@dataclass
class Suite:
    name: str
    passed: int
    failed: int
    skipped: int
    scif: tuple[int, int]  # passed, total of the test cases whose name has "scif"
    when: dt.datetime


def read_results(results_dir: Path) -> list[Suite]:
    suites = []
    for xml in sorted(results_dir.glob("*.xml")):
        try:
            cases = outcomes(xml)
        except Exception as error:
            print(f"[pr-kit] cannot read {xml}: {error}", file=sys.stderr)
            continue
        values = list(cases.values())
        scif = [v for k, v in cases.items() if "scif" in k.lower()]
        suites.append(
            Suite(
                xml.stem,
                values.count("passed"),
                values.count("failed"),
                values.count("skipped"),
                (scif.count("passed"), len(scif)),
                dt.datetime.fromtimestamp(xml.stat().st_mtime, dt.timezone.utc),
            )
        )
    return suites


def newest_patch_time(patches: list[Patch]) -> dt.datetime:
    return max(
        (dt.datetime.fromtimestamp(p.path.stat().st_mtime, dt.timezone.utc) for p in patches),
        default=dt.datetime.min.replace(tzinfo=dt.timezone.utc),
    )


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


# --- checks -------------------------------------------------------------------


@dataclass
class Item:
    rule: str
    status: str
    how: str
    details: list[str] = field(default_factory=list)


def check_messages(series: list[Patch]) -> list[Item]:
    no_problem = [p.name for p in series if not p.subject.startswith("Problem: ")]
    no_solution = [p.name for p in series if not re.search(r"^Solution: \S", p.message, flags=re.M)]
    long_subjects = [
        f"{p.name}: {len(p.subject)} characters" for p in series if len(p.subject) >= 50
    ]
    items = [
        Item(
            "Commit messages state the problem: the subject line is `Problem: ...`",
            FAIL if no_problem else PASS,
            "automatic: the `Subject:` of every patch starts with `Problem: `",
            [f"no `Problem:` subject: {n}" for n in no_problem],
        ),
        Item(
            "... followed by a blank line and the proposed solution, `Solution: ...`",
            FAIL if no_solution else PASS,
            "automatic: a line starting with `Solution: ` in every commit message",
            [f"no `Solution:` line: {n}" for n in no_solution],
        ),
        Item(
            "The problem line is short (C4: less than 50 characters)",
            WARN if long_subjects else PASS,
            "automatic: length of each subject",
            long_subjects,
        ),
    ]
    return items


def check_authors(series: list[Patch]) -> Item:
    authors = sorted({p.author for p in series})
    suspicious = [
        a
        for a in authors
        if not re.search(r"<[^@>]+@[^>]+>", a)
        or any(re.search(re.escape(d) + r">", a) for d in PLACEHOLDER_DOMAINS)
    ]
    return Item(
        "Each patch has a correct author: a real name or well-known alias and the e-mail of "
        "the GitHub account that sends the pull request",
        TODO if suspicious else PASS,
        "automatic: `From:` of every patch; placeholder addresses are flagged "
        "(a person must confirm the identity in any case)",
        [f"author: {a}" + (" (placeholder address)" if a in suspicious else "") for a in authors],
    )


def check_spdx(series: list[Patch]) -> Item:
    missing, exempt, ok = [], [], 0
    for patch in series:
        for f in patch.files:
            if not f.is_new:
                continue
            if f.path.startswith(("doc/", "RELICENSE/")):
                exempt.append(f.path)
                continue
            if any("SPDX-License-Identifier: MPL-2.0" in line for line in f.added()[:3]):
                ok += 1
            else:
                missing.append(f"{f.path} ({patch.name})")
    details = [f"no SPDX header in its first lines: {m}" for m in missing]
    if exempt:
        details.append(
            "not checked (man pages and grants carry no license header in libzmq): "
            + ", ".join(exempt)
        )
    return Item(
        "New files are MPL-2.0: `SPDX-License-Identifier: MPL-2.0` header",
        FAIL if missing else PASS,
        f"automatic: first three lines of each file the series adds ({ok} with the header)",
        details,
    )


def check_relicense(series: list[Patch], root: Path, onto: Path | None) -> Item:
    grants = [(p.name, f) for p in series for f in p.files if f.path.startswith("RELICENSE/")]
    draft = root / "ci" / "pr" / "RELICENSE-scif-zmq.md"
    details = []
    if grants:
        status = PASS
        for name, f in grants:
            text = "\n".join(f.added())
            details.append(f"{f.path} added by {name}")
            if "{{" in text:
                status = FAIL
                details.append(f"{f.path} still has {{{{placeholders}}}}")
    else:
        status = TODO
        details.append(
            "the series has no RELICENSE/ file; the grant text to fill in is "
            f"{draft.relative_to(root)} (as RELICENSE/<github-handle>.md, in a patch of its own)"
        )
    if onto is not None:
        if (onto / "RELICENSE").is_dir():
            details.append(f"the target {onto} has a RELICENSE/ directory")
        else:
            details.append(f"the target {onto} has no RELICENSE/ directory")
        contributing = onto / ".github" / "CONTRIBUTING.md"
        if contributing.is_file() and "relicens" in contributing.read_text().lower():
            details.append(
                f"{contributing.relative_to(onto)} of the target asks first-time contributors "
                "for a relicensing grant"
            )
    return Item(
        "First-time contributors add an MPLv2 license grant, RELICENSE/<github-handle>.md, "
        "in a commit of its own",
        status,
        "automatic: a file under RELICENSE/ in the series, without template placeholders",
        details,
    )


def check_tests(series: list[Patch], suites: list[Suite], newest: dt.datetime) -> Item:
    new_tests = [
        f.path for p in series for f in p.files if f.is_new and f.path.startswith("tests/")
    ]
    registered = [
        f.path
        for p in series
        for f in p.files
        if not f.is_new
        and f.path in ("tests/CMakeLists.txt", "Makefile.am")
        and any("scif" in line for line in f.added())
    ]
    details = [f"added: {', '.join(new_tests) or 'none'}"]
    details.append(f"registered in: {', '.join(sorted(set(registered))) or 'nothing'}")
    libzmq = next((s for s in suites if s.name == "libzmq"), None)
    if not new_tests:
        status = FAIL
    elif libzmq is None:
        status = NOT_RUN
        details.append(
            "upstream suite with the series: not run (no results/libzmq.xml; run ci/test)"
        )
    else:
        passed, total = libzmq.scif
        stale = libzmq.when < newest
        details.append(
            f"results/libzmq.xml of {stamp(libzmq.when)}: {libzmq.passed} passed, "
            f"{libzmq.failed} failed, {libzmq.skipped} skipped; SCIF tests {passed}/{total} passed"
            + (" (older than the series' newest patch: run ci/test again)" if stale else "")
        )
        if libzmq.failed or total == 0 or passed < total:
            status = FAIL
        else:
            status = WARN if stale else PASS
    return Item(
        "Tests: the series adds tests, and libzmq's whole suite passes with it",
        status,
        "automatic: new files under tests/, their registration, and ci/test's JUnit results",
        details,
    )


def check_docs(series: list[Patch]) -> Item:
    pages = [f.path for p in series for f in p.files if f.is_new and f.path.startswith("doc/")]
    listed = any(
        f.path == "doc/Makefile.am" and any(Path(page).stem in line for line in f.added())
        for p in series
        for f in p.files
        for page in pages
    )
    details = [f"man pages added: {', '.join(pages) or 'none'}"]
    details.append("listed in doc/Makefile.am" if listed else "not listed in doc/Makefile.am")
    return Item(
        "Documentation: a man page for the new transport, built with the others",
        PASS if pages and listed else FAIL,
        "automatic: new files under doc/ and their entry in doc/Makefile.am",
        details,
    )


def check_whitespace(series: list[Patch]) -> Item:
    bad = [
        f"{p.name}: {f.path}"
        for p in series
        for f in p.files
        if any(line != line.rstrip() for line in f.added())
    ]
    return Item(
        "No whitespace errors in added lines",
        FAIL if bad else PASS,
        "automatic: trailing whitespace in every `+` line",
        sorted(set(bad)),
    )


def check_scope(series: list[Patch]) -> Item:
    unexpected = sorted(
        {
            f"{f.path} ({p.name})"
            for p in series
            for f in p.files
            if not EXPECTED_PATHS.match(f.path)
        }
    )
    modified = sorted({f.path for p in series for f in p.files if not f.is_new})
    details = [f"outside libzmq's usual places: {u}" for u in unexpected]
    details.append(f"existing upstream files changed (review each): {', '.join(modified)}")
    return Item(
        "Each patch solves one problem and touches nothing unrelated",
        FAIL if unexpected else INFO,
        "automatic: paths the series touches; one problem per patch is for a person to judge",
        details,
    )


# "About 450 lines" of library code per patch: what a maintainer reviews in a sitting.
MAX_LIBRARY_LINES = 450


def check_patch_size(series: list[Patch]) -> Item:
    sizes = [
        (
            p.name,
            sum(
                1
                for f in p.files
                if f.path.startswith(("src/", "include/"))
                for line in f.added()
                if line.strip() and not line.strip().startswith(("//", "/*", "*"))
            ),
        )
        for p in series
    ]
    too_large = [f"{name}: {n} lines" for name, n in sizes if n > MAX_LIBRARY_LINES]
    largest = max(sizes, key=lambda s: s[1])
    return Item(
        f"Each patch can be reviewed in one sitting: at most about {MAX_LIBRARY_LINES} added "
        "lines of library code (src/, include/; neither blank nor comments; tests and docs "
        "aside)",
        FAIL if too_large else PASS,
        f"automatic: added lines per patch; the largest is {largest[0]} ({largest[1]} lines)",
        too_large,
    )


#  A scif:// endpoint with a fixed port, and the emulator's own variables: tests
#  that use them collide when run in parallel, or only run on the emulator.
#  Ports out of range, and privileged ones (below 1024), are endpoints that
#  tests expect to fail.
SCIF_PORT = re.compile(r'"scif://(?:(?:\*|\d+):)?(\d+)"')


def names_fixed_scif_port(line: str) -> bool:
    return any(1024 <= int(port) <= 65535 for port in SCIF_PORT.findall(line))


def check_test_portability(series: list[Patch]) -> Item:
    found = [
        f"{f.path} ({p.name}): {line.strip()}"
        for p in series
        for f in p.files
        if f.path.startswith("tests/")
        for line in f.added()
        if names_fixed_scif_port(line) or "SCIF_EMU" in line
    ]
    return Item(
        "Tests run anywhere the transport runs: wildcard binds read back with "
        "ZMQ_LAST_ENDPOINT, no emulator variable",
        FAIL if found else PASS,
        "automatic: no fixed scif:// port and no `SCIF_EMU` in the lines the series adds "
        "under tests/",
        found,
    )


def check_core_fixes(series: list[Patch], fixes: list[Patch]) -> Item:
    """Core fixes lead the series, each with a test of its own, so that they
    can be proposed, and merged, on their own."""
    later = [
        p.name
        for p in series[len(fixes) :]
        if any(f.path.startswith("src/") for f in p.files)
        and not any("scif" in f.path.lower() for f in p.files)
        and not any("scif" in line.lower() for f in p.files for line in f.added())
    ]
    untested = [
        p.name
        for p in fixes
        if not any(f.path.startswith(("tests/test_", "unittests/unittest_")) for f in p.files)
    ]
    return Item(
        "Fixes to libzmq's core are a pull request of their own (build/pr-kit/core-fixes/), "
        "each with a test that fails without it",
        FAIL if later or untested else PASS,
        "automatic: the leading patches whose diff names nothing of scif form the core-fix "
        "pull request; ci/series check --build (and ci/onto-build on master) run their tests "
        "without the fix, which must fail",
        [f"core fix: {p.subject}" for p in fixes]
        + [f"changes src/ outside the transport after the core fixes: {n}" for n in later]
        + [f"core fix without a test: {n}" for n in untested],
    )


def check_upstream_ci(series: list[Patch], root: Path) -> Item:
    """The job the series adds to libzmq's CI fetches libscif from this
    project's repository at a tag: that tag must be published first."""
    added = [line for p in series for f in p.files if f.path == "config.sh" for line in f.added()]
    text = "\n".join(added)
    repository = re.search(r"LIBSCIF_REPOSITORY:-([^}]+)}", text)
    tag = re.search(r"LIBSCIF_TAG:-([^}]+)}", text)
    version = re.search(
        r"project\(libscif VERSION (\S+)", (root / "libscif" / "CMakeLists.txt").read_text()
    )
    if not (repository and tag and version):
        return Item("Upstream CI builds and tests the transport", FAIL, "no SCIF job in config.sh")
    details = [
        f"libscif from {repository[1]} at tag {tag[1]}; this checkout is libscif {version[1]}"
    ]
    mismatch = tag[1] != f"libscif-{version[1]}"
    if mismatch:
        details.append("the tag does not name this checkout's libscif version")
    return Item(
        "Upstream CI builds and tests the transport: the job's libscif tag is published",
        FAIL if mismatch else TODO,
        "automatic: the tag config.sh pins against libscif's version; a person must push the "
        "tag to that repository before the pull request is opened (ci/upstream-ci runs the job "
        "here with this checkout's libscif)",
        details,
    )


def check_public_api(series: list[Patch]) -> Item:
    touched = [
        f"{p.name}: {f.path}" for p in series for f in p.files if f.path.startswith("include/")
    ]
    return Item(
        "Public contracts evolve compatibly (C4): no public API removed or changed",
        INFO if touched else PASS,
        'automatic: changes to include/; the new capability is `zmq_has("scif")`, the new '
        "build options `WITH_SCIF` / `--with-scif` (default off)",
        [f"public header changed: {t}" for t in touched],
    )


def check_format(root: Path) -> Item:
    clang_format = os.environ.get("CLANG_FORMAT", "clang-format")
    if shutil.which(clang_format) is None:
        return Item(
            "Code style: clang-format with libzmq's .clang-format",
            NOT_RUN,
            "ci/check-series-format needs clang-format (pip install clang-format, or run "
            "`pre-commit run --all-files`)",
        )
    rc, out = run([str(root / "ci" / "check-series-format")])
    return Item(
        "Code style: clang-format with libzmq's .clang-format",
        PASS if rc == 0 else FAIL,
        "automatic: ci/check-series-format (dry run on every file the series adds)",
        excerpt(out, 40).splitlines(),
    )


def check_applies(root: Path) -> Item:
    rc, out = run([str(root / "ci" / "series"), "check"])
    lines = [line for line in out.splitlines() if line.startswith("[series]")]
    return Item(
        "The series applies, patch by patch, to libzmq v4.3.4",
        PASS if rc == 0 else FAIL,
        "automatic: `ci/series check` (git am of each patch on a fresh v4.3.4)",
        lines if rc else lines[-1:],
    )


def check_builds(build: Path, series: list[Patch], newest: dt.datetime) -> Item:
    log = build / "series-check.log"
    how = "from `ci/series check --build` (run by ci/test), log build/series-check.log"
    if not log.is_file():
        return Item("Each patch builds on its own", NOT_RUN, how + ": no log; run ci/test")
    text = log.read_text()
    when = dt.datetime.fromtimestamp(log.stat().st_mtime, dt.timezone.utc)
    built = {m[1] for m in re.finditer(r"^\[series\] ok\s+\d+/\d+ (\S+)", text, flags=re.M)}
    failed = [line for line in text.splitlines() if "FAIL" in line]
    names = [p.name for p in series]
    missing = [n for n in names if n not in built]
    details = [f"log of {stamp(when)}: {len(built & set(names))}/{len(names)} patches built"]
    details += failed
    if when < newest:
        details.append("the log is older than the series' newest patch: run ci/test again")
        status = NOT_RUN
    elif failed or missing:
        details += [f"not built: {n}" for n in missing]
        status = FAIL
    else:
        status = PASS
    return Item("Each patch builds on its own", status, how, details)


def check_drift(root: Path, checkout: Path) -> Item:
    how = "automatic: `ci/series drift` (patches/scif/ is `git format-patch` of build/libzmq-scif)"
    if not (checkout / ".git").exists():
        return Item("The series is exported from its git checkout", NOT_RUN, how + ": no checkout")
    rc, out = run([str(root / "ci" / "series"), "drift"])
    return Item(
        "The series is exported from its git checkout",
        PASS if rc == 0 else FAIL,
        how,
        excerpt(out, 5).splitlines(),
    )


# --- applying onto another checkout, hunk by hunk --------------------------------


def split_hunks(f: FileDiff) -> list[tuple[str, str]]:
    """(hunk header, a patch holding only that hunk) for each hunk of a file."""
    header = [line for line in f.header if not line.startswith(("similarity", "rename", "index"))]
    if not any(line.startswith("--- ") for line in header):
        header += [f"--- a/{f.old}", f"+++ b/{f.new}"]
    return [(hunk[0], "\n".join(header + hunk) + "\n") for hunk in f.hunks]


def similar_paths(tree: Path, path: str) -> list[str]:
    stem = Path(path).stem
    hits = [
        str(p.relative_to(tree))
        for p in tree.joinpath(Path(path).parent).glob(f"{stem}.*")
        if p.is_file()
    ]
    return sorted(hits)


def analyse_onto(
    series: list[Patch], onto: Path, base_repo: Path, workdir: Path
) -> tuple[bool, list[str]]:
    """Apply each patch onto *onto* (3-way); report every hunk of a patch that fails."""
    git = ["git", "-c", "user.name=pr-kit", "-c", "user.email=pr-kit@scif-zmq.invalid"]
    subprocess.run(
        [*git, "-C", str(onto), "worktree", "remove", "--force", str(workdir)], capture_output=True
    )
    shutil.rmtree(workdir, ignore_errors=True)
    subprocess.run([*git, "-C", str(onto), "worktree", "prune"], capture_output=True)
    subprocess.run(
        [*git, "-C", str(onto), "worktree", "add", "-q", "--detach", str(workdir), "HEAD"],
        check=True,
        capture_output=True,
    )
    wt = ["-C", str(workdir)]
    target = run(git + wt + ["log", "-1", "--format=%h %s (%cd)", "--date=short"])[1]
    out = [f"Target: libzmq at {target}.", ""]
    if (base_repo / ".git").exists():
        # The blobs the patches were made against, for 3-way merges.
        run(git + wt + ["fetch", "-q", str(base_repo), "HEAD"])
    ok, skipped = True, []
    rows = ["| patch | result |", "|---|---|"]
    details: list[str] = []
    for patch in series:
        rc, am_out = run(git + wt + ["am", "--3way", str(patch.path)])
        after = f" (after skipping {', '.join(skipped)})" if skipped else ""
        if rc == 0:
            rows.append(f"| {patch.name} | applies{after} |")
            continue
        ok = False
        conflicts = run(git + wt + ["diff", "--name-only", "--diff-filter=U"])[1].split()
        markers = {c: conflict_ranges(workdir / c) for c in conflicts}
        merged = set(re.findall(r"^Auto-merging (\S+)$", am_out, flags=re.M)) - set(conflicts)
        run(git + wt + ["am", "--abort"])
        skipped.append(patch.name[:4])
        rows.append(f"| {patch.name} | **does not apply**{after}; see below |")
        details += [f"### {patch.name}", "", f"Subject: {patch.subject}", ""]
        details += ["| file | hunk | plain apply | 3-way merge |", "|---|---|---|---|"]
        for f in patch.files:
            details += hunk_rows(f, workdir, git + wt, markers, merged)
        if markers:
            left = [
                f"`{c}`" + (f" (lines {', '.join(r)})" if r else "") for c, r in markers.items()
            ]
            details += ["", f"The 3-way merge left conflicts in {', '.join(left)}."]
        lines = [
            line
            for line in am_out.splitlines()
            if line.startswith(("CONFLICT", "error:", "Auto-merging"))
        ]
        if lines:
            details += ["", "git am --3way says:", "", "```", *lines, "```"]
        details.append("")
    run([*git, "-C", str(onto), "worktree", "remove", "--force", str(workdir)])
    return ok, out + rows + [""] + details


def conflict_ranges(path: Path) -> list[str]:
    if not path.is_file():
        return []
    ranges, start = [], None
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if line.startswith("<<<<<<<"):
            start = number
        elif line.startswith(">>>>>>>") and start is not None:
            ranges.append(f"{start}-{number}")
            start = None
    return ranges


def hunk_rows(
    f: FileDiff, tree: Path, git_wt: list[str], markers: dict[str, list[str]], merged: set[str]
) -> list[str]:
    """Table rows for one file of a patch that does not apply: each hunk tried alone."""
    if markers.get(f.path):
        merge = f"conflict at lines {', '.join(markers[f.path])}"
    else:
        merge = "conflict" if f.path in markers else "merges" if f.path in merged else "-"
    if f.is_new:
        exists = (tree / f.path).exists()
        return [f"| `{f.path}` | new file | {'exists already' if exists else 'ok'} | {merge} |"]
    if not (tree / f.old).exists():
        similar = similar_paths(tree, f.old)
        hint = f"; similar: {', '.join(f'`{s}`' for s in similar)}" if similar else ""
        renamed = [s for s in similar if s in markers]
        if renamed and merge == "-":
            merge = "; ".join(
                f"conflict in `{s}`" + (f" at lines {', '.join(markers[s])}" if markers[s] else "")
                for s in renamed
            )
        elif merge == "-" and any(s in merged for s in similar):
            merge = "merges into " + ", ".join(f"`{s}`" for s in similar if s in merged)
        return [f"| `{f.old}` | all {len(f.hunks)} | file missing in the target{hint} | {merge} |"]
    rows = []
    for number, (header, mini) in enumerate(split_hunks(f), 1):
        with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False) as tmp:
            tmp.write(mini)
        rc, out = run([*git_wt, "apply", "--check", "-v", tmp.name])
        os.unlink(tmp.name)
        if rc == 0:
            offset = re.search(r"offset (-?\d+) lines?", out)
            result = f"ok (offset {offset[1]})" if offset else "ok"
        else:
            failed_at = re.search(r"patch failed: (\S+)", out)
            result = f"**fails** ({failed_at[1]})" if failed_at else "**fails**"
        rows.append(f"| `{f.path}` | #{number} `{header.strip()}` | {result} | {merge} |")
    return rows


# --- the documents --------------------------------------------------------------


def diffstat(series: list[Patch]) -> tuple[int, int, int]:
    files = {f.path for p in series for f in p.files}
    added = sum(
        1
        for p in series
        for f in p.files
        for h in f.hunks
        for line in h[1:]
        if line.startswith("+")
    )
    removed = sum(
        1
        for p in series
        for f in p.files
        for h in f.hunks
        for line in h[1:]
        if line.startswith("-")
    )
    return len(files), added, removed


def cover_letter(
    root: Path,
    series: list[Patch],
    suites: list[Suite],
    bench: Path,
    newest: dt.datetime,
    onto: str | None,
    fixes: list[Patch],
) -> str:
    nfiles, added, removed = diffstat(series)
    lines = [
        "# Add a scif:// transport (Intel SCIF: host <-> Xeon Phi coprocessors)",
        "",
        "## What",
        "",
        f"{len(series)} patches against libzmq v4.3.4 ({nfiles} files, +{added} -{removed}):",
        "",
    ]
    lines += [f"{i}. {p.subject}" for i, p in enumerate(series, 1)]
    if fixes:
        lines += [
            "",
            f"**Prerequisite.** Patches 1 to {len(fixes)} fix libzmq's core and are proposed as "
            "a pull request of their own (build/pr-kit/core-fixes/), each with a test that "
            "fails without it; this one builds on them.",
        ]
    lines += [
        "",
        "## Why",
        "",
        "SCIF (Symmetric Communications Interface) connects a host and its PCIe",
        "coprocessors (Intel Xeon Phi) with ports, connections and a reliable byte",
        "stream. ZeroMQ applications split between a host and its cards today go",
        "through tcp:// over the virtual network interfaces MPSS sets up. A scif://",
        "transport lets every socket type except ZMQ_STREAM run directly over SCIF",
        "(bind `scif://*:PORT`, connect `scif://NODE:PORT`; node 0 is the host).",
        "",
        "## Design",
        "",
        "- Build: CMake `WITH_SCIF` (FindSCIF: `SCIF_ROOT`, `SCIF_INCLUDE_DIR`,",
        "  `SCIF_LIBRARY`) and autotools `--with-scif[=PATH]` define `ZMQ_HAVE_SCIF`;",
        '  off by default. `zmq_has("scif")` reports the transport.',
        "- `scif_address_t` parses bind forms `*:PORT`, `PORT`, `NODE:PORT` (local node",
        "  only, else EADDRNOTAVAIL) and `*:*` (ephemeral, read back with",
        "  ZMQ_LAST_ENDPOINT), connect form `NODE:PORT`; anything else is EINVAL.",
        "- `scif_engine_t` derives from `zmtp_engine_t` (no longer final): `read`/`write`",
        "  use non-blocking `scif_recv`/`scif_send`; handshake, codecs, security",
        "  mechanisms and heartbeats are ZMTP's own.",
        "- Large messages (DRAFT `ZMQ_SCIF_RMA_THRESHOLD`, 8 KiB by default) are written",
        "  with `scif_vwriteto` into a pool the receiver registered once per connection",
        "  after the handshake (`ZMQ_SCIF_RMA_WINDOW`, 8 MiB; a socket's pools within",
        "  `ZMQ_SCIF_RMA_MEMORY`) and announced by a `SCIFRMA` command frame in the ZMTP",
        "  stream, so order holds across both paths; the receiver copies those smaller",
        "  than a pool slot out and delivers larger ones in place, their slots",
        "  unregistered until released, and its engine reports released space on a",
        "  credit page.",
        "  They carry what the mechanism encoded (CURVE stays encrypted). Every size,",
        "  flag and credit from the peer is checked; the wire-format code has a",
        "  libFuzzer target (`unittests/unittest_scif_rma.cpp`).",
        "- `scif_listener_t` / `scif_connecter_t` follow the TCP ones: non-blocking",
        "  connect (EINPROGRESS, POLLOUT, second scif_connect), reconnection while a",
        "  node is not online (ENODEV) or nothing listens (ECONNREFUSED).",
        "- Two fixes that are not SCIF-specific, each in a patch of its own with a test",
        "  that fails without it: data a peer sent before hanging up while the session's",
        "  pipe was full is delivered instead of dropped (ipc:// lost it), and a",
        "  descriptor that is not a socket has no peer IP address instead of aborting.",
        "- Tests in the style of the TIPC ones; man page zmq_scif(7).",
        "",
        "## How it was tested",
        "",
        "Without a Xeon Phi, the tests run against a user-space implementation of the",
        "MPSS SCIF user API (same scif.h, same SONAME libscif.so.0) in which processes",
        "on one machine act as the SCIF nodes. The transport calls only functions of",
        "the MPSS user API; building it against Intel's own scif.h and running it on",
        "Xeon Phi hardware were not possible where these results were produced.",
        "",
    ]
    if suites:
        lines += [
            "| suite | passed | failed | skipped | of which SCIF tests passed | run |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for s in suites:
            total = s.passed + s.failed + s.skipped
            scif = (
                "-"
                if not s.scif[1]
                else "all"
                if s.scif[1] == total
                else f"{s.scif[0]}/{s.scif[1]}"
            )
            stale = " (older than the series)" if s.when < newest else ""
            counts = f"{s.passed} | {s.failed} | {s.skipped}"
            lines.append(f"| {s.name} | {counts} | {scif} | {stamp(s.when)}{stale} |")
        lines += ["", "(from the JUnit XML files ci/test writes to build/results/)", ""]
    else:
        lines += ["Test suites: not run (no JUnit results in build/results/; run ci/test).", ""]
    lines += ["## Performance", ""]
    bench_md, machine_md = bench / "bench.md", bench / "machine.md"
    if bench_md.is_file():
        when = dt.datetime.fromtimestamp(bench_md.stat().st_mtime, dt.timezone.utc)
        lines += [
            f"From build/bench/bench.md ({stamp(when)}):",
            "",
            bench_md.read_text().strip(),
            "",
        ]
        if machine_md.is_file():
            lines += [
                "Machine and method (build/bench/machine.md):",
                "",
                machine_md.read_text().strip(),
                "",
            ]
    else:
        lines += ["Benchmark: not run (no build/bench/bench.md; run ci/bench).", ""]
    notes = root / "ci" / "pr" / "review-notes.md"
    lines += [notes.read_text().strip(), ""]
    lines += ["## Upstream master", ""]
    lines += [onto or "Not checked (run ci/pr-kit --onto <libzmq master checkout>).", ""]
    return "\n".join(lines)


def core_fixes(series: list[Patch]) -> list[Patch]:
    """The leading patches that touch nothing of the transport: fixes to
    libzmq's core, which go to upstream as a pull request of their own."""
    fixes = []
    for patch in series:
        if any("scif" in f.path.lower() for f in patch.files) or any(
            "scif" in line.lower() for f in patch.files for line in f.added()
        ):
            break
        fixes.append(patch)
    return fixes


def core_fixes_letter(fixes: list[Patch]) -> str:
    lines = [
        "# Core fixes that the scif:// transport depends on",
        "",
        "Each is a problem of libzmq's core, shown by a test that fails without the fix;",
        "they come first in the scif:// series and are proposed on their own. These are the",
        "patches for v4.3.4; for master, the first ones of build/pr-kit/onto/ (ci/pr-kit --onto).",
        "",
    ]
    for i, p in enumerate(fixes, 1):
        tests = sorted(
            {f.path for f in p.files if f.path.startswith(("tests/", "unittests/"))}
            - {"tests/CMakeLists.txt", "unittests/CMakeLists.txt"}
        )
        lines += [f"{i}. {p.subject} (tests: {', '.join(tests) or 'none'})"]
        paragraphs = [" ".join(part.split()) for part in p.message.strip().split("\n\n")]
        lines += ["", *[f"   {part}\n" for part in paragraphs]]
    return "\n".join(lines)


def port_report(ported: list[dict]) -> list[str]:
    lines = [
        "## The series ported (build/pr-kit/onto/)",
        "",
        "| patch | ported | how |",
        "|---|---|---|",
    ]
    for i, r in enumerate(ported, 1):
        how = "; ".join(r["notes"]) or "applies as it is"
        lines.append(f"| {i:04d} {r['subject']} | {'yes' if r['ported'] else '**no**'} | {how} |")
    return [*lines, ""]


def without_local_paths(text: str, paths: dict[Path, str]) -> str:
    """Generated text is read on other machines: this one's paths go, each
    replaced by what it is (longest first, so that nested paths stay whole)."""
    for path, name in sorted(paths.items(), key=lambda item: -len(str(item[0]))):
        text = text.replace(str(path.resolve()), name)
    return text


def checklist(items: list[Item]) -> str:
    lines = [
        "# Pull-request checklist",
        "",
        "libzmq's contribution rules: the C4 process (rfc.zeromq.org/spec/44) and",
        "libzmq's .github/CONTRIBUTING.md. Each item says how it was checked.",
        f"Status: {PASS} checked and fine, {FAIL} checked and wrong, {WARN} worth a look,",
        f"{TODO} for a person to do, {NOT_RUN} not checked (the reason is given), {INFO}",
        "for review.",
        "",
    ]
    for item in items:
        lines.append(
            f"- [{'x' if item.status in (PASS, INFO) else ' '}] **{item.status}** {item.rule}"
        )
        lines.append(f"  - how: {item.how}")
        lines += [f"  - {d}" for d in item.details if d]
    failed = sum(item.status == FAIL for item in items)
    lines += [
        "",
        f"{failed} automatic check(s) failed." if failed else "No automatic check failed.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--build", type=Path, required=True)
    ap.add_argument("--patches", type=Path, required=True)
    ap.add_argument("--checkout", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--onto", type=Path)
    ap.add_argument("--onto-log", type=Path, help="its output")
    ap.add_argument("--onto-port", type=Path, help="ci/port_onto.py's per-patch report")
    ap.add_argument("--onto-build", type=Path, help="ci/onto-build's summary")
    args = ap.parse_args()

    series = read_series(args.patches)
    if not series:
        print(f"[pr-kit] error: no patches in {args.patches}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for p in series:
        shutil.copy2(p.path, args.out / p.name)
    newest = newest_patch_time(series)
    suites = read_results(args.build / "results")
    fixes = core_fixes(series)
    if fixes:
        core = args.out / "core-fixes"
        core.mkdir()
        for p in fixes:
            shutil.copy2(p.path, core / p.name)
        (core / "cover-letter.md").write_text(core_fixes_letter(fixes))

    items = check_messages(series)
    items += [
        check_authors(series),
        check_scope(series),
        check_patch_size(series),
        check_test_portability(series),
        check_spdx(series),
        check_relicense(series, args.root, args.onto),
        check_format(args.root),
        check_whitespace(series),
        check_applies(args.root),
        check_builds(args.build, series, newest),
        check_tests(series, suites, newest),
        check_docs(series),
        check_public_api(series),
        check_upstream_ci(series, args.root),
        check_core_fixes(series, fixes),
        check_drift(args.root, args.checkout),
        Item(
            "Run on Xeon Phi hardware, against Intel MPSS's libscif.so.0 and scif.h",
            TODO,
            "a person with an MPSS host and a card: the steps of docs/verified.rst "
            "(everything here ran on the emulator only; say so in the pull request until then)",
        ),
    ]

    onto_summary = None
    if args.onto is not None:
        # How the series as it is applies there: what porting had to change.
        _, report = analyse_onto(
            series, args.onto.resolve(), args.build / "series-check", args.build / "pr-kit-onto"
        )
        log = args.onto_log.read_text().strip() if args.onto_log else ""
        ported = json.loads(args.onto_port.read_text()) if args.onto_port else []
        built = args.onto_build.read_text().strip() if args.onto_build else ""
        all_ported = bool(ported) and all(r["ported"] for r in ported)
        text = ["# The series on another checkout", "", *report[:1], ""]
        text += port_report(ported)
        if built:
            text += [built.replace("# ", "## ", 1), ""]
        text += ["## The unported series, applied with 3-way merges", "", *report[1:]]
        text += ["## ci/series check --onto", "", "```", log, "```", ""]
        (args.out / "onto.md").write_text("\n".join(text))
        target = report[0].removeprefix("Target: ").removesuffix(".")
        count = f"{sum(r['ported'] for r in ported)}/{len(ported)}"
        onto_summary = (
            f"Ported onto {target}: {count} patches apply there with `git am` "
            "(build/pr-kit/onto/; how each was placed: onto.md)."
        )
        if built:
            onto_summary += "\n\n" + built.split("\n", 1)[1].strip()
        items.append(
            Item(
                "Rebased on upstream master, no merge commits",
                PASS
                if all_ported and "does not build" not in built and " failed" not in built
                else FAIL,
                "automatic: ci/port_onto.py replays every patch onto the checkout given "
                "(onto.md); with --build, ci/onto-build builds and tests it",
                [
                    f"{'ported' if r['ported'] else 'NOT PORTED'}: {r['subject']}"
                    + (f" ({'; '.join(r['notes'])})" if not r["ported"] else "")
                    for r in ported
                ],
            )
        )
    else:
        items.append(
            Item(
                "Rebased on upstream master, no merge commits",
                NOT_RUN,
                "ci/pr-kit --onto <libzmq master checkout> tries it (the series is linear by "
                "construction: git format-patch of one branch)",
            )
        )

    (args.out / "cover-letter.md").write_text(
        cover_letter(args.root, series, suites, args.build / "bench", newest, onto_summary, fixes)
    )
    (args.out / "CHECKLIST.md").write_text(checklist(items))
    local = {args.build: "build", args.root: ".", args.patches: "patches/scif"}
    if args.onto is not None:
        local[args.onto] = "the target checkout"
    for generated in args.out.rglob("*.md"):
        generated.write_text(without_local_paths(generated.read_text(), local))
    # What FairMQ, the framework scif:// is for, needs to use it.
    shutil.copy2(args.root / "ci" / "pr" / "fairmq-proposal.md", args.out)
    failed = [item.rule for item in items if item.status == FAIL]
    todo = [item.rule for item in items if item.status == TODO]
    print(
        f"[pr-kit] wrote {args.out}: {len(series)} patches, cover-letter.md, CHECKLIST.md, "
        "fairmq-proposal.md" + (", onto.md" if args.onto else ""),
        file=sys.stderr,
    )
    for rule in failed:
        print(f"[pr-kit] FAIL {rule}", file=sys.stderr)
    for rule in todo:
        print(f"[pr-kit] TODO {rule}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
