"""Port the series onto another libzmq checkout (run through ci/pr-kit --onto).

Each commit of the series (in --source, the series applied to its base) is
replayed onto a clone of --onto and committed there with its message, so
that the format-patch series written to --out applies with plain `git am`:

* code, build files and tests: `git apply --3way` against the blobs the patch
  was made from; option numbers the series defines are renumbered past the
  target's own if the target already uses them;
* man pages, where the target uses asciidoctor (`doc/*.adoc`): pages the
  series adds are converted whole; in upstream pages, sections the series adds
  (e.g. a socket option) are placed after the section they follow, and every
  other change is replayed on the target's text: a line inserted after a
  line or link the target also has, an item added to an enumeration of
  transports or links, or lines replaced where the target still has them.

A commit that cannot be ported is reported, and the commits after it are
ported onto what was ported before it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

LINK = re.compile(r"linkzmq:([\w.-]+)\[(\d)\]")
TITLE_UNDERLINE = {"=": "=", "-": "==", "~": "===", "^": "===="}
ITEM = r"(?:'[a-z]+'|xref:[\w.-]+\[[^\]]*\])"
ENUMERATION = re.compile(rf"{ITEM}(?:,\s+{ITEM})*,?\s+and\s+{ITEM}")
BARE_LINK = re.compile(r"^(\s*(?:\* )?)xref:\S+$")
#  Lines an enumeration grew on are wrapped again past this.
WIDTH = 80
DEFINE = re.compile(r"^#define (ZMQ_\w+) (\d+)\b")


class PortError(Exception):
    """A change the porter cannot place in the target."""


def git(repo: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise PortError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


# --- asciidoc (libzmq <= 4.3) to asciidoctor (libzmq master) -----------------


def convert_links(line: str) -> str:
    return LINK.sub(lambda m: f"xref:{m[1]}.adoc[{m[1]}]", line)


def is_underline(line: str, title: str) -> bool:
    return (
        len(line) >= 2
        and line[0] in TITLE_UNDERLINE
        and line == line[0] * len(line)
        and title.strip() != ""
        and abs(len(line) - len(title)) <= 2
    )


def convert_page(text: str) -> str:
    """A whole man page in asciidoctor form: `=` titles, xrefs, listed see-also."""
    lines = text.split("\n")
    out: list[str] = []
    in_block = False
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line in ("----", "...."):
            in_block = not in_block
            out.append(line)
        elif not in_block and i + 1 < len(lines) and is_underline(lines[i + 1], line):
            out.append(f"{TITLE_UNDERLINE[lines[i + 1][0]]} {line}")
            section = line
            i += 1
        elif in_block:
            out.append(line)
        else:
            line = convert_links(line)
            if section == "SEE ALSO" and BARE_LINK.match(line) and not line.startswith("* "):
                line = "* " + line.strip()
            out.append(line)
        i += 1
    return "\n".join(out)


# --- placing changes in a page the target has --------------------------------


def norm(line: str) -> str:
    return " ".join(line.split())


def link_tokens(line: str) -> set[str]:
    return set(re.findall(r"xref:[\w.-]+\[[^\]]*\]|^'[a-z', ]+'::", line.strip()))


def find_anchor(target: list[str], before: list[str]) -> int:
    """Index in target of the last non-blank line of before (the context a
    change follows), recognised by its text or by the link it holds."""
    anchors = [i for i, line in enumerate(before) if line.strip()]
    if not anchors:
        raise PortError("no context to place an insertion after")
    anchor = before[anchors[-1]]
    candidates = [i for i, line in enumerate(target) if norm(line) == norm(anchor)]
    if not candidates and link_tokens(anchor):
        tokens = link_tokens(anchor)
        candidates = [i for i, line in enumerate(target) if tokens & link_tokens(line)]
    if not candidates:
        raise PortError(f"the target has no line like {anchor.strip()!r}")

    def agreement(index: int) -> int:
        score = 0
        for back, line in enumerate(reversed(before[: anchors[-1]]), 1):
            if index - back < 0 or norm(target[index - back]) != norm(line):
                break
            score += 1
        return score

    best = max(candidates, key=agreement)
    if sum(1 for c in candidates if agreement(c) == agreement(best)) > 1:
        raise PortError(f"{anchor.strip()!r} is ambiguous in the target")
    return best


def insert_after(target: list[str], before: list[str], added: list[str]) -> None:
    anchor = find_anchor(target, before)
    last = max(i for i, line in enumerate(before) if line.strip())
    gap = len(before) - 1 - last
    at = anchor + 1
    while gap and at < len(target) and not target[at].strip():
        at += 1
        gap -= 1
    prefix = BARE_LINK.match(target[anchor])
    placed = [
        prefix[1] + line.strip() if prefix and BARE_LINK.match(line) else line for line in added
    ]
    if target[at : at + len(placed)] == placed:
        return
    target[at:at] = placed


def enumerations(text: str) -> list[list[str]]:
    return [re.findall(ITEM, m[0]) for m in ENUMERATION.finditer(text)]


def render(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def add_to_enumerations(target: list[str], removed: list[str], added: list[str]) -> None:
    """Replays items the change adds to enumerations ("'a', 'b' and 'c'")."""
    old, new = "\n".join(removed), "\n".join(added)
    old_lists, new_lists = enumerations(old), enumerations(new)
    if len(old_lists) != len(new_lists) or not old_lists:
        raise PortError("the change is not an addition to enumerations")
    insertions: list[tuple[list[str], str, str]] = []
    for before, after in zip(old_lists, new_lists, strict=True):
        for index, item in enumerate(after):
            if item not in before:
                if index == 0:
                    raise PortError(f"{item} is added first in its enumeration")
                insertions.append((before, after[index - 1], item))
    rest = new
    for _, _, item in insertions:
        rest = rest.replace(item, "", 1)
    if sorted(re.findall(r"[\w']+", rest)) != sorted(re.findall(r"[\w']+", old)):
        raise PortError("the change does more than add to enumerations")
    text = "\n".join(target)
    for before, predecessor, item in insertions:
        done = False
        for match in ENUMERATION.finditer(text):
            items = re.findall(ITEM, match[0])
            if predecessor in items and item not in items and len(set(items) & set(before)) >= 2:
                items.insert(items.index(predecessor) + 1, item)
                start = text.rfind("\n", 0, match.start()) + 1
                end = text.find("\n", match.end())
                end = len(text) if end < 0 else end
                lines = text[start : match.start()] + render(items) + text[match.end() : end]
                if max(map(len, lines.split("\n"))) > WIDTH:
                    lines = textwrap.fill(
                        " ".join(lines.split()),
                        width=WIDTH,
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                text = text[:start] + lines + text[end:]
                done = True
                break
        if not done and not any(item in e for e in enumerations(text)):
            raise PortError(f"no enumeration in the target to add {item} to")
    target[:] = text.split("\n")


def replace_lines(target: list[str], removed: list[str], added: list[str]) -> None:
    wanted = [norm(line) for line in removed]
    for i in range(len(target) - len(removed) + 1):
        if [norm(line) for line in target[i : i + len(removed)]] == wanted:
            target[i : i + len(removed)] = added
            return
    raise PortError(f"the target no longer has {removed[0].strip()!r}")


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)


def sections(lines: list[str]) -> list[Section]:
    """Lines grouped by two-line or `=` section titles (the first group has none)."""
    out = [Section("")]
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^=+ (.*)", line)
        if i + 1 < len(lines) and is_underline(lines[i + 1], line) and lines[i + 1][0] in "-~^":
            out.append(Section(line.strip(), [line, lines[i + 1]]))
            i += 2
            continue
        if heading:
            out.append(Section(heading[1].strip(), [line]))
        else:
            out[-1].lines.append(line)
        i += 1
    return out


def port_page(target_text: str, base_text: str, ours_text: str) -> str:
    """The target's page with what the series changed from base to ours."""
    base_titles = {s.title for s in sections(base_text.split("\n"))}
    ours = sections(ours_text.split("\n"))
    owned = [(k, s) for k, s in enumerate(ours) if s.title and s.title not in base_titles]
    kept = [line for s in ours if s.title in base_titles or not s.title for line in s.lines]
    target = target_text.split("\n")
    base = [convert_links(line) for line in base_text.split("\n")]
    kept = [convert_links(line) for line in kept]
    matcher = difflib.SequenceMatcher(a=base, b=kept, autojunk=False)
    # Backwards, so that earlier places in the target do not move.
    for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
        if tag == "equal":
            continue
        before, removed, added = base[max(0, i1 - 3) : i1], base[i1:i2], kept[j1:j2]
        if tag == "insert":
            insert_after(target, before, added)
            continue
        try:
            add_to_enumerations(target, removed, added)
        except PortError:
            replace_lines(target, removed, added)
    for k, section in owned:
        converted = [convert_links(line) for line in section.lines]
        present = [s for s in sections(target) if s.title == section.title]
        if present:
            start = index_of_section(target, section.title)
            target[start : start + len(present[0].lines)] = converted
            continue
        previous = ours[k - 1].title
        start = index_of_section(target, previous)
        length = len(next(s for s in sections(target) if s.title == previous).lines)
        target[start + length : start + length] = converted
    return "\n".join(target)


def index_of_section(lines: list[str], title: str) -> int:
    at = 0
    for s in sections(lines):
        if s.title == title:
            return at
        at += len(s.lines)
    raise PortError(f"the target has no section {title!r}")


def add_list_words(target_text: str, base_text: str, ours_text: str) -> str:
    """Makefile.am: words the series adds to a variable's list (a man page,
    say) go at the end of that list in the target."""
    out = target_text
    for variable in re.findall(r"^(\w+) =", ours_text, flags=re.M):
        added = [
            w for w in list_words(ours_text, variable) if w not in list_words(base_text, variable)
        ]
        missing = [w for w in added if w not in list_words(out, variable)]
        if not missing:
            continue
        match = re.search(rf"^{variable} =(?:.*\\\n)*.*$", out, flags=re.M)
        if not match:
            raise PortError(f"the target's Makefile.am has no {variable}")
        out = out[: match.end()] + " " + " ".join(missing) + out[match.end() :]
    return out


def list_words(text: str, variable: str) -> list[str]:
    match = re.search(rf"^{variable} =((?:.*\\\n)*.*)$", text, flags=re.M)
    return match[1].replace("\\\n", " ").split() if match else []


# --- option numbers ----------------------------------------------------------


def option_numbers(text: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in map(DEFINE.match, text.split("\n")) if m}


def last_option_number(numbers: set[int]) -> int:
    """The end of the run of socket option numbers from 1 (with the odd gap
    of a retired option), not constants such as ZMQ_GROUP_MAX_LENGTH."""
    top = 0
    for number in sorted(n for n in numbers if n >= 1):
        if number - top > 3:
            break
        top = number
    return top


def renumbering(diff: str, target: Path) -> dict[str, tuple[int, int]]:
    """If the target already uses a number the series gives one of its
    options, all of them move, in order, past the target's last option."""
    ours: dict[str, int] = {}
    for line in diff.split("\n"):
        m = DEFINE.match(line[1:]) if line.startswith("+") else None
        if m:
            ours[m[1]] = int(m[2])
    theirs: set[int] = set()
    for header in OPTION_HEADERS:
        path = target / header
        if path.is_file():
            theirs |= {
                n for name, n in option_numbers(path.read_text()).items() if name not in ours
            }
    top = last_option_number(theirs)
    if not any(n <= top and n in theirs for n in ours.values()):
        return {}
    ordered = sorted(ours.items(), key=lambda kv: kv[1])
    return {name: (number, top + 1 + i) for i, (name, number) in enumerate(ordered)}


def renumber(diff: str, moves: dict[str, tuple[int, int]]) -> str:
    for name, (old, new) in moves.items():
        diff = re.sub(rf"^([+ -]#define {name}) {old}\b", rf"\1 {new}", diff, flags=re.M)
    return diff


# --- code ------------------------------------------------------------------

#  Exact first, then with the target's lines reindented.
APPLY_MODES = ([], ["--ignore-whitespace"])
CONFLICT = re.compile(
    r"^<<<<<<< ours\n(.*?)^\|\|\|\|\|\|\| base\n(.*?)^=======\n(.*?)^>>>>>>> theirs\n",
    flags=re.M | re.S,
)
OPTION_HEADERS = ("include/zmq.h", "src/zmq_draft.h")


def split_files(diff: str) -> list[tuple[str, str]]:
    parts = re.split(r"(?m)^(?=diff --git )", diff)
    return [
        (re.match(r"diff --git a/(\S+)", part)[1], part)  # type: ignore[index]
        for part in parts
        if part.startswith("diff --git ")
    ]


def apply_file(work: Path, path: str, file_diff: str) -> str | None:
    """Applies one file's diff; None, or how it had to be placed."""
    added = [
        line[1:]
        for line in file_diff.split("\n")
        if line.startswith("+") and not line.startswith("+++")
    ]
    removed = [
        line
        for line in file_diff.split("\n")
        if line.startswith("-") and not line.startswith("---")
    ]
    if (
        path in OPTION_HEADERS
        and not removed
        and all(DEFINE.match(line) or not line.strip() for line in added)
    ):
        insert_defines(work / path, [line for line in added if line.strip()])
        return f"{path}: option numbers placed after the target's last option"
    for mode in APPLY_MODES:
        result = subprocess.run(
            ["git", "-C", str(work), "apply", *mode],
            input=file_diff,
            capture_output=True,
            text=True,
        )
        if result.returncode == 0:
            return f"{path}: applied with {' '.join(mode)}" if mode else None
    # Both sides added at the same place (a case, a source file, a member):
    # the target's additions, then the series'.
    result = subprocess.run(
        ["git", "-C", str(work), "-c", "merge.conflictStyle=diff3", "apply", "--3way"],
        input=file_diff,
        capture_output=True,
        text=True,
    )
    if "with conflicts" not in result.stderr and result.returncode != 0:
        raise PortError(f"{path} does not apply: {result.stderr.strip().splitlines()[-1]}")
    target = work / path
    target.write_text(CONFLICT.sub(lambda m: union(path, m[1], m[2], m[3]), target.read_text()))
    subprocess.run(["git", "-C", str(work), "reset", "-q", "--", path], check=True)
    return f"{path}: merged where the target also added lines" if result.returncode else None


USES = re.compile(r"(uses:\s*)([\w.-]+/[\w.-]+)@v(\d+)\b")


def target_action_versions(work: Path) -> dict[str, int]:
    """The newest major version of each GitHub action the target's own
    workflows use (at ONTO_BASE, before the series)."""
    listed = git(work, "ls-tree", "--name-only", "ONTO_BASE", ".github/workflows/").split()
    versions: dict[str, int] = {}
    for path in listed:
        for match in USES.finditer(git(work, "show", f"ONTO_BASE:{path}")):
            versions[match[2]] = max(versions.get(match[2], 0), int(match[3]))
    return versions


def align_actions(work: Path, path: str, file_diff: str) -> list[str]:
    """Actions the series' workflow lines use take the target's version:
    a job written for an older libzmq would keep a major the target left."""
    versions = target_action_versions(work)
    added = {line[1:] for line in file_diff.split("\n") if line.startswith("+")}
    notes = []

    def newer(match: re.Match[str]) -> str:
        wanted = versions.get(match[2])
        if wanted is None or wanted <= int(match[3]):
            return match[0]
        notes.append(f"{path}: {match[2]}@v{match[3]} -> @v{wanted}, as the target's workflows")
        return f"{match[1]}{match[2]}@v{wanted}"

    target = work / path
    lines = target.read_text().split("\n")
    target.write_text("\n".join(USES.sub(newer, line) if line in added else line for line in lines))
    return notes


def union(path: str, ours: str, base: str, theirs: str) -> str:
    if ours.startswith(base) and theirs.startswith(base):
        return base + ours[len(base) :] + theirs[len(base) :]
    if ours.endswith(base) and theirs.endswith(base):
        return ours[: len(ours) - len(base)] + theirs[: len(theirs) - len(base)] + base
    raise PortError(f"{path}: the target changed lines the series changes")


def insert_defines(header: Path, defines: list[str]) -> None:
    """After the define of the highest socket option number (counted over
    both option headers: zmq_draft.h starts its own with other constants)."""
    lines = header.read_text().split("\n")
    names = {DEFINE.match(d)[1] for d in defines}  # type: ignore[index]
    lines = [line for line in lines if not (DEFINE.match(line) and DEFINE.match(line)[1] in names)]  # type: ignore[index]
    numbers: set[int] = set()
    for other in OPTION_HEADERS:
        path = header.parents[len(Path(other).parts) - 1] / other
        if path.is_file():
            numbers |= {
                n for name, n in option_numbers(path.read_text()).items() if name not in names
            }
    top = last_option_number(numbers)
    places = [i for i, m in enumerate(map(DEFINE.match, lines)) if m and int(m[2]) == top]
    if not places:
        raise PortError(f"{header.name} has no socket option {top}")
    at = places[-1] + 1
    lines[at:at] = defines
    header.write_text("\n".join(lines))


# --- the series -------------------------------------------------------------


@dataclass
class Result:
    subject: str
    ported: bool
    notes: list[str] = field(default_factory=list)


def port_docs(work: Path, source: Path, base: str, commit: str, paths: list[str]) -> list[str]:
    notes = []
    for path in paths:
        at_commit = show(source, commit, path)
        if path == "doc/Makefile.am":
            current = (work / path).read_text()
            (work / path).write_text(
                add_list_words(current, show(source, base, path) or "", at_commit or "")
            )
            continue
        adoc = Path(path).with_suffix(".adoc").as_posix()
        base_text = show(source, base, path)
        if base_text is None:
            # A page of the series: converted whole, as it is at this commit.
            if at_commit is None:
                (work / adoc).unlink(missing_ok=True)
            else:
                (work / adoc).write_text(convert_page(at_commit))
            notes.append(f"{path} -> {adoc} (converted)")
        else:
            original = show(work, "ONTO_BASE", adoc)
            if original is None:
                raise PortError(f"the target has neither {path} nor {adoc}")
            (work / adoc).write_text(port_page(original, base_text, at_commit or ""))
            notes.append(f"{path} -> {adoc}")
    return notes


def show(repo: Path, rev: str, path: str) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True, text=True
    )
    return result.stdout if result.returncode == 0 else None


def port(onto: Path, source: Path, base: str, work: Path, out: Path) -> list[Result]:
    # A clone sharing the target's objects: the target itself is left as it is.
    subprocess.run(["rm", "-rf", str(work)], check=True)
    head = git(onto, "rev-parse", "HEAD").strip()
    git(onto.parent, "clone", "-q", "--shared", "--no-checkout", str(onto), str(work))
    git(work, "checkout", "-q", "--detach", head)
    git(work, "fetch", "-q", str(source), "HEAD")
    git(work, "tag", "-f", "ONTO_BASE", "HEAD")
    asciidoctor = (work / "doc" / "zmq.adoc").is_file() and not (work / "doc" / "zmq.txt").is_file()
    commits = git(source, "rev-list", "--reverse", f"{base}..HEAD").split()
    results = []
    for commit in commits:
        subject = git(source, "log", "-1", "--format=%s", commit).strip()
        result = Result(subject, True)
        changed = git(source, "diff", "--name-only", f"{commit}^", commit).split()
        docs = [
            p
            for p in changed
            if asciidoctor
            and (p.startswith("doc/") and (p.endswith(".txt") or p == "doc/Makefile.am"))
        ]
        diff = (
            git(
                source,
                "diff",
                "--full-index",
                "--binary",
                f"{commit}^",
                commit,
                "--",
                *[p for p in changed if p not in docs],
            )
            if len(docs) < len(changed)
            else ""
        )
        try:
            if diff:
                moves = renumbering(diff, work)
                for name, (old, new) in moves.items():
                    result.notes.append(f"{name}: {old} is taken in the target, renumbered {new}")
                for path, file_diff in split_files(renumber(diff, moves)):
                    note = apply_file(work, path, file_diff)
                    if note:
                        result.notes.append(note)
                    if path.startswith(".github/workflows/"):
                        result.notes += align_actions(work, path, file_diff)
            result.notes += port_docs(work, source, base, commit, docs)
            git(work, "add", "-A")
            fmt = git(source, "log", "-1", "--format=%an%n%ae%n%aD", commit).split("\n")
            git(
                work,
                "commit",
                "-q",
                "--allow-empty",
                "-F",
                "-",
                stdin=git(source, "log", "-1", "--format=%B", commit),
                env={
                    "GIT_AUTHOR_NAME": fmt[0],
                    "GIT_AUTHOR_EMAIL": fmt[1],
                    "GIT_AUTHOR_DATE": fmt[2],
                    "GIT_COMMITTER_NAME": fmt[0],
                    "GIT_COMMITTER_EMAIL": fmt[1],
                    "GIT_COMMITTER_DATE": fmt[2],
                },
            )
        except PortError as error:
            result.ported = False
            result.notes.append(str(error))
            git(work, "reset", "-q", "--hard", "HEAD")
        results.append(result)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*"):
        old.unlink()
    git(
        work,
        "format-patch",
        "-q",
        "--no-signature",
        "--zero-commit",
        "-o",
        str(out),
        "ONTO_BASE..HEAD",
    )
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onto", type=Path, required=True, help="the libzmq checkout to port onto")
    ap.add_argument("--source", type=Path, required=True, help="the series applied to its base")
    ap.add_argument("--base", required=True, help="the revision of --source the series starts at")
    ap.add_argument("--work", type=Path, required=True, help="where the clone of --onto goes")
    ap.add_argument("--out", type=Path, required=True, help="where the ported patches go")
    ap.add_argument("--json", type=Path, required=True, help="the per-commit report")
    args = ap.parse_args()
    results = port(
        args.onto.resolve(),
        args.source.resolve(),
        args.base,
        args.work.resolve(),
        args.out.resolve(),
    )
    args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1))
    ported = sum(r.ported for r in results)
    print(f"[pr-kit] ported {ported}/{len(results)} patches to {args.out}", file=sys.stderr)
    for r in results:
        if not r.ported:
            print(f"[pr-kit] not ported: {r.subject}: {'; '.join(r.notes)}", file=sys.stderr)
    return 0 if ported == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
