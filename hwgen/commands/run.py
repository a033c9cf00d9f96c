"""``hwgen run``: run a batch on a board over its serial host link (see hwgen.fpga.hostlink).

    hwgen run MODEL.yaml --port PORT --input X.npy --output Y.npy [--baud B] [--timeout S] [--json]

Opens the board's serial port (a device path, or any pyserial URL such as ``socket://host:port``),
resynchronizes the link, checks with IDENTIFY that the board runs the accelerator for MODEL
(geometry and weight fingerprint; otherwise a one-line error and exit code 2), sends the batch
keeping the device's window of frames in flight, writes the outputs atomically (int8, or int32
for ``output: acc``) and prints a summary that compares them with the golden model.
"""

import time

import numpy as np

from ..errors import HwgenError

PYSERIAL_HINT = "pip install pyserial==3.5"


def register(subparsers):
    p = subparsers.add_parser("run", help="run a batch on an FPGA board over its UART host link")
    p.add_argument("model", help="model description (YAML) the board's bitstream was built from")
    p.add_argument("--port", help="serial port of the board (/dev/ttyUSB0, COM3) or a pyserial URL")
    p.add_argument("--input", required=True, help="int8 array (batch, features), .npy")
    p.add_argument("--output", required=True, help="where to write outputs (.npy: int8, or int32 for output: acc)")
    p.add_argument("--baud", type=int, default=115200, help="UART baud rate of the bitstream (default 115200)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each reply (default 5)")
    p.add_argument("--json", action="store_true", help="print a JSON summary (golden_match, seconds ...)")
    p.add_argument("--labels", help="labels (.npy) to report argmax accuracy against")
    p.set_defaults(func=cmd_run)
    return p


def _serial():
    try:
        import serial
    except ImportError:
        raise HwgenError(f"pyserial is not installed: {PYSERIAL_HINT} (hwgen run needs it)") from None
    return serial


def _one_line(e):
    text = " ".join(str(e).split())
    return text or type(e).__name__


def open_port(url, baud):
    """A pyserial port for ``url`` (path or URL) at ``baud``; HwgenError naming --port if it fails."""
    serial = _serial()
    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=0.25, write_timeout=30)
    except (serial.SerialException, OSError, ValueError) as e:
        raise HwgenError(f"cannot open serial port: {_one_line(e)}", file=url, field="--port") from None


def cmd_run(args):
    from ..cli import _load_input, _save_atomic, finish_summary
    from ..fpga import hostlink as hl
    from ..golden import golden
    from ..model import load_model
    from ..plan import make_plan

    if not args.port:
        raise HwgenError("required: the board's serial port (e.g. /dev/ttyUSB0) or a pyserial URL",
                         field="--port")
    if args.baud <= 0:
        raise HwgenError(f"must be a positive baud rate, got {args.baud}", field="--baud")
    if not args.timeout > 0:
        raise HwgenError(f"must be a positive number of seconds, got {args.timeout}", field="--timeout")
    model = load_model(args.model)
    x = _load_input(args.input, model)
    plan = make_plan(model)
    hl.check_supported(plan)
    serial = _serial()
    port = open_port(args.port, args.baud)
    try:
        client = hl.HostClient(port, plan, baud=args.baud, timeout=args.timeout)
        client.resync()
        info = client.identify()
        hl.check_device(info, plan)
        start = time.monotonic()
        y = client.run(x)
        seconds = time.monotonic() - start
    except serial.SerialException as e:
        raise HwgenError(f"serial port error: {_one_line(e)}", file=args.port, field="--port") from None
    finally:
        port.close()
    y = y.astype(model.output_dtype)
    _save_atomic(args.output, y)
    summary = {
        "model": model.name,
        "backend": "fpga",
        "port": args.port,
        "baud": args.baud,
        "batch": int(x.shape[0]),
        "seconds": round(seconds, 4),
        "vectors_per_second": round(x.shape[0] / seconds, 2) if seconds > 0 else None,
        "output": str(args.output),
        "dtype": np.dtype(model.output_dtype).name,
        "device": info.as_dict(),
        "golden_match": bool(np.array_equal(y, golden(model, x))),
    }
    return finish_summary(summary, y, args.labels, args.json,
                          f"hwgen: run: {summary['batch']} vectors on {args.port} in {seconds:.3f} s")
