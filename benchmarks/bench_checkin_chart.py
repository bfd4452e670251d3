"""Benchmark: the two-week chart the check-in form draws after every save.

``python -m benchmarks.bench_checkin_chart [CALLS]`` (default 50 calls per run, 7 runs): loads
the demo data into a temporary store and times, on the demo participant ``alex``'s last 14
days (what ``CheckInForm._after_save`` passes):

- ``charts.plot_recent_days``, built as one validated ``go.Figure(data=..., layout=...)``;
- the same figure built the usual way, ``_base`` + ``add_bar`` + ``add_scatter`` +
  ``update_yaxes`` + ``update_layout`` + ``_finish``, each call validated by plotly (how
  ``plot_recent_days`` was written before; the peer here);
- the conversion a served page makes for its chart widget, ``json.loads(fig.to_json())``,
  and the alternative ``plotly.io.to_json(fig, validate=False)``.

CPU milliseconds per call (median over the runs): on a shared machine they are steadier than
wall time. The two figures are checked equal (``to_json`` read back), and a mismatch fails
the run. No timing is asserted anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import plotly.io as pio

from benchmarks.common import load_average, print_table
from mastery_analysis import charts
from mastery_analysis.demo import load_demo
from mastery_analysis.store import open_store


def _by_updates(ratings, actions, *, day, framework, days=14):
    """``plot_recent_days`` as it was written with plotly's update calls (the peer)."""
    import pandas as pd

    fw = charts.load_framework(framework)
    last = pd.Timestamp(day).normalize()
    index = pd.date_range(last - pd.Timedelta(days=days - 1), last, freq="D")
    per_day = (actions.assign(date=charts._dates(actions["date"])).groupby("date")["count"].sum()
               .reindex(index, fill_value=0))
    current = ratings.loc[ratings["kind"] == "current"] if "kind" in ratings else ratings
    mean = current.assign(date=charts._dates(current["date"])).groupby("date")["rating"].mean().reindex(index)
    lo, hi = fw.scale.min, fw.scale.max
    fig = charts._base("Last two weeks" if days == 14 else f"Last {days} days")
    fig.add_bar(x=index, y=per_day.to_numpy(), name="actions", marker_color=charts.NEUTRAL,
                hovertemplate="%{x|%a %d %b}: %{y} actions<extra></extra>")
    fig.add_scatter(x=index, y=mean.to_numpy(), name="mean rating", yaxis="y2",
                    mode="lines+markers", connectgaps=False, line_color=charts.OKABE_ITO[3],
                    hovertemplate="%{x|%a %d %b}: mean rating %{y:.1f}<extra></extra>")
    fig.update_yaxes(title_text="actions", rangemode="tozero",
                     dtick=max(1, int(np.ceil(float(per_day.max()) / 4))))
    fig.update_layout(yaxis2=dict(title=dict(text="rating", font=dict(size=13, color=charts.MUTED)),
                                  overlaying="y", side="right", range=[lo - 0.5, hi + 0.5],
                                  showgrid=False, tickvals=[lo, (lo + hi) // 2, hi]))
    return charts._finish(fig, height=220, width=460, legend=False, title=dict(font=dict(size=14)),
                          bargap=0.2, margin=dict(l=50, r=50, b=40), xaxis=dict(tickformat="%d %b"))


def _cpu_ms(fn, calls: int, runs: int = 7) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        for _ in range(calls):
            fn()
        times.append((time.process_time() - t0) / calls * 1000)
    return float(np.median(times))


def main() -> dict:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 50
    with tempfile.TemporaryDirectory() as tmp:
        with open_store(Path(tmp) / "demo.db") as store:
            load_demo(store)
            fw = store.framework
            actions = store.actions(participant="alex")
            day = actions["date"].max().date()
            start = day - dt.timedelta(days=13)
            ratings = store.ratings(participant="alex", start=start, end=day)
            actions = actions.loc[actions["date"].dt.date >= start]
    args = (ratings, actions)
    kw = dict(day=day, framework=fw)
    fig = charts.plot_recent_days(*args, **kw)
    peer = _by_updates(*args, **kw)
    if json.loads(fig.to_json()) != json.loads(peer.to_json()):
        raise AssertionError("plot_recent_days differs from the same figure built by update calls")
    print(f"-- the check-in form's two-week chart: alex, {start} to {day}, {calls} calls x 7 runs "
          f"({load_average()})", flush=True)
    ours = _cpu_ms(lambda: charts.plot_recent_days(*args, **kw), calls)
    updates = _cpu_ms(lambda: _by_updates(*args, **kw), calls)
    to_json = _cpu_ms(lambda: json.loads(fig.to_json()), calls)
    unvalidated = _cpu_ms(lambda: json.loads(pio.to_json(fig, validate=False)), calls)
    print_table([
        ("plot_recent_days (one go.Figure)", f"{ours:.1f}"),
        ("same figure by update calls (peer)", f"{updates:.1f}"),
        ("json.loads(fig.to_json())", f"{to_json:.1f}"),
        ("json.loads(pio.to_json(fig, validate=False))", f"{unvalidated:.1f}"),
    ], ("what", "CPU ms per call"))
    print(f"   update calls / one go.Figure = {updates / ours:.1f}x CPU", flush=True)
    return {"recent_days_ms": ours, "recent_days_by_updates_ms": updates,
            "recent_days_to_json_ms": to_json}


if __name__ == "__main__":
    main()
