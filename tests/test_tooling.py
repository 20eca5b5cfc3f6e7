"""The contribution tooling: ci/pr-kit, ci/check-series-format, ci/compare_junit.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARBALL = "zeromq3_4.3.4.orig.tar.gz"
PATCHES = sorted((ROOT / "patches" / "scif").glob("*.patch"))


def run(
    cmd: list[str], build: Path, patches: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SCIF_ZMQ_BUILD_DIR": str(build),
        "SCIF_ZMQ_NO_SUBMODULE": "1",
        # Tools of this interpreter's venv (e.g. clang-format) come first.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if patches is not None:
        env["SCIF_ZMQ_PATCHES_DIR"] = str(patches)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A private build directory holding only libzmq's source tarball."""
    tarball = ROOT / "build" / "dl" / TARBALL
    if not tarball.is_file():
        result = run([str(ROOT / "ci" / "fetch-libzmq")], ROOT / "build")
        assert result.returncode == 0, result.stderr
    build = tmp_path / "build"
    (build / "dl").mkdir(parents=True)
    shutil.copy(tarball, build / "dl" / TARBALL)
    return build


def doctored(tmp_path: Path, edit: str, old: str, new: str) -> Path:
    """A copy of the series in which patch *edit* has *old* replaced by *new*."""
    patches = tmp_path / "patches"
    shutil.copytree(ROOT / "patches" / "scif", patches)
    target = next(patches.glob(f"{edit}-*.patch"))
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    return patches


def subject(patch: Path) -> str:
    """The subject of a format-patch file, unfolded, without "[PATCH n/m]"."""
    header = patch.read_text().split("\n\n", 1)[0]
    match = re.search(r"^Subject: (.*(?:\n .*)*)", header, flags=re.M)
    assert match
    return re.sub(r"^\[PATCH[^\]]*\]\s*", "", re.sub(r"\n\s+", " ", match[1]))


def test_pr_kit_writes_the_patches_letter_and_checklist(build: Path) -> None:
    result = run([str(ROOT / "ci" / "pr-kit")], build)
    kit = build / "pr-kit"
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in kit.glob("*.patch")) == [p.name for p in PATCHES]
    letter = (kit / "cover-letter.md").read_text()
    for i, patch in enumerate(PATCHES, 1):
        assert f"{i}. {subject(patch)}\n" in letter
    # Nothing was run in this build directory, and the letter says so.
    assert "Test suites: not run" in letter
    assert "Benchmark: not run" in letter
    # The point-by-point answer to a maintainer's review, VSOCK as the yardstick.
    assert "## Review notes" in letter
    assert "VSOCK" in letter
    # The core fixes lead the series and go upstream as a pull request of their own.
    core = sorted(p.name for p in (kit / "core-fixes").glob("*.patch"))
    assert core == [p.name for p in PATCHES[: len(core)]] and len(core) == 2
    assert "Patches 1 to 2 fix libzmq's core" in letter
    assert "test_hangup_during_backpressure" in (kit / "core-fixes" / "cover-letter.md").read_text()
    checklist = (kit / "CHECKLIST.md").read_text()
    assert "**PASS** ... followed by a blank line and the proposed solution" in checklist
    assert "**PASS** The series applies, patch by patch" in checklist
    assert "**NOT RUN** Each patch builds on its own" in checklist
    assert "**TODO** Upstream CI builds and tests the transport" in checklist
    assert "**PASS** Fixes to libzmq's core are a pull request of their own" in checklist
    proposal = (kit / "fairmq-proposal.md").read_text()
    assert "`fair::mq::Channel::Validate()`" in proposal


def test_pr_kit_reports_numbers_only_from_result_files(build: Path) -> None:
    (build / "results").mkdir()
    (build / "results" / "libzmq.xml").write_text(
        '<testsuite><testcase name="test_pair_scif"/><testcase name="test_pair_tcp"/>'
        '<testcase name="test_x"><failure/></testcase></testsuite>'
    )
    (build / "bench").mkdir()
    table = "| transport | msg/s |\n|---|---:|\n| scif | 12345 |\n"
    (build / "bench" / "bench.md").write_text(table)
    run([str(ROOT / "ci" / "pr-kit")], build)
    letter = (build / "pr-kit" / "cover-letter.md").read_text()
    assert "| libzmq | 2 | 1 | 0 | 1/1 |" in letter
    assert table.strip() in letter
    checklist = (build / "pr-kit" / "CHECKLIST.md").read_text()
    assert "**FAIL** Tests:" in checklist


def test_pr_kit_detects_a_missing_solution_line(build: Path, tmp_path: Path) -> None:
    patches = doctored(tmp_path, "0006", "\nSolution: ", "\nFix: ")
    result = run([str(ROOT / "ci" / "pr-kit")], build, patches)
    assert result.returncode == 1
    assert "FAIL ... followed by a blank line and the proposed solution" in result.stderr
    checklist = (build / "pr-kit" / "CHECKLIST.md").read_text()
    assert "**FAIL** ... followed by a blank line" in checklist
    assert "no `Solution:` line: 0006-Problem-nothing-listens-for-SCIF-connections.patch" in (
        checklist
    )
    assert "**PASS** Commit messages state the problem" in checklist


def test_check_series_format_flags_a_misformatted_new_file(build: Path, tmp_path: Path) -> None:
    assert shutil.which("clang-format", path=str(Path(sys.executable).parent)) or shutil.which(
        "clang-format"
    ), "clang-format missing (ci/requirements-test.txt installs it)"
    clean = run([str(ROOT / "ci" / "check-series-format")], build)
    assert clean.returncode == 0, clean.stderr
    patches = doctored(
        tmp_path,
        "0004",
        "+uint16_t zmq::scif_address_t::node () const",
        "+uint16_t zmq::scif_address_t::node() const",
    )
    result = run([str(ROOT / "ci" / "check-series-format")], build, patches)
    assert result.returncode == 1
    assert "not clang-format clean: src/scif_address.cpp (added by 0004-" in result.stderr
    assert "+uint16_t zmq::scif_address_t::node () const" in result.stderr


def junit(path: Path, outcomes: dict[str, str]) -> Path:
    """A JUnit report of tests/test_log.py::TestPubLog tests with these outcomes,
    and of a module skipped when collected, as pytest reports one."""
    cases = '<testcase classname="" name="tests.test_mypy"><skipped/></testcase>'
    cases += "".join(
        f'<testcase classname="tests.test_log.TestPubLog" name="{name}">'
        + {"passed": "", "failed": "<failure/>", "skipped": "<skipped/>"}[outcome]
        + "</testcase>"
        for name, outcome in outcomes.items()
    )
    path.write_text(f"<testsuites><testsuite>{cases}</testsuite></testsuites>")
    return path


def compare_junit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "ci" / "compare_junit.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compare_junit_lists_the_tests_to_run_again(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_log.py").touch()
    stock = junit(tmp_path / "stock.xml", {"test_a": "passed", "test_b": "passed"})
    scif = junit(tmp_path / "scif.xml", {"test_a": "failed", "test_b": "passed"})
    differ = tmp_path / "differ.txt"
    result = compare_junit(tmp_path, "--differ-to", str(differ), f"stock={stock}", f"scif={scif}")
    assert result.returncode == 1, result.stderr
    assert differ.read_text() == "tests/test_log.py::TestPubLog::test_a\n"
    assert "stock: 2 passed, 0 failed, 1 skipped (3 tests)" in result.stdout


@pytest.mark.parametrize(
    ("scif_reruns", "verdict"),
    [(["failed", "failed", "failed"], 1), (["failed", "passed", "failed"], 0)],
)
def test_compare_junit_fails_only_on_a_test_that_always_fails(
    tmp_path: Path, scif_reruns: list[str], verdict: int
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_log.py").touch()
    tests = tmp_path / "differ.txt"
    tests.write_text("tests/test_log.py::TestPubLog::test_a\n")
    stock = [junit(tmp_path / f"stock-{i}.xml", {"test_a": "passed"}) for i in range(3)]
    scif = [
        junit(tmp_path / f"scif-{i}.xml", {"test_a": outcome})
        for i, outcome in enumerate(scif_reruns)
    ]
    result = compare_junit(
        tmp_path,
        "--verdict",
        "--tests",
        str(tests),
        "stock=" + ",".join(map(str, stock)),
        "scif=" + ",".join(map(str, scif)),
    )
    assert result.returncode == verdict, result.stdout
    passed = scif_reruns.count("passed")
    assert f"stock passed 3/3, scif passed {passed}/3" in result.stdout
    assert ("REGRESSION" in result.stdout) == (verdict == 1)


def test_pr_kit_flags_a_fixed_port_in_a_test(build: Path, tmp_path: Path) -> None:
    patches = doctored(
        tmp_path,
        "0009",
        'test_bind (first, "scif://*:*", endpoint, sizeof endpoint);',
        'test_bind (first, "scif://*:5570", endpoint, sizeof endpoint);',
    )
    result = run([str(ROOT / "ci" / "pr-kit")], build, patches)
    assert result.returncode == 1
    checklist = (build / "pr-kit" / "CHECKLIST.md").read_text()
    assert "**FAIL** Tests run anywhere the transport runs" in checklist
    assert "tests/test_address_scif.cpp (0009-" in checklist
    assert '"scif://*:5570"' in checklist
    assert "**PASS** Each patch can be reviewed in one sitting" in checklist
