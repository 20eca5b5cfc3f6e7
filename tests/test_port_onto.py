"""ci/pr-kit --onto: the series ported onto a libzmq that moved on.

The target here is v4.3.4 changed the way upstream master changed it: man
pages converted to asciidoctor (`doc/*.adoc`), a transport added to the lists
the series adds scif to, and socket option numbers up to 125 taken (master's
NORM options end at 124)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARBALL = ROOT / "build" / "dl" / "zeromq3_4.3.4.orig.tar.gz"
PATCHES = sorted((ROOT / "patches" / "scif").glob("*.patch"))

spec = importlib.util.spec_from_file_location("port_onto", ROOT / "ci" / "port_onto.py")
assert spec and spec.loader
port_onto = importlib.util.module_from_spec(spec)
sys.modules["port_onto"] = port_onto
spec.loader.exec_module(port_onto)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    ).stdout


def test_convert_page_titles_links_and_see_also() -> None:
    page = "\n".join(
        [
            "zmq_x(7)",
            "========",
            "",
            "NAME",
            "----",
            "zmq_x - a transport",
            "",
            "Binding",
            "~~~~~~~",
            "See linkzmq:zmq_bind[3].",
            "----",
            "NAME",
            "----",
            "",
            "SEE ALSO",
            "--------",
            "linkzmq:zmq_tcp[7]",
        ]
    )
    assert port_onto.convert_page(page).split("\n") == [
        "= zmq_x(7)",
        "",
        "== NAME",
        "zmq_x - a transport",
        "",
        "=== Binding",
        "See xref:zmq_bind.adoc[zmq_bind].",
        # A listing block is left as it is.
        "----",
        "NAME",
        "----",
        "",
        "== SEE ALSO",
        "* xref:zmq_tcp.adoc[zmq_tcp]",
    ]


def test_items_added_to_enumerations_the_target_extended() -> None:
    target = [
        "The 'ipc', 'tcp', 'udp' and 'vsock' transports accept wildcards: see",
        "xref:zmq_ipc.adoc[zmq_ipc], xref:zmq_tcp.adoc[zmq_tcp],",
        "xref:zmq_udp.adoc[zmq_udp] and xref:zmq_vsock.adoc[zmq_vsock] for details.",
    ]
    removed = [
        "The 'ipc', 'tcp' and 'udp' transports accept wildcards: see",
        "xref:zmq_ipc.adoc[zmq_ipc], xref:zmq_tcp.adoc[zmq_tcp] and",
        "xref:zmq_udp.adoc[zmq_udp] for details.",
    ]
    added = [
        "The 'ipc', 'tcp', 'scif' and 'udp' transports accept wildcards:",
        "see xref:zmq_ipc.adoc[zmq_ipc], xref:zmq_tcp.adoc[zmq_tcp],",
        "xref:zmq_scif.adoc[zmq_scif] and xref:zmq_udp.adoc[zmq_udp] for details.",
    ]
    port_onto.add_to_enumerations(target, removed, added)
    text = " ".join(target)
    assert "'ipc', 'tcp', 'scif', 'udp' and 'vsock'" in text
    assert "xref:zmq_tcp.adoc[zmq_tcp], xref:zmq_scif.adoc[zmq_scif], xref:zmq_udp" in text
    assert all(len(line) <= 80 for line in target)


def test_a_change_that_is_not_an_addition_is_refused() -> None:
    target = ["The 'ipc' and 'tcp' transports accept wildcards."]
    with pytest.raises(port_onto.PortError):
        port_onto.add_to_enumerations(
            target,
            ["The 'ipc' and 'tcp' transports accept wildcards."],
            ["The 'ipc', 'scif' and 'tcp' transports reject wildcards."],
        )


def synthetic_master(path: Path) -> Path:
    """v4.3.4, then a commit that moves it on as master did."""
    path.mkdir()
    subprocess.run(["tar", "-xzf", str(TARBALL), "-C", str(path)], check=True)
    (tree,) = path.iterdir()
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "v4.3.4")
    for page in (tree / "doc").glob("*.txt"):
        page.with_suffix(".adoc").write_text(port_onto.convert_page(page.read_text()))
        page.unlink()
    bind = tree / "doc" / "zmq_bind.adoc"
    text = bind.read_text()
    udp = re.search(r"^'udp'::.*$", text, flags=re.M)
    assert udp
    text = text.replace(
        udp[0], udp[0] + "\n'vsock':: Linux VSOCK, see xref:zmq_vsock.adoc[zmq_vsock]"
    )
    text = text.replace("'vmci' and 'udp' transports", "'vmci', 'udp' and 'vsock' transports")
    bind.write_text(text)
    workflow = tree / ".github" / "workflows" / "CI.yaml"
    workflow.write_text(workflow.read_text().replace("actions/checkout@v2", "actions/checkout@v7"))
    for header in ("include/zmq.h", "src/zmq_draft.h"):
        path_ = tree / header
        text = path_.read_text()
        extra = "".join(f"#define ZMQ_UPSTREAM_OPTION_{n} {n}\n" for n in range(113, 126))
        path_.write_text(
            text.replace("#define ZMQ_PRIORITY 112\n", "#define ZMQ_PRIORITY 112\n" + extra)
        )
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "what master changed")
    return tree


def test_pr_kit_ports_the_series_onto_a_moved_libzmq(tmp_path: Path) -> None:
    if not TARBALL.is_file():
        result = subprocess.run([str(ROOT / "ci" / "fetch-libzmq")], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    target = synthetic_master(tmp_path / "target")
    build = tmp_path / "build"
    (build / "dl").mkdir(parents=True)
    shutil.copy(TARBALL, build / "dl" / TARBALL.name)
    env = {**os.environ, "SCIF_ZMQ_BUILD_DIR": str(build), "SCIF_ZMQ_NO_SUBMODULE": "1"}
    result = subprocess.run(
        [str(ROOT / "ci" / "pr-kit"), "--onto", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert f"ported {len(PATCHES)}/{len(PATCHES)} patches" in result.stderr, result.stderr
    onto = build / "pr-kit" / "onto"
    ported = sorted(onto.iterdir())
    assert [p.suffix for p in ported] == [".patch"] * len(PATCHES)
    # The target is left as it was.
    assert git(target, "status", "--porcelain") == ""
    assert "ONTO_BASE" not in git(target, "tag")

    # Plain git am, in order, onto a clone of the target.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(target), str(clone))
    git(clone, "am", "-q", *map(str, ported))
    doc = clone / "doc"
    assert (doc / "zmq_scif.adoc").read_text().startswith("= zmq_scif(7)\n")
    assert not list(doc.glob("zmq_scif.txt"))
    bind = (doc / "zmq_bind.adoc").read_text()
    assert re.search(r"^'scif':: .*xref:zmq_scif\.adoc\[zmq_scif\]$", bind, flags=re.M)
    assert re.search(r"'vmci',\s+'scif',\s+'udp'\s+and\s+'vsock'", bind)
    assert "* xref:zmq_scif.adoc[zmq_scif]" in (doc / "zmq_tcp.adoc").read_text()
    assert "zmq_scif.7" in (doc / "Makefile.am").read_text()
    assert "ZMQ_SCIF_RMA_THRESHOLD: Set the size" in (doc / "zmq_setsockopt.adoc").read_text()
    # 125 is taken: the options move past the target's last one, in order.
    for header in ("include/zmq.h", "src/zmq_draft.h"):
        text = (clone / header).read_text()
        assert "#define ZMQ_UPSTREAM_OPTION_125 125\n#define ZMQ_SCIF_RMA_THRESHOLD 126\n" in text
        assert "#define ZMQ_SCIF_RMA_WINDOW 127\n#define ZMQ_SCIF_RMA_MEMORY 128\n" in text
    report = (build / "pr-kit" / "onto.md").read_text()
    assert "ZMQ_SCIF_RMA_THRESHOLD: 125 is taken in the target, renumbered 126" in report
    # The job the series adds uses the actions' versions the target uses.
    workflow = (clone / ".github" / "workflows" / "CI.yaml").read_text()
    assert "actions/checkout@v2" not in workflow
    assert "actions/checkout@v2 -> @v7, as the target's workflows" in report
    # Generated text names no path of this machine.
    for generated in (build / "pr-kit").glob("*.md"):
        text = generated.read_text()
        assert str(tmp_path) not in text and str(ROOT) not in text, generated.name
    checklist = (build / "pr-kit" / "CHECKLIST.md").read_text()
    assert "**PASS** Rebased on upstream master" in checklist
