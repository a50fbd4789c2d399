"""The --app options `tinyqi build` and `tinyqi flash` share: which firmware, and for the monitor app its samples."""

from __future__ import annotations

import math

import click

from tinyqi.commands.params import DATA_DIR, PositiveFloat
from tinyqi.errors import TinyqiError

DEFAULT_RECORD = "100"  # a DS2 record, in the bundled sample too
DEFAULT_SECONDS = 60.0  # ECG; a vibration stream defaults to the rest of each recording's test side


class StartSeconds(click.ParamType):
    """Seconds into the record, 0 allowed; a bad value is one TinyqiError line, as the types of params.py."""

    name = "seconds"

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TinyqiError(f"--start {value}: not a number; give the seconds into the record, e.g. 600") from None
        if not (math.isfinite(number) and number >= 0):
            raise TinyqiError(f"--start {value}: must be 0 or more seconds into the record")
        return number


SECONDS = PositiveFloat("give the excerpt's length in seconds, e.g. 60")
START = StartSeconds()


def app_options(default_source: str):
    """Decorator adding --app and the monitor's options; `default_source` is the monitor's sample source."""

    def decorate(command):
        options = [
            click.option("--app", default="harness", show_default=True,
                         help="harness: the golden-vector check; monitor: samples -> chain -> model per ECG beat or "
                              "per vibration window (the task of RUN_DIR's metrics.json)."),
            click.option("--source", default=None,
                         help=f"Monitor samples: stream (recorded, for the emulator) or saadc (the board's ADC, ECG "
                              f"only); default {default_source} (vibration: stream)."),
            click.option("--record", "records", multiple=True,
                         help=f"Monitor stream: a MIT-BIH record (default {DEFAULT_RECORD}), or for a vibration run "
                              "a held-out CWRU file number (default the 0.007 in inner-race fault at the test load); "
                              "repeatable."),
            click.option("--seconds", type=SECONDS, default=None,
                         help=f"Monitor stream: seconds of each record (default {DEFAULT_SECONDS:g}; vibration: the "
                              "rest of the recording's test side)."),
            click.option("--start", type=START, default=None,
                         help="Monitor stream: where each excerpt starts, in seconds into the record (default 0; "
                              "vibration: where the recording's test side starts)."),
            click.option("--data-dir", type=DATA_DIR, default=None,
                         help="Data root holding mitdb/ or cwru/ (default $TINYQI_DATA, else ~/.cache/tinyqi/data)."),
            click.option("--sample/--full", "sample", default=None,
                         help="Monitor stream from the bundled sample / the full data (default: the full data "
                              "when present, else the sample)."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def monitor_plan(board, app, source, records, seconds, start, data_dir, sample, default_source, harness_only,
                 model_dir=None):
    """(source, excerpts) for --app monitor on `board` and the task of `model_dir` (ECG without one); checks no
    option of the other app was given (one line each) before any data is read."""
    from tinyqi.firmware.monitor import check_app, check_records, environment, monitor_task
    from tinyqi.signal.stream import load_excerpt

    check_app(app)
    if app == "harness":
        if source is not None or records:
            raise TinyqiError("--source and --record are options of --app monitor; add --app monitor")
        return None, ()
    given = [name for name, value in harness_only.items() if value]
    if given:
        raise TinyqiError(f"{', '.join(given)}: an option of the harness app, not of --app monitor; drop it")
    task = monitor_task(model_dir)
    if task == "vibration":
        return _vibration_plan(board, source, records, seconds, start, data_dir, sample, model_dir)
    source = source or default_source
    environment(board, source)
    names = tuple(records) or ((DEFAULT_RECORD,) if source == "stream" else ())
    check_records(source, names)
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    return source, tuple(load_excerpt(name, seconds, start or 0.0, data_dir, sample) for name in names)


def _vibration_plan(board, source, records, seconds, start, data_dir, sample, model_dir):
    """A vibration run's stream: held-out CWRU recordings of its split (tinyqi.signal.vibration_stream)."""
    from tinyqi.firmware.monitor import check_records, environment, vibration_split
    from tinyqi.signal.vibration_stream import default_record, load_vibration_excerpt

    source = source or "stream"
    environment(board, source, "vibration")
    split = vibration_split(model_dir)
    names = tuple(records) or (default_record(split),)
    check_records(source, names)
    excerpts = tuple(load_vibration_excerpt(name, split, seconds, start, data_dir, sample) for name in names)
    check_records(source, tuple(e.record for e in excerpts))  # '108' and '108.mat' name one recording
    return source, excerpts
