"""Lint Amaranth-generated Verilog with ``verilator --lint-only -Wall``.

The waivers for warnings that Amaranth's Verilog backend produces by construction are in
``hwgen/data/verilator_waivers.vlt`` (each with its reason). One waiver cannot be written as a
Verilator control-file rule and is applied here: "Signal is not used" on a signal that is not a
port (its declaration line starts with ``wire`` or ``reg``) is dropped. Amaranth keeps every
named Python Signal in its output even when nothing reads it -- the parent-side alias of a
submodule port (``assign a = x;`` beside ``.a(x)``), flattened interface members
(``rp__addr``), struct fields (``pix.r``), ``$N`` temporaries, and outputs of a submodule that
its parent does not consume (a FIFO's ``w_level``) -- and synthesis removes them. Unread input
ports are still reported.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.tools import find_tool, verilator_env

__all__ = ["lint", "run_verilator_lint", "LintWarning", "WAIVER_FILE"]

#: The Verilator control file with hwgen's waivers for Amaranth output.
WAIVER_FILE = Path(__file__).resolve().parent / "data" / "verilator_waivers.vlt"

_MSG = re.compile(r"^%(?P<kind>Warning|Error)(?:-(?P<rule>[A-Z0-9_]+))?: "
                  r"(?:(?P<file>[^:\s][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? )?(?P<text>.*)$")
_UNUSED_NAME = re.compile(r"^Signal is not used: '(?P<name>[^']+)'$")
_NET_DECL = re.compile(r"^\s*(?:wire|reg)\b")


@dataclass(frozen=True)
class LintWarning:
    rule: str
    file: str
    line: int
    text: str

    def __str__(self):
        where = f"{Path(self.file).name}:{self.line}: " if self.file else ""
        return f"{self.rule}: {where}{self.text}"


def _as_paths(verilog_files) -> list[Path]:
    if isinstance(verilog_files, (str, Path)):
        verilog_files = [verilog_files]
    paths = [Path(f) for f in verilog_files]
    if not paths:
        raise HwgenError("lint: no Verilog files given")
    for p in paths:
        if not p.is_file():
            raise HwgenError("Verilog file not found", file=str(p))
    return paths


def _is_unread_internal_signal(w: LintWarning, lines_of) -> bool:
    if w.rule != "UNUSEDSIGNAL" or not w.file:
        return False
    m = _UNUSED_NAME.match(w.text)
    if m is None:
        return False
    lines = lines_of(w.file)
    if not 1 <= w.line <= len(lines):
        return False
    decl = lines[w.line - 1]
    return bool(_NET_DECL.match(decl)) and m.group("name") in decl


def run_verilator_lint(verilog_files, top: str, *, waivers: Path | None = WAIVER_FILE,
                       timeout: float = 600) -> list[LintWarning]:
    """Run Verilator's linter and return the warnings left after all waivers (possibly empty).

    Raises ToolMissing without Verilator, HwgenError if Verilator reports an error.
    """
    paths = _as_paths(verilog_files)
    exe = find_tool("verilator")
    cmd = [exe, "--lint-only", "-Wall", "-Wno-fatal", "--top-module", top]
    if waivers is not None:
        cmd.append(str(waivers))  # control files must come before the sources they govern
    cmd += [str(p.resolve()) for p in paths]
    try:
        proc = subprocess.run(cmd, env=verilator_env(), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HwgenError(f"verilator --lint-only did not finish within {timeout:g} s") from None
    output = proc.stderr + proc.stdout

    warnings, errors = [], []
    for raw in output.splitlines():
        m = _MSG.match(raw)
        if m is None:
            continue
        if m.group("kind") == "Error":
            if not m.group("text").startswith("Exiting due to"):
                errors.append(raw.strip())
            continue
        warnings.append(LintWarning(rule=m.group("rule") or "WARNING", file=m.group("file") or "",
                                    line=int(m.group("line") or 0), text=m.group("text")))
    if errors or proc.returncode != 0:
        first = errors[0] if errors else (output.strip().splitlines() or ["no output"])[-1]
        raise HwgenError(f"verilator --lint-only failed (exit {proc.returncode}): {first}")

    cache: dict[str, list[str]] = {}

    def lines_of(name):
        if name not in cache:
            try:
                cache[name] = Path(name).read_text(errors="replace").splitlines()
            except OSError:
                cache[name] = []
        return cache[name]

    return [w for w in warnings if not _is_unread_internal_signal(w, lines_of)]


def lint(verilog_files, top: str, *, max_listed: int = 5) -> None:
    """Lint ``verilog_files`` (Amaranth output) with top module ``top``.

    Returns None when no warning remains after the waivers; otherwise raises HwgenError whose
    one-line message lists the first ``max_listed`` warnings (all of them are in
    ``err.warnings``). Raises ToolMissing if Verilator is not installed.
    """
    remaining = run_verilator_lint(verilog_files, top)
    if remaining:
        shown = "; ".join(str(w) for w in remaining[:max_listed])
        more = f" (+{len(remaining) - max_listed} more)" if len(remaining) > max_listed else ""
        err = HwgenError(f"verilator lint: {len(remaining)} warning(s) not covered by "
                         f"{WAIVER_FILE.name}: {shown}{more}")
        err.warnings = remaining
        raise err
