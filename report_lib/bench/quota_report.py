"""The quota scenario on the comparison page: a table, sentences and a chart, from the rows.

Every figure comes from ``analysis.quota_cells`` (one row per cell, medians over its runs) and
every verdict from ``analysis.quota_verdict`` (the targets in ``analysis.QUOTA_TARGETS``). The
rest of the page leaves the quota scenario's rows to this module (``without_quota``): its
150-odd cells are compared per quota model here, not mixed into the other scenarios' charts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker as mticker
from matplotlib.figure import Figure

from report_lib.bench.analysis import (
    QUOTA_TARGETS,
    quota_cell_name,
    quota_cells,
    quota_records,
    quota_verdict,
)
from report_lib.bench.plan import (
    FAR,
    QUOTA,
    QUOTA_ACCOUNTINGS,
    QUOTA_CLIENTS,
    QUOTA_MINUTE_KINDS,
)
from report_lib.render.charts import CHART_WIDTH_IN, new_figure, readable, wrap

AUTO_FAR = "auto" + FAR
TABLE_CLIENTS: tuple[str, ...] = (*QUOTA_CLIENTS, AUTO_FAR)
CLIENT_NAMES = {"known": "quota known (limiter told it)", "auto": "--tpm-limit auto",
                "adaptive": "botocore adaptive retry mode", "retries": "our retries alone",
                AUTO_FAR: "auto, quota far away"}
MINUTE_COLORS = {"bucket": "#4C78A8", "sliding": "#F58518", "fixed": "#54A24B"}
ACCOUNTING_MARKERS = {"actual": "o", "bedrock": "^"}


def without_quota(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of every scenario but the quota one (the page's other sections use these)."""
    if "scenario" not in results.columns:
        return results
    return results[results["scenario"] != QUOTA]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def cell_text(cell: Mapping[str, Any]) -> str:
    """One table cell: makespan / bound (a far cell: / the run without a limiter), throttled
    share, reports lost, and "MISS" when the client's target was missed."""
    far = bool(cell["far"])
    ratio = float(cell["vs_unlimited"] if far else cell["ratio"])
    text = f"{ratio:.2f}x{' no-limiter' if far else ''}, {float(cell['throttled_share']):.0%} thr"
    if int(cell["lost"]):
        text += f", {int(cell['lost'])} lost"
    verdict = quota_verdict(cell)
    if verdict is not None and not verdict[0]:
        text += ", MISS"
    return text


def quota_table(results: pd.DataFrame) -> pd.DataFrame:
    """One line per N, quota minute, accounting and strategy; a column per client (``cell_text``);
    empty when no quota cell was run."""
    cells = quota_cells(results)
    if cells.empty:
        return pd.DataFrame()
    keys = ["n_jobs", "quota_minute", "accounting", "strategy"]
    lines: dict[tuple[Any, ...], dict[str, Any]] = {}
    for cell in quota_records(cells):
        key = tuple(cell[k] for k in keys)
        line = lines.setdefault(key, {**dict(zip(keys, key, strict=True)),
                                      "tpm": int(cell["quota_tpm"]) if not cell["far"] else None})
        if not cell["far"]:
            line["tpm"] = int(cell["quota_tpm"])
        if str(cell["client"]) in TABLE_CLIENTS:
            line[str(cell["client"])] = cell_text(cell)
    table = pd.DataFrame(list(lines.values()))
    table = table.rename(columns={"n_jobs": "N", "quota_minute": "minute"})
    rank = {name: i for i, name in enumerate(QUOTA_MINUTE_KINDS)}
    table = table.sort_values(["N", "minute", "accounting", "strategy"],
                              key=lambda s: s.map(rank) if s.name == "minute" else s)
    columns = ["N", "minute", "accounting", "strategy", "tpm",
               *(c for c in TABLE_CLIENTS if c in table.columns)]
    return table[columns].reset_index(drop=True)


def _range(values: Sequence[float], fmt: str) -> str:
    low, high = min(values), max(values)
    return fmt.format(low) if fmt.format(low) == fmt.format(high) else \
        f"{fmt.format(low)} to {fmt.format(high)}"


def _misses_by_model(missed: list[dict[str, Any]]) -> str:
    """Missed cells grouped by quota minute/accounting: how many, the worst ratio, the most
    throttled, reports lost."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for cell in missed:
        groups.setdefault(f"{cell['quota_minute']}/{cell['accounting']}", []).append(cell)
    parts = []
    for model, group in groups.items():
        ratio = max(float(c["vs_unlimited"] if c["far"] else c["ratio"]) for c in group)
        share = max(float(c["throttled_share"]) for c in group)
        lost = sum(int(c["lost"]) for c in group)
        parts.append(f"{model} ({len(group)}: up to {ratio:.2f}x, up to {share:.0%} throttled"
                     f"{', ' + _plural(lost, 'report') + ' lost' if lost else ''})")
    return "; ".join(parts)


def target_sentence(cells: list[dict[str, Any]], client: str) -> str | None:
    """How ``client`` (known, auto or auto-far) did against its target, over its cells."""
    mine = [c for c in cells if c["client"] == client]
    if not mine:
        return None
    most_share, most_ratio = QUOTA_TARGETS[client.removesuffix(FAR)]
    verdicts = [(c, quota_verdict(c)) for c in mine]
    missed = [c for c, v in verdicts if v is not None and not v[0]]
    far = client.endswith(FAR)
    against = "the run without a limiter beside it" if far else "the bound"
    ratios = [float(c["vs_unlimited"] if far else c["ratio"]) for c in mine]
    text = (f"{CLIENT_NAMES[client]}: target 0 lost, <= {most_share:.0%} throttled, makespan "
            f"<= {most_ratio:.2f}x {against}; met in {len(mine) - len(missed)} of "
            f"{_plural(len(mine), 'cell')} (makespan {_range(ratios, '{:.2f}x')} {against})")
    if missed:
        text += "; missed in " + _misses_by_model(missed)
    return text + "."


def client_sentence(cells: list[dict[str, Any]], client: str) -> str | None:
    """What a client without a target (adaptive, retries) did over its cells."""
    mine = [c for c in cells if c["client"] == client]
    if not mine:
        return None
    lost = [c for c in mine if int(c["lost"]) > 0]
    requests = sum(float(c["requests"]) for c in mine)
    throttled = sum(float(c["throttled"]) for c in mine)
    whole = [float(c["ratio"]) for c in mine if not int(c["lost"])]  # a loss ends a run early
    text = f"{CLIENT_NAMES[client]}: "
    if whole:
        text += (f"makespan {_range(whole, '{:.2f}x')} the bound (median "
                 f"{float(np.median(whole)):.2f}x) in the {_plural(len(whole), 'cell')} that "
                 "lost nothing, ")
    text += f"{throttled / requests:.0%} of its requests throttled"
    if lost:
        total = sum(int(c["lost"]) for c in lost)
        text += (f", {_plural(total, 'report')} lost in {len(lost)} of "
                 f"{_plural(len(mine), 'cell')} (worst: {quota_cell_name(max(lost, key=_lost))}"
                 f", {int(max(lost, key=_lost)['lost'])} of {int(max(lost, key=_lost)['n_jobs'])})")
    else:
        text += f", no report lost in {_plural(len(mine), 'cell')}"
    return text + "."


def _lost(cell: Mapping[str, Any]) -> int:
    return int(cell["lost"])


def quota_sentences(results: pd.DataFrame) -> list[str]:
    """The quota scenario's conclusions, computed from its rows (empty when it was not run)."""
    cells = quota_records(quota_cells(results))
    if not cells:
        return []
    scales = sorted({float(c["time_scale"]) for c in cells})
    out = [f"Quota models: {_plural(len(cells), 'cell')}; each cell's makespan is divided by "
           "its bound, the makespan of a client that knows the quota model exactly and sends "
           "every call the moment it fits (a far cell: its slowest call); quota minutes of "
           + ", ".join(f"{60 * s:g} s" for s in scales) + "."]
    for client in ("known", "auto", AUTO_FAR):
        sentence = target_sentence(cells, client)
        if sentence:
            out.append(sentence)
    for client in ("adaptive", "retries"):
        sentence = client_sentence(cells, client)
        if sentence:
            out.append(sentence)
    return out


def _category_x(client: str) -> int:
    return TABLE_CLIENTS.index(client)


def quota_chart(results: pd.DataFrame) -> Figure | None:
    """Makespan / bound per client (a far auto cell: / the run without a limiter), one panel per
    N: color = quota minute, marker = accounting, thread left of asyncio; a red ring marks a
    cell that lost reports; dashed lines: the known (1.15x) and auto (1.3x) targets. None
    without quota cells."""
    cells = [c for c in quota_records(quota_cells(results)) if c["client"] in TABLE_CLIENTS]
    if not cells:
        return None
    sizes = sorted({int(c["n_jobs"]) for c in cells})
    fig, axes = new_figure(CHART_WIDTH_IN, 1.0 + 3.8 * len(sizes), nrows=len(sizes))
    for ax, n in zip(axes[:, 0], sizes, strict=True):
        mine = [c for c in cells if int(c["n_jobs"]) == n]
        _draw_panel(ax, mine)
        ax.set_title(f"N={n}")
    handles = [ax.scatter([], [], color=color, marker="s", label=f"{minute} minute")
               for minute, color in MINUTE_COLORS.items()]
    handles += [ax.scatter([], [], color="#7F7F7F", marker=marker, label=f"{accounting} "
                           "accounting") for accounting, marker in ACCOUNTING_MARKERS.items()]
    handles.append(ax.scatter([], [], s=140, facecolors="none", edgecolors="#E45756",
                              label="reports lost"))
    handles.append(ax.plot([], [], color="#E45756", linestyle="--", label="target")[0])
    fig.legend(handles=handles, loc="outside lower center", ncols=3)
    fig.suptitle(wrap("Makespan / the bound of its quota model, per client "
                      "(left: thread, right: asyncio)"))
    return readable(fig)


def _draw_panel(ax: Any, cells: list[dict[str, Any]]) -> None:
    offsets = {"thread": -0.15, "asyncio": 0.15}
    values = []
    for c in cells:
        far = bool(c["far"])
        ratio = float(c["vs_unlimited"] if far else c["ratio"])
        if not math.isfinite(ratio):
            continue
        spread = (QUOTA_MINUTE_KINDS.index(str(c["quota_minute"])) - 1) * 0.04 + \
            (QUOTA_ACCOUNTINGS.index(str(c["accounting"])) - 0.5) * 0.03
        x = _category_x(str(c["client"])) + offsets.get(str(c["strategy"]), 0.0) + spread
        ax.scatter(x, ratio, color=MINUTE_COLORS[str(c["quota_minute"])],
                   marker=ACCOUNTING_MARKERS[str(c["accounting"])], s=30, zorder=3)
        if int(c["lost"]):
            ax.scatter(x, ratio, s=140, facecolors="none", edgecolors="#E45756", zorder=4)
        values.append(ratio)
    for client, (_, most) in QUOTA_TARGETS.items():
        for name in (client, client + FAR):
            if name in TABLE_CLIENTS:
                x = _category_x(name)
                ax.hlines(most, x - 0.4, x + 0.4, colors="#E45756", linestyles="--")
    ax.set_yscale("log")
    ax.set_ylim(min([*values, 0.8]) * 0.8, max([*values, 1.5]) * 1.3)
    ax.yaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    ticks = {**CLIENT_NAMES, AUTO_FAR: CLIENT_NAMES[AUTO_FAR] + " (/ no limiter)"}
    ax.set_xticks(range(len(TABLE_CLIENTS)), [wrap(ticks[c], 14) for c in TABLE_CLIENTS])
    ax.set_ylabel("makespan / bound (log)")


def quota_section(results: pd.DataFrame, metadata: Mapping[str, Any] | None = None) -> list[str]:
    """The report's "Quota models" section (a list of one), or none without quota cells."""
    if quota_table(results).empty:
        return []
    return ["### Quota models\n\n" + quota_markdown(results, metadata)]


def quota_markdown(results: pd.DataFrame, metadata: Mapping[str, Any] | None = None) -> str:
    """The quota section as Markdown (benchmarks/README.md pastes it): the command and
    conditions, the sentences, the table and the cells that missed."""
    from report_lib.bench.summary import markdown_table

    table = quota_table(results)
    if table.empty:
        return "No quota cells in these results: run `report-lib bench --scenario quota`."
    meta = dict(metadata or {})
    head = (f"Run {meta.get('created', '?')} → {meta.get('finished', '?')}, "
            f"`{meta.get('command', '?')}`; {meta.get('cpu_count', '?')} CPUs.")
    records = [{str(k): v for k, v in r.items()} for r in table.to_dict("records")]
    return "\n\n".join([
        head,
        "\n".join(f"- {s}" for s in quota_sentences(results)),
        "Each cell: makespan / bound (auto-far: / the run without a limiter), share of requests "
        "throttled, reports lost; MISS: the client's target was missed.",
        markdown_table(records, list(table.columns), {"tpm": ",.0f"}),
    ])
