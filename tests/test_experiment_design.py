"""The drawing of a self-experiment's schedule, below analysis: same seed, same schedule."""

import ast
from pathlib import Path

import pandas as pd
import pytest

from mastery_analysis import experiment_design
from mastery_analysis.analysis import experiments as analysis_experiments
from mastery_analysis.demo import read_demo_experiments
from mastery_analysis.errors import ExperimentError
from mastery_analysis.experiment_design import plan_experiment

PACKAGE = Path(experiment_design.__file__).parent

# drawn by plan_experiment before it moved out of analysis.experiments: a stored
# schedule is kept as drawn, and the same seed must keep giving it (- marks a washout day)
GOLDEN = [
    ("days", 2, 30, 0, 1906, "ABABABBAABBABAABBAABBABABABAABABBABABABAABBABABABAABBAABBABA"),
    ("alternating", 7, 10, 1, 1907,
     "BBBBBBBBBBBBBB-AAAAAA-BBBBBB-AAAAAA-BBBBBB-AAAAAA-BBBBBB-AAAAAAAAAAAAA"),
    ("pairs", 3, 8, 1, 12345, "BBB-AAAAA-BBBBB-AAAAA-BB"),
    ("days", 4, 6, 0, 2**62 + 7, "BBAABBAAABBAABBAAABBBABA"),
    ("alternating", 2, 16, 0, 0, "BBAAAABBBBAABBBBAABBAAAABBAABBAA"),
]


@pytest.mark.parametrize("design,L,m,w,seed,want", GOLDEN)
def test_the_same_seed_draws_the_schedule_it_drew_before_the_move(design, L, m, w, seed, want):
    s = plan_experiment("2026-06-01", design=design, period_days=L, periods=m, washout_days=w, seed=seed)
    assert "".join("-" if wo else c for c, wo in zip(s["condition"], s["washout"])) == want
    assert s["date"].iloc[0] == pd.Timestamp("2026-06-01") and len(s) == L * m
    assert (s["design"] == design).all()


def test_analysis_offers_the_same_functions():
    for name in ("plan_experiment", "design_assignments", "design_total", "check_design",
                 "expand_periods", "Assignments", "DESIGNS", "MAX_EXACT", "DEFAULT_DRAWS",
                 "SCHEDULE_COLUMNS"):
        assert getattr(analysis_experiments, name) is getattr(experiment_design, name), name


def test_the_committed_demo_schedules_are_the_plans_draws():
    exps = read_demo_experiments()
    for plan in exps["experiments"].to_dict("records"):
        drawn = plan_experiment(plan["start_date"], design=plan["design"], period_days=int(plan["period_days"]),
                                periods=int(plan["periods"]), washout_days=int(plan["washout_days"]),
                                seed=int(plan["seed"]))
        kept = exps["experiment_schedule"].loc[exps["experiment_schedule"]["experiment_id"] == plan["experiment_id"]]
        pd.testing.assert_frame_equal(kept.drop(columns="experiment_id").reset_index(drop=True),
                                      drawn.drop(columns="design"), check_dtype=False)


@pytest.mark.parametrize("start", ["not a day", None, "2026-13-40"])
def test_a_start_that_is_not_a_day_is_refused_by_name(start):
    with pytest.raises(ExperimentError, match="plan_experiment: start"):
        plan_experiment(start, design="pairs", period_days=3, periods=4, seed=1)


def _imports(path: Path) -> set[str]:
    """The package modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[:len(parts) - node.level])
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("below", ["errors.py", "framework.py", "schema.py", "experiment_design.py",
                                   "store.py", "demo.py", "importers"])
def test_nothing_below_analysis_imports_analysis(below):
    target = PACKAGE / below
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    if not target.exists():
        pytest.skip(f"{below} is not in this version")
    for path in files:
        bad = {m for m in _imports(path) if m.startswith("mastery_analysis.analysis")}
        assert not bad, f"{path.name} imports {bad}"
