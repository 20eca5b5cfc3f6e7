"""Which ``libscif.so.0`` the wheel's libzmq uses: Intel's, or the bundled emulator.

The wheel's libzmq finds ``libscif.so.0`` beside itself (RUNPATH ``$ORIGIN``),
which is the bundled user-space emulator. On a machine with the real SCIF
driver that would talk to emulated nodes, not to the cards, so before the
backend loads libzmq, :func:`load` loads the library chosen here by its path;
the dynamic linker then gives libzmq that one, as both have the same soname.

``SCIF_ZMQ_LIBSCIF`` chooses:

- ``auto`` (the default): the system's library when the SCIF driver is
  present (its device node, and a ``libscif.so.0`` in ``LD_LIBRARY_PATH`` or
  a system library directory; the device without such a library is an
  error), else the bundled one;
- ``bundled`` or ``system``: that one (``system`` fails if there is none);
- a path to a ``libscif.so.0``: that file.

``SCIF_ZMQ_SCIF_DEVICE`` and ``SCIF_ZMQ_SYSTEM_LIBDIRS`` (``:``-separated)
replace the device node and the system library directories looked at, for
tests and unusual installs.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SONAME = "libscif.so.0"
DEVICE = "/dev/mic/scif"
# Where Intel MPSS (and distribution packages) install it.
SYSTEM_LIBDIRS = ("/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib64")


@dataclass(frozen=True)
class Choice:
    """The library to load and why it was chosen."""

    path: Path
    kind: str  # "bundled", "system" or "path"
    reason: str


class SelectionError(RuntimeError):
    """``SCIF_ZMQ_LIBSCIF`` names a library that is not there."""


def bundled_library() -> Path:
    return Path(__file__).resolve().parent / "lib" / SONAME


def system_libdirs(env: Mapping[str, str]) -> list[str]:
    dirs = env.get("SCIF_ZMQ_SYSTEM_LIBDIRS")
    searched = env.get("LD_LIBRARY_PATH", "").split(":")
    searched += dirs.split(":") if dirs else SYSTEM_LIBDIRS
    return [directory for directory in searched if directory]


def system_library(env: Mapping[str, str]) -> Path | None:
    bundled = bundled_library()
    for directory in system_libdirs(env):
        candidate = Path(directory) / SONAME
        if candidate.is_file() and candidate.resolve() != bundled:
            return candidate
    return None


def choose(env: Mapping[str, str] | None = None) -> Choice:
    """The library ``SCIF_ZMQ_LIBSCIF`` (and the machine) select."""
    env = os.environ if env is None else env
    setting = env.get("SCIF_ZMQ_LIBSCIF", "auto") or "auto"
    device = Path(env.get("SCIF_ZMQ_SCIF_DEVICE", DEVICE))
    system = system_library(env)
    if setting == "bundled":
        return Choice(bundled_library(), "bundled", "SCIF_ZMQ_LIBSCIF=bundled")
    if setting == "system":
        if system is None:
            raise SelectionError(
                f"SCIF_ZMQ_LIBSCIF=system, but no {SONAME} in {':'.join(system_libdirs(env))}"
            )
        return Choice(system, "system", "SCIF_ZMQ_LIBSCIF=system")
    if setting == "auto":
        if not device.exists():
            return Choice(bundled_library(), "bundled", f"no SCIF driver ({device} is missing)")
        if system is None:
            # The emulator cannot reach the cards: a host process would wait
            # for a peer that never sees it.
            raise SelectionError(
                f"{device} exists (a SCIF driver), but no {SONAME} was found in "
                f"{':'.join(system_libdirs(env))}: install MPSS's libscif or point "
                f"SCIF_ZMQ_LIBSCIF at it (SCIF_ZMQ_LIBSCIF=bundled: the emulator, "
                "which cannot reach the cards)"
            )
        return Choice(system, "system", f"SCIF driver found ({device})")
    if "/" in setting:
        path = Path(setting)
        if not path.is_file():
            raise SelectionError(f"SCIF_ZMQ_LIBSCIF={setting}: no such file")
        return Choice(path, "path", "SCIF_ZMQ_LIBSCIF names it")
    raise SelectionError(
        f"SCIF_ZMQ_LIBSCIF={setting!r}: expected auto, bundled, system or a path to {SONAME}"
    )


_loaded: Choice | None = None
_library: ctypes.CDLL | None = None


def load() -> Choice:
    """Loads the chosen library for libzmq (once), and returns the choice."""
    global _loaded, _library
    if _loaded is None:
        choice = choose()
        _library = ctypes.CDLL(str(choice.path), mode=ctypes.RTLD_GLOBAL)
        _loaded = choice
    return _loaded


def environment_problem() -> str | None:
    """What is wrong with the ``SCIF_EMU_*`` variables, one line naming the
    variable and what it accepts; None when they are fine, or when the loaded
    library is not the emulator (MPSS's reads no such variables)."""
    check = getattr(_library, "scif_emu_check_environment", None)
    if check is None:
        return None
    problem = ctypes.create_string_buffer(256)
    return None if check(problem, len(problem)) == 0 else problem.value.decode()


def loaded_choice() -> Choice | None:
    """The choice :func:`load` made in this process, if it ran."""
    return _loaded


def emulator_domains() -> list[str]:
    """The names of this user's emulated machines (``SCIF_EMU_DOMAIN`` names)."""
    base = Path(f"/tmp/scif-emu-{os.geteuid()}")
    return sorted(entry.name for entry in base.iterdir() if entry.is_dir()) if base.is_dir() else []


def remove_domains(names: Iterable[str]) -> dict[str, str]:
    """Removes the named emulated machines that no process uses, through the
    bundled emulator; says for each what became of it ("removed", "in use",
    or the error)."""
    emulator = ctypes.CDLL(str(bundled_library()), use_errno=True)
    outcome = {}
    for name in names:
        if emulator.scif_emu_remove_domain(name.encode()) == 0:
            outcome[name] = "removed"
        else:
            error = ctypes.get_errno()
            outcome[name] = "in use" if error == errno.EBUSY else os.strerror(error)
    return outcome
