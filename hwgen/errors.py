"""Errors that reach the user as one line and a non-zero exit code."""


class HwgenError(Exception):
    """A user-facing error. ``str(err)`` is one line: ``FILE: FIELD: message``."""

    exit_code = 2

    def __init__(self, message, *, file=None, field=None):
        self.file = file
        self.field = field
        self.message = message
        parts = [str(p) for p in (file, field) if p]
        super().__init__(": ".join(parts + [message]))


class ModelError(HwgenError):
    """The model description (YAML or weights) is malformed or inconsistent."""


class ToolMissing(HwgenError):
    """An external tool (Yosys, Verilator, nextpnr ...) is not installed."""

    exit_code = 3
