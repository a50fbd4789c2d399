"""`tinyqi sweep`: the driver. Ray Tune runs the trials (tinyqi.sweep.trial) with Optuna as its searcher
(ray.tune.search.optuna.OptunaSearch, multi-objective TPE over tinyqi.sweep.space), locally or on a Ray cluster;
this module records each finished trial in sweep.json, shows progress, and at the end selects and materialises
the Pareto points (tinyqi.sweep.pareto) and writes report.md.

Continuing (`--resume`): every run of `tinyqi sweep` on a directory is one Ray Tune experiment, tune/round-<n>,
asking for as many trials as the sweep still lacks. The searcher's memory is the Optuna study in study.journal
(Optuna's journal file storage), which every round loads: finished trials stay finished and keep informing the
search. Trials a Ctrl-C (or a lost machine) cut short are recovered at the start of the next round: one that had
written its trial.json is kept, the others are marked failed in the study and their configurations asked again
first (Optuna's enqueue_trial), so the search continues where it stopped instead of starting over.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.files import write_text
from tinyqi.sweep import pareto, report, state as states
from tinyqi.sweep.space import Space, default_space, get_space
from tinyqi.sweep.state import STUDY_NAME, TRIALS_DIR, TUNE_DIR, SweepState, trial_name
from tinyqi.sweep.trial import (ENGINE, OBJECTIVE_BOARD, OBJECTIVES, VALIDATION_SET, TrialSettings,
                                objective_values, one_line, read_trial)

DEFAULT_TRIALS = 20
GCS_PROBE = "/ray.rpc.NodeInfoGcsService/GetClusterId"  # Ray's GCS protocol (ray pinned in requirements.lock)


@dataclass(frozen=True)
class SweepOptions:
    task: str
    out: Path | None = None              # default runs/<task>-sweep
    trials: int | None = None            # trials in total (resume: default the sweep's own target)
    budget_minutes: float | None = None  # no new trial starts after this (running ones finish)
    concurrent: int | None = None        # trials at a time (local default: the machine's cores)
    address: str | None = None           # a Ray cluster's head, HOST:PORT (default $RAY_ADDRESS, else local)
    resume: bool = False
    quick: bool | None = None            # None: not said (a resumed sweep keeps its own space)
    sample: bool | None = None
    data_dir: str | None = None
    boards: tuple[str, ...] = ()         # boards measured besides OBJECTIVE_BOARD
    seed: int | None = None
    space: Space | None = None           # library callers: another space (the CLI: --quick or the task's default)
    bench: Path | None = None            # a bench.json drawn on the same axes (default runs/<task>/bench/bench.json)
    cpus_per_trial: int = 1


def default_out(task: str) -> Path:
    return Path("runs") / f"{task}-sweep"


def run_sweep(opts: SweepOptions, ui) -> dict:
    """Run (or continue) a sweep; returns its summary. Ctrl-C: the outputs are written for the trials finished so
    far, then KeyboardInterrupt propagates."""
    from tinyqi.tasks import get_task

    task = get_task(opts.task)
    _check_numbers(opts)
    out = opts.out or default_out(task.name)
    states.check_out(out, opts.resume)
    address = resolve_address(opts.address)
    if address is not None:
        check_head(address)  # before the sweep directory is made
    sweep, space = _open(opts, task, out, address, ui)
    with states.exclusive(out):
        if sweep.settings["sample"]:
            ui.warn(f"NO FULL {task.dataset.upper()} DATA: every trial trains on the bundled sample "
                    f"({task.sample_kind}); the sweep is a smoke test only")
        recover(sweep, ui)
        sweep.save()
        ending = "complete"
        if sweep.target > sweep.finished:
            ending = _round(sweep, space, opts, address, ui, out)
        summary = finish(sweep, opts, ui, out)
    summary["ending"] = ending
    if ending == "interrupted":
        ui.warn(f"interrupted: {sweep.finished} of {sweep.target} trials finished; `tinyqi sweep {task.name} --out "
                f"{out} --resume` continues this sweep")
        raise KeyboardInterrupt
    if ending == "budget":
        ui.warn(f"time budget reached: {sweep.finished} of {sweep.target} trials finished; `tinyqi sweep "
                f"{task.name} --out {out} --resume` continues")
    return summary


def _check_numbers(opts: SweepOptions) -> None:
    if opts.trials is not None and opts.trials < 1:
        raise TinyqiError(f"--trials {opts.trials}: must be at least 1; give how many trials the sweep runs in total")
    if opts.concurrent is not None and opts.concurrent < 1:
        raise TinyqiError(f"--concurrent {opts.concurrent}: must be at least 1; give how many trials run at a time")
    if opts.budget_minutes is not None and not opts.budget_minutes > 0:
        raise TinyqiError(f"--budget-minutes {opts.budget_minutes}: must be a positive number of minutes")
    if opts.cpus_per_trial < 1:
        raise TinyqiError(f"cpus_per_trial {opts.cpus_per_trial}: must be at least 1")


def resolve_address(address: str | None) -> str | None:
    """--address, else $RAY_ADDRESS, else None (a local Ray instance); checked for form before Ray starts."""
    option = "--address"
    if address is None and os.environ.get("RAY_ADDRESS"):
        address, option = os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    if address is None:
        return None
    if address.startswith("ray://"):
        raise TinyqiError(f"{option} {address}: Ray Client addresses are not supported; run `tinyqi sweep` on a "
                          "machine of the cluster with --address HEAD:6379 (docs/sweep.md)")
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TinyqiError(f"{option} {address}: not HOST:PORT; give the Ray head's address, e.g. 10.0.0.5:6379 (what "
                          "`ray start --head` prints)")
    return address


def check_head(address: str) -> None:
    """One RPC to the head's GCS, with a deadline: ray.init on an address where no Ray head answers retries
    without end, deaf to Ctrl-C. A head that refuses the call for want of the cluster's token (Ray's token
    authentication, on by default for `ray start --head`) is a Ray head: the driver then presents the token
    (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, as Ray reads them)."""
    import grpc

    try:
        with grpc.insecure_channel(address) as channel:  # GetClusterIdRequest is an empty message: b""
            channel.unary_unary(GCS_PROBE)(b"", timeout=10)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
            raise TinyqiError(f"--address {address}: no Ray head answers there ({exc.code().name}: "
                              f"{one_line(exc.details() or '')}); start one with `ray start --head` on the head "
                              "machine, or check the address (docs/sweep.md)") from None
        if not _token_available():
            raise TinyqiError(f"--address {address}: the Ray cluster wants its authentication token and this "
                              "machine has none; copy the head's ~/.ray/auth_token here, or set RAY_AUTH_TOKEN "
                              "(docs/sweep.md)")
        if "RAY_AUTH_MODE" not in os.environ:
            os.environ["RAY_AUTH_MODE"] = "token"  # what Ray reads when it loads; already loaded: re-read it
            if "ray._raylet" in sys.modules:
                sys.modules["ray._raylet"].Config.initialize("")


def _token_available() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token"
    return Path(path).is_file()


def _open(opts: SweepOptions, task, out: Path, address: str | None, ui) -> tuple[SweepState, Space]:
    from tinyqi.firmware.boards import get_board
    from tinyqi.pipeline import TrainOptions, resolve_sample

    boards = tuple(dict.fromkeys((OBJECTIVE_BOARD, *opts.boards)))
    for board in boards:
        get_board(board)
    data_dir = None if opts.data_dir is None else str(Path(opts.data_dir).resolve())
    if opts.resume:
        sweep = states.load(out)
        space = _check_resume(sweep, opts, task.name, data_dir, boards)
    else:
        space = opts.space or default_space(task.name, bool(opts.quick))
        if space.task != task.name:
            raise TinyqiError(f"search space {space.name}: for the {space.task} task, not {task.name}")
        sample = resolve_sample(task, TrainOptions(task.name, out, data_dir=data_dir, sample=opts.sample))
        if not sample and address is None:
            _check_data(task, data_dir)
        settings = {"task": task.name, "space": space.name, "seed": opts.seed or 0, "sample": sample,
                    "data_dir": data_dir, "boards": list(boards), "engine": ENGINE, "objective_board": OBJECTIVE_BOARD,
                    "objectives": [{"name": name, "goal": goal} for name, goal in OBJECTIVES],
                    "cpus_per_trial": opts.cpus_per_trial}
        sweep = SweepState(out.resolve(), task.name, settings, space.as_dict(), opts.trials or DEFAULT_TRIALS)
    sweep.path = out.resolve()
    if opts.trials is not None:
        sweep.target = opts.trials
    out.mkdir(parents=True, exist_ok=True)
    return sweep, space


def _check_data(task, data_dir: str | None) -> None:
    from tinyqi.data import store

    if not store.dataset_present(task.dataset, data_dir):
        folder = store.dataset_dir(task.dataset, data_dir)
        raise TinyqiError(f"{folder}: no {task.dataset} data; run `tinyqi data fetch {task.dataset}`, give "
                          "--data-dir ROOT, or --sample")


def _check_resume(sweep: SweepState, opts: SweepOptions, task: str, data_dir: str | None,
                  boards: tuple[str, ...]) -> Space:
    """The sweep's own settings; an option given again must say the same (a sweep is one search)."""
    if sweep.task != task:
        raise TinyqiError(f"--out {sweep.path}: holds a {sweep.task} sweep, not {task}; resume it with `tinyqi sweep "
                          f"{sweep.task} --resume`")
    s = sweep.settings
    given = {"--seed": (opts.seed, s["seed"]), "--sample/--full": (opts.sample, s["sample"]),
             "--data-dir": (data_dir, s["data_dir"]),
             "--board": (list(boards) if opts.boards else None, s["boards"])}
    if opts.space is None and opts.quick is not None:
        given["--quick"] = (default_space(task, opts.quick).name, s["space"])
    for option, (now, then) in given.items():
        if now is not None and now != then:
            raise TinyqiError(f"{option}: this sweep was started with {then!r}, not {now!r}; resume it with the same "
                              "options (or leave them out), or start a new sweep in another --out")
    space = opts.space or get_space(s["space"])
    if space.as_dict() != sweep.space:
        raise TinyqiError(f"--out {sweep.path}: its search space '{s['space']}' is not the one this tinyqi defines "
                          "(tinyqi.sweep.space changed since); start a new sweep in another --out")
    return space


# ---------------------------------------------------------------- one Ray Tune experiment

def _round(sweep: SweepState, space: Space, opts: SweepOptions, address: str | None, ui, out: Path) -> str:
    with _quiet_ray():
        import ray

        clock = time.monotonic()
        cpu_count = os.cpu_count() or 1
        concurrent = opts.concurrent or (None if address else max(1, cpu_count // opts.cpus_per_trial))
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        _init_ray(address, None if address else concurrent * opts.cpus_per_trial)
        startup = round(time.monotonic() - clock, 1)
        try:
            return _tune(sweep, space, opts, address, concurrent, startup, ui, out)
        finally:
            ray.shutdown()
            for sig, handler in handlers.items():  # Ray's driver replaces them; a library caller keeps its own
                signal.signal(sig, handler)


def _init_ray(address: str | None, num_cpus: int | None) -> None:
    import ray

    common = dict(log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
    if address is None:
        ray.init(address="local", num_cpus=num_cpus, **common)
        return
    try:
        ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise TinyqiError(f"--address {address}: cannot join a Ray cluster there ({one_line(str(exc))}); start one "
                          "with `ray start --head` on the head machine (docs/sweep.md)") from None


def _tune(sweep: SweepState, space: Space, opts: SweepOptions, address: str | None, concurrent: int | None,
          startup: float, ui, out: Path) -> str:
    from ray import tune

    from tinyqi.sweep.search import Progress, SweepSearch
    from tinyqi.sweep.trial import trainable

    asked = sweep.target - sweep.finished
    number = len(sweep.rounds)
    entry = {"round": number, "asked": asked, "concurrent": concurrent, "address": address or "local",
             "startup_seconds": startup, "ended": "running"}
    sweep.rounds.append(entry)
    sweep.save()
    seed = sweep.settings["seed"]
    deadline = None if opts.budget_minutes is None else time.time() + opts.budget_minutes * 60
    search = SweepSearch(functools.partial(space.suggest, seed=seed), deadline=deadline, storage=study_storage(sweep),
                         seed=seed + 7919 * number)
    settings = TrialSettings(sweep.task, sweep.path, sweep.settings["sample"], sweep.settings["data_dir"],
                             tuple(sweep.settings["boards"]), threads=opts.cpus_per_trial)
    progress = Progress(sweep, ui)
    trainable_with = tune.with_resources(tune.with_parameters(trainable, settings=settings),
                                         {"cpu": opts.cpus_per_trial})
    tuner = tune.Tuner(
        trainable_with,
        tune_config=tune.TuneConfig(search_alg=search, num_samples=asked, max_concurrent_trials=concurrent,
                                    trial_name_creator=_trial_id, trial_dirname_creator=_trial_id),
        run_config=tune.RunConfig(name=f"round-{number}", storage_path=str(sweep.path / TUNE_DIR), verbose=0,
                                  callbacks=[progress], failure_config=tune.FailureConfig(max_failures=0)))
    where = f"Ray cluster {address}" if address else f"{concurrent} at a time, local Ray"
    ui.console.print(f"sweep {sweep.task}: {asked} trials to run ({sweep.finished} of {sweep.target} finished), "
                     f"{where}; Ray started in {startup} s; trials in {out / TRIALS_DIR}")
    clock = time.monotonic()
    entry["ended"] = "interrupted"
    try:
        with ui.stage(f"sweep {sweep.task}", total=asked) as advance:
            progress.advance = advance
            tuner.fit()  # Ctrl-C: Tune stops the trials and returns
            if progress.running or (progress.completed < asked and not search.budget_reached):
                raise _Stopped  # leaves the progress display without its check mark
            entry["ended"] = "budget" if progress.completed < asked else "complete"
    except _Stopped:
        pass
    finally:
        entry["wall_seconds"] = round(time.monotonic() - clock, 1)
        sweep.save()
    return entry["ended"]


class _Stopped(Exception):
    pass


def _trial_id(trial) -> str:
    return trial.config["trial"]


def study_storage(sweep: SweepState):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(sweep.study_file)))


def recover(sweep: SweepState, ui) -> None:
    """Trials of earlier rounds the study knows but sweep.json does not: kept when they wrote trial.json, else
    marked failed in the study (if still running there) and their configuration asked again first."""
    if not sweep.study_file.is_file():
        return  # a new sweep
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.load_study(study_name=STUDY_NAME, storage=study_storage(sweep))
    except KeyError:
        return  # no trial was ever asked
    for trial in study.trials:
        trial_id = trial_name(trial.number)
        trial_dir = sweep.path / TRIALS_DIR / trial_id
        row = sweep.rows.get(trial_id)
        if row is None and trial.state in (TrialState.RUNNING, TrialState.FAIL, TrialState.COMPLETE):
            row = read_trial(trial_dir)
            if row is not None:
                sweep.add(row)
                ui.console.print(f"{trial_id}: finished before the interruption; kept")
        if trial.state == TrialState.RUNNING:
            if row is not None and row["status"] == "done":
                study.tell(trial.number, list(objective_values(row).values()))
            else:
                study.tell(trial.number, state=TrialState.FAIL)
        if row is None and trial.state in (TrialState.RUNNING, TrialState.FAIL) and trial_id not in sweep.requeued:
            study.enqueue_trial(trial.params)
            sweep.requeued.append(trial_id)
            shutil.rmtree(trial_dir, ignore_errors=True)
            ui.console.print(f"{trial_id}: interrupted; its configuration runs again")


@contextmanager
def _quiet_ray():
    """Ray and Tune without their own terminal output (tinyqi prints the progress): no Tune tables or logs, no
    result loggers (sweep.json is the record), no usage-stats notice; restored afterwards."""
    env = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_DEDUP_LOGS": "0"}
    import optuna

    saved = {name: os.environ.get(name) for name in env}
    loggers = [logging.getLogger(name) for name in ("ray", "ray.tune", "ray.train")]
    levels = [logger.level for logger in loggers]
    verbosity = optuna.logging.get_verbosity()
    os.environ.update(env)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for logger in loggers:
                logger.setLevel(logging.CRITICAL)
            optuna.logging.set_verbosity(optuna.logging.ERROR)
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------- the outputs

def finish(sweep: SweepState, opts: SweepOptions, ui, out: Path) -> dict:
    """pareto/, pareto.json, pareto.png and report.md from sweep.json's rows."""
    from tinyqi.files import write_json

    points = pareto.select(sweep.sorted_rows())
    pareto.materialise(sweep.path, points)
    bench_path = opts.bench or Path("runs") / sweep.task / "bench" / "bench.json"
    bench = None
    if opts.bench is not None or bench_path.is_file():
        bench = pareto.bench_points(bench_path, sweep.settings["sample"])
    data = pareto.pareto_data(sweep.task, sweep.path, out, points, bench)
    write_json(sweep.path / pareto.PARETO_JSON, data)
    title = (f"tinyqi sweep {sweep.task}: {len(sweep.done_rows())} trials"
             + (" (BUNDLED SAMPLE)" if sweep.settings["sample"] else ""))
    pareto.plot(sweep.sorted_rows(), points, bench, title, sweep.path / pareto.PARETO_PNG, VALIDATION_SET[sweep.task])
    write_text(sweep.path / "report.md", report.markdown(sweep, data))
    if points:
        ui.table(f"Pareto points ({len(points)} of {len(sweep.done_rows())} done trials; {VALIDATION_SET[sweep.task]})",
                 ["trial", "method", "val macro-F1", "F1 S", "F1 V", "µJ", "model flash B", "RAM B"],
                 [[p["id"], p["config"]["method"], f"{p['val_macro_f1']:.4f}", _text(p.get("val_f1_S")),
                   _text(p.get("val_f1_V")), f"{p['energy_uj']:.3f}", p["model_flash_bytes"], p["ram_bytes"]]
                  for p in points])
    ui.out.print(f"wrote {out / states.SWEEP_FILE}, {out / pareto.PARETO_JSON}, {out / 'report.md'}; Pareto run "
                 f"directories in {out / pareto.PARETO_DIR}", highlight=False, soft_wrap=True)
    return {"sweep_dir": str(sweep.path), "trials": len(sweep.rows), "done": len(sweep.done_rows()),
            "pareto": [p["id"] for p in points]}


def _text(value) -> str:
    return "-" if value is None else f"{value:.3f}"
