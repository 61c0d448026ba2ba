"""The pipeline fanned out over a parameter grid on Dask: one task per notebook run.

``run_grid(options)`` checks everything first (notebooks, parameters, grid value types, the
data: loaded once and frozen as a Parquet snapshot), then submits one task per run to a Dask
cluster (``scheduler`` address, or a ``LocalCluster`` of ``workers`` processes). Tasks return
their notebook, page and saved files as bytes; this process writes::

    out_dir/runs/<slug>/NAME.html, NAME.ipynb, <output folder>/...   each grid run
    out_dir/NAME.html, notebooks/NAME.ipynb, <output folder>/...     notebooks run once
    out_dir/runs.json                                                the manifest
    out_dir/index.html                                               runs table, pages, versions

A failed run keeps its partial notebook and page; the others go on. A grid has at most
``max_runs`` runs (``--max-runs``, default gridspec.MAX_GRID_RUNS), refused before anything starts.

Ctrl-C (or SIGTERM) stops the grid cleanly: the runs not finished are cancelled (their tasks
released, the local cluster's processes killed), ``runs.json`` and the index are written with
each run ``ok``, ``failed`` (with its error) or ``cancelled``, and ``run_grid`` raises
errors.RunInterrupted saying how many runs had finished (the CLI prints that line, exit 130).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from report_lib import config
from report_lib.app.outputs import check_output_dir
from report_lib.data.loader import load_data
from report_lib.data.sample import ensure_sample_data
from report_lib.data.snapshot import fingerprint, snapshot_bytes
from report_lib.errors import ConfigError, RunInterrupted
from report_lib.execution.base import check_scheduler_address, interrupts_held, share_limits
from report_lib.llm.settings import BackendSettings
from report_lib.pipeline.cluster import ClusterAhead
from report_lib.pipeline.execute import NotebookRun, PipelineResult
from report_lib.pipeline.gridspec import (
    MAX_GRID_RUNS,
    Grid,
    check_names,
    check_run_count,
    check_types,
    expand,
    needs_data,
    slug,
)
from report_lib.pipeline.index import index_sections, outcome_section, render_page
from report_lib.pipeline.manifest import (
    MANIFEST,
    RunEntry,
    content_fingerprint,
    manifest_text,
    read_manifest,
    reusable,
    runs_table,
)
from report_lib.pipeline.page import data_source_name
from report_lib.pipeline.parameters import (
    FED_BY,
    OUTPUT_SUBDIRS,
    absolute_paths,
    declared_parameters,
    resolve_notebooks,
    route_parameters,
    validate_parameters,
)
from report_lib.pipeline.run import CORE_PACKAGES
from report_lib.pipeline.sitefiles import check_site, owned_paths
from report_lib.pipeline.siterescue import SiteRescue
from report_lib.pipeline.tasks import TaskResult, TaskSpec, run_task

DATA_PARAM, OUTPUT_PARAM, LIMIT_PARAMS = "data_path", "output_dir", ("tpm_limit", "rpm_limit")
# One run per worker process: offline runs keep a CPU busy from start to end, and a second run
# per worker only adds contention (benchmarks/fanout.py: 1.63x against 1.69x on 2 CPUs). Runs
# that mostly wait for the model (Bedrock) gain from more (--runs-per-worker).
RUNS_PER_WORKER = 1


@dataclass
class GridOptions:
    """Everything ``report-lib pipeline`` passes to a grid run."""

    out_dir: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    grid: Grid = field(default_factory=Grid)
    notebooks: Sequence[str] | None = None
    kernel_name: str = config.KERNEL_NAME
    execution_timeout: int = 600
    scheduler: str | None = None  # address of an existing Dask scheduler
    workers: int | None = None  # LocalCluster processes (default: CPU count)
    runs_per_worker: int = RUNS_PER_WORKER  # notebook runs at once in each LocalCluster process
    skip_unchanged: bool = False
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    progress: bool = True
    max_runs: int = MAX_GRID_RUNS  # runs of the grid at most (--max-runs)


@dataclass
class Planned:
    """One run: its manifest entry, its task, what feeds it, an earlier run it may reuse."""

    entry: RunEntry
    spec: TaskSpec
    upstream: str | None = None  # notebook whose saved files become this one's input
    reuse: RunEntry | None = None


@dataclass
class GridPlan:
    """The runs in order and the data snapshot they read (None when no notebook reads data)."""

    runs: list[Planned]
    snapshot: bytes | None = None


@dataclass
class GridResult:
    out_dir: Path
    index: Path
    manifest: Path
    entries: list[RunEntry]
    seconds: float

    @property
    def failed(self) -> list[RunEntry]:
        return [e for e in self.entries if e.status == "failed"]


# ---------------------------------------------------------------- planning (nothing runs)


def plan_grid(options: GridOptions) -> GridPlan:
    """Every run with its task; ``ConfigError``/``DataError`` before anything has started."""
    out_dir = check_output_dir(Path(options.out_dir), "--out").resolve()
    selected = resolve_notebooks(options.notebooks)
    declared = {name: declared_parameters(path) for name, path in selected}
    base = absolute_paths(dict(options.parameters))
    routed = route_parameters(base, declared, out_dir)
    for names in declared.values():  # each notebook checks what it will receive
        validate_parameters({k: v for k, v in base.items() if k in names}, names)
    check_names(options.grid, declared)  # an unknown name, against every selected notebook
    gridded = [n for n, _ in selected if any(p in declared[n] for p in options.grid.names)]
    grid = check_types(options.grid, {n: declared[n] for n in gridded})
    _check_limits(options, declared)
    reads_data = [n for n in declared if DATA_PARAM in declared[n]]
    frame, snapshot, data_fp, data_name = None, None, None, "data"
    if reads_data:
        source = base.get(DATA_PARAM) or ensure_sample_data()
        frame = load_data(source)
        snapshot, data_fp = snapshot_bytes(frame), fingerprint(frame)
        data_name = data_source_name(source)
    elif needs_data(grid):
        raise ConfigError("top:N / last:N need data, but no selected notebook reads data_path")
    points = expand(grid, frame, base) if gridded else []
    check_run_count(len(points) * len(gridded), options.max_runs, "the grid, expanded,")
    for point in points:  # the values' choices and ranges, after last:N / top:N
        for name in gridded:
            names = declared[name]
            validate_parameters({k: v for k, v in point.items() if k in names}, names)
    sources = dict(selected)
    planned: list[Planned] = []
    for name, path in selected:
        notebook = path.read_bytes()
        own = {k: v for k, v in base.items() if k in declared[name] and k != OUTPUT_PARAM}
        fingerprints = (data_fp if name in reads_data else None, content_fingerprint(notebook))
        if name in gridded:
            for point in points:
                values = {k: v for k, v in point.items() if k in declared[name]}
                run_slug = slug(values) if len(gridded) == 1 else slug({"notebook": name, **values})
                entry = RunEntry(name, run_slug, {**own, **values}, values)
                entry.data_fingerprint, entry.notebook_fingerprint = fingerprints
                spec = _spec(options, name, notebook, entry, declared, data_name=data_name)
                planned.append(Planned(entry, spec))
            continue
        fed = {p: src for (n, p), src in FED_BY.items() if n == name and src in sources}
        params = {k: v for k, v in routed[name].items() if k != OUTPUT_PARAM and k not in fed}
        entry = RunEntry(name, "", params, {})
        entry.data_fingerprint, entry.notebook_fingerprint = fingerprints
        spec = _spec(
            options, name, notebook, entry, declared, next(iter(fed), None), data_name
        )
        planned.append(Planned(entry, spec, upstream=next(iter(fed.values()), None)))
    if options.skip_unchanged:
        _mark_reusable(planned, out_dir)
    return GridPlan(planned, snapshot)


def _spec(
    options: GridOptions,
    name: str,
    source: bytes,
    entry: RunEntry,
    declared: Mapping[str, Mapping[str, Any]],
    input_param: str | None = None,
    data_name: str = "data",
) -> TaskSpec:
    names = declared[name]
    return TaskSpec(
        name=name,
        slug=entry.slug,
        source=source,
        parameters=dict(entry.parameters),
        kernel_name=options.kernel_name,
        execution_timeout=options.execution_timeout,
        data_param=DATA_PARAM if DATA_PARAM in names else None,
        output_param=OUTPUT_PARAM if OUTPUT_PARAM in names else None,
        input_param=input_param,
        back_link="../../index.html" if entry.slug else "index.html",
        data_name=data_name,
    )


def _check_limits(options: GridOptions, declared: Mapping[str, Mapping[str, Any]]) -> None:
    for param, value in zip(LIMIT_PARAMS, (options.tpm_limit, options.rpm_limit), strict=True):
        if value is not None and not any(param in names for names in declared.values()):
            raise ConfigError(
                f"--{param.replace('_', '-')} {value}: none of the notebooks "
                f"({', '.join(declared)}) declares the parameter {param}"
            )


def _mark_reusable(planned: list[Planned], out_dir: Path) -> None:
    """Runs matching a successful earlier run are reused; a downstream run of a rerun is not."""
    earlier = reusable(read_manifest(out_dir), out_dir)
    by_name = {p.entry.notebook: p for p in planned if not p.entry.slug}
    for item in planned:
        item.reuse = earlier.get(item.entry.key())
    for item in planned:
        upstream = by_name.get(item.upstream) if item.upstream else None
        if upstream is not None and upstream.reuse is None:
            item.reuse = None


# ---------------------------------------------------------------- running


def run_grid(options: GridOptions) -> GridResult:
    """Plan, run every task on Dask, write pages, manifest and index; never raises for a run."""
    started_at = datetime.now().astimezone().isoformat(timespec="seconds")
    clock = time.perf_counter()
    site = Path(options.out_dir).resolve()
    config.export_home()  # before the local cluster starts: its workers' kernels inherit it
    names = [name for name, _ in resolve_notebooks(options.notebooks)]
    check_site(site, owned_paths(site, names, [OUTPUT_SUBDIRS.get(n, n) for n in names],
                                 grid=True))  # a link where we write: refused, nothing started
    check_scheduler_address(options.scheduler)  # before a connection is tried
    stop: KeyboardInterrupt | None = None
    with ClusterAhead(options.scheduler, options.workers, options.runs_per_worker) as ahead:
        plan = plan_grid(options)  # the cluster starts meanwhile; nothing runs before the plan
        planned = plan.runs
        out_dir = Path(options.out_dir).resolve()
        rescue = SiteRescue(out_dir)  # a full disk: what finished goes to a fallback folder
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            rescue.failed = exc
        try:
            client = ahead.client()
            todo = [p for p in planned if p.reuse is None]
            _share_limits(todo, sum(client.nthreads().values()), options)
            _run_all(client, planned, todo, plan.snapshot, rescue, options.progress)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM raised as RunInterrupted
            stop = exc
            ahead.abort()
    with interrupts_held():  # a second Ctrl-C does not cut the writing short
        if stop is not None:
            _cancel_unfinished(planned, stop)
        entries = [p.entry for p in planned]
        manifest = rescue.write(out_dir / MANIFEST, manifest_text(entries))
        seconds = time.perf_counter() - clock
        index = _write_index(rescue, planned, started_at, seconds, options.kernel_name)
    unwritten = rescue.error(_finished(entries))
    if stop is not None:
        raise _grid_interrupted(entries, stop, index, unwritten)
    if unwritten is not None:
        raise unwritten
    return GridResult(out_dir, index, manifest, entries, seconds)


def _finished(entries: Sequence[RunEntry]) -> str:
    """"2 of 3 grid runs finished (1 ok, 1 failed)": what the fallback folder holds."""
    counts = {s: sum(e.status == s for e in entries) for s in ("ok", "failed", "skipped")}
    done = sum(counts.values())
    detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return f"{done} of {len(entries)} grid runs finished" + (f" ({detail})" if detail else "")


def _signal_name(exc: KeyboardInterrupt) -> str:
    return signal.Signals(int(getattr(exc, "signum", signal.SIGINT))).name


def _cancel_unfinished(planned: Sequence[Planned], exc: KeyboardInterrupt) -> None:
    """Every run without a result is ``cancelled`` (its error says by what)."""
    for item in planned:
        if item.entry.status == "pending":
            item.entry.status = "cancelled"
            item.entry.error = f"cancelled by {_signal_name(exc)} before it finished"


def _grid_interrupted(entries: Sequence[RunEntry], exc: KeyboardInterrupt,
                      index: Path, unwritten: OSError | None = None) -> RunInterrupted:
    done = sum(e.status in ("ok", "failed", "skipped") for e in entries)
    cancelled = sum(e.status == "cancelled" for e in entries)
    also = f"; {unwritten}" if unwritten is not None else ""
    return RunInterrupted(
        f"stopped by {_signal_name(exc)}: {done} of {len(entries)} grid runs had finished, "
        f"{cancelled} cancelled; open {index}{also}",
        signum=int(getattr(exc, "signum", signal.SIGINT)),
    )


def _share_limits(todo: Sequence[Planned], threads: int, options: GridOptions) -> None:
    """One quota for the grid: each of the concurrent runs gets its share of the limits."""
    if options.tpm_limit is None and options.rpm_limit is None:
        return
    whole = BackendSettings(tpm_limit=options.tpm_limit, rpm_limit=options.rpm_limit)
    share = share_limits(whole, max(1, min(threads, len(todo))))
    values = limit_parameters(share.tpm_limit, share.rpm_limit)
    for item in todo:
        item.spec.parameters.update(values)


def limit_parameters(tpm: int | None, rpm: int | None) -> dict[str, Any]:
    """Notebook parameters for client-side limits (tpm_limit is text: a number or "auto")."""
    values: dict[str, Any] = {}
    if tpm is not None:
        values["tpm_limit"] = str(tpm)
    if rpm is not None:
        values["rpm_limit"] = rpm
    return values


def _run_all(
    client: Any,
    planned: Sequence[Planned],
    todo: Sequence[Planned],
    snapshot: bytes | None,
    rescue: SiteRescue,
    progress: bool,
) -> None:
    from distributed import as_completed
    from tqdm.auto import tqdm

    out_dir = rescue.site
    shared = client.scatter(snapshot, broadcast=True) if snapshot is not None else None
    futures: dict[str, Any] = {}
    owners: dict[Any, Planned] = {}
    bar = tqdm(total=len(planned), unit="run", desc="grid", disable=not progress, file=sys.stderr)
    for item in planned:
        if item.reuse is not None:
            _reuse(item, out_dir)
            bar.update(1)
    for item in sorted(todo, key=lambda p: p.upstream is not None):
        upstream: Any = None
        if item.upstream is not None:
            upstream = futures.get(item.upstream) or _from_disk(planned, item.upstream, out_dir)
        future = client.submit(
            run_task, item.spec, shared, upstream, pure=False, key=f"run-{item.spec.name}-"
            f"{item.entry.slug or 'once'}-{time.time_ns()}"
        )
        futures[item.entry.notebook if not item.entry.slug else item.entry.slug] = future
        owners[future] = item
    try:
        for future in as_completed(list(owners)):
            item = owners[future]
            try:
                result = future.result()
            except Exception as exc:  # the task could not run (worker lacks the package...)
                result = TaskResult("failed", 0.0, "—", error=_task_error(exc))
            _record(item, result, rescue)
            rescue.write(out_dir / MANIFEST, manifest_text([p.entry for p in planned]))
            bar.update(1)
    except KeyboardInterrupt:  # what has not finished is cancelled; nothing more is recorded
        with contextlib.suppress(Exception):
            client.cancel([f for f in owners if not f.done()], force=True)
        raise
    finally:
        bar.close()


def _task_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError | ImportError) or "report_lib" in text:
        text += " — install report-lib on every worker (pip install -e . or the wheel)"
    return text.splitlines()[0] if text.strip() else repr(exc)


def _reuse(item: Planned, out_dir: Path) -> None:
    assert item.reuse is not None
    kept = RunEntry.from_dict(item.reuse.to_dict())
    kept.status = "skipped"
    item.entry = kept


def _from_disk(planned: Sequence[Planned], name: str, out_dir: Path) -> TaskResult:
    """An upstream run reused from an earlier grid run: its saved files, read back."""
    folder = out_dir / OUTPUT_SUBDIRS.get(name, name)
    files = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    return TaskResult("ok", 0.0, "local", files=files)


def _record(item: Planned, result: TaskResult, rescue: SiteRescue) -> None:
    """Write what the task returned under the site and complete its manifest entry."""
    out_dir = rescue.site
    entry, name = item.entry, item.entry.notebook
    if entry.slug:
        folder = out_dir / "runs" / entry.slug
        shutil.rmtree(folder, ignore_errors=True)
        page, notebook = folder / f"{name}.html", folder / f"{name}.ipynb"
        files_dir = folder / OUTPUT_SUBDIRS.get(name, name)
    else:
        folder = out_dir
        page, notebook = out_dir / f"{name}.html", out_dir / "notebooks" / f"{name}.ipynb"
        files_dir = out_dir / OUTPUT_SUBDIRS.get(name, name)
        shutil.rmtree(files_dir, ignore_errors=True)
    entry.files = []
    for path, content in (
        (notebook, result.notebook),
        (page, result.html),
        *((files_dir / rel, data) for rel, data in result.files.items()),
    ):
        if content is None:
            continue
        rescue.write(path, content)  # inside out_dir, never through a link (else rescued)
        entry.files.append(path.relative_to(out_dir).as_posix())
    entry.status, entry.seconds, entry.worker = result.status, result.seconds, result.worker
    entry.error, entry.note = result.error, result.note
    entry.page = page.relative_to(out_dir).as_posix() if result.html is not None else None
    entry.executed_notebook = (
        notebook.relative_to(out_dir).as_posix() if result.notebook is not None else None
    )


def _write_index(
    rescue: SiteRescue, planned: Sequence[Planned], started: str, seconds: float, kernel: str
) -> Path:
    """The pipeline's index (the notebooks run once) with the runs table above its pages."""
    out_dir = rescue.site
    once = [_as_notebook_run(p.entry, out_dir) for p in planned if not p.entry.slug]
    result = PipelineResult(
        out_dir, out_dir / "index.html", once, started, seconds, kernel,
        config.package_versions(CORE_PACKAGES),
    )  # fmt: skip
    sections = index_sections(result)
    failed = [p.entry for p in planned if p.entry.slug and p.entry.status == "failed"]
    if failed and result.failed is None:
        sections[0] = (
            f'<p class="failed">FAILED: {len(failed)} of the grid\'s runs failed '
            "(their errors are in the table below and in runs.json).</p>"
        )
    if not once:  # no pages beside the runs: keep status, the run line and the versions
        sections = [sections[0], sections[1], sections[-1]]
    sections.insert(2, runs_table([p.entry for p in planned]))
    sections.insert(1, outcome_section(result))
    page = render_page(f"EV Infra Report Lab — pipeline grid {started}", sections)
    return rescue.write(result.index, page)


def _as_notebook_run(entry: RunEntry, out_dir: Path) -> NotebookRun:
    name = entry.notebook
    run = NotebookRun(name, Path(f"{name}.ipynb"), dict(entry.parameters))
    run.status = "ok" if entry.status in ("ok", "skipped") else "failed"
    run.seconds = entry.seconds
    run.notebook = out_dir / entry.executed_notebook if entry.executed_notebook else None
    run.html = out_dir / entry.page if entry.page else None
    if entry.error:
        run.ename, run.evalue = "RunFailed", entry.error
    run.parameters[OUTPUT_PARAM] = str(out_dir / OUTPUT_SUBDIRS.get(name, name))
    return run
