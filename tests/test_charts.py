"""Charts: figure objects inspected (traces, names, axis titles, values taken from the data,
colours per element, escaping, size bounds, empty states), not pixels."""

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import chart_frames as cf
from mastery_analysis import analysis as A
from mastery_analysis import charts as ch
from mastery_analysis.analysis.privacy import consenting_only
from mastery_analysis.demo import GROUND_TRUTH, NON_CONSENTING
from mastery_analysis.framework import load_framework
from mastery_analysis.schema import empty as empty_table
from mastery_analysis.store import open_store

FW = load_framework()
MB = 1_000_000


def strings(obj):
    """Every string anywhere in a figure's dict (titles, names, hover text, tick labels...)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from strings(v)
    elif isinstance(obj, np.ndarray) and obj.dtype == object:
        for v in obj.ravel():
            yield from strings(v)


def all_text(fig):
    return list(strings(fig.to_plotly_json()))


def by_name(fig, name):
    return [t for t in fig.data if t.name == name]


# ---------------------------------------------------------------------------- demo data
@pytest.fixture(scope="module")
def alex(demo_store_path):
    with open_store(demo_store_path) as s:
        f = {"ratings": s.ratings(participant="alex"), "actions": s.actions(participant="alex"),
             "progress": s.progress(participant="alex"), "goals": s.goals(participant="alex")}
    f["trajectories"] = A.element_trajectories(f["ratings"])
    f["correlations"] = A.action_progress_correlation(f["actions"], f["progress"])
    f["habit"] = A.habit_strength(f["actions"], f["goals"])
    f["streaks"] = A.streaks(f["actions"], f["goals"])
    return f


@pytest.fixture(scope="module")
def cohort(demo_store_path):
    with open_store(demo_store_path) as s:
        f = {"participants": s.participants(cohort="spring-cohort"),
             "ratings": s.ratings(cohort="spring-cohort"),
             "actions": s.actions(cohort="spring-cohort"),
             "responses": s.responses(cohort="spring-cohort")}
    f["scores"] = A.score_responses(f["responses"])
    f["change"] = A.cohort_change(f["scores"])
    f["trends"] = A.element_trends(f["ratings"])
    return f


# ---------------------------------------------------------------------------- theme and colours
def test_every_chart_uses_the_one_theme(alex, cohort):
    figs = [
        ch.plot_trajectories(alex["trajectories"]), ch.plot_wheel(A.wheel_values(alex["trajectories"])),
        ch.plot_calendar(alex["actions"]), ch.plot_habit_strength(alex["habit"]),
        ch.plot_lag_profile(alex["correlations"]),
        ch.plot_action_progress(alex["actions"], alex["progress"], alex["correlations"]),
        ch.plot_cohort_change(cohort["scores"], cohort["change"]),
        ch.plot_forest(cohort["trends"]), ch.plot_distribution(cohort["scores"]),
        ch.plot_participation(cohort["ratings"]), ch.plot_trajectories(pd.DataFrame()),
        ch.plot_reliability(A.scale_reliability(cohort["responses"])),
    ]
    for fig in figs:
        assert isinstance(fig, go.Figure)
        assert fig.layout.template.layout.font.family == ch.TEMPLATE.layout.font.family
        assert fig.layout.title.text, "every chart has a title"


def subtitle_lines(fig):
    """The subtitle's lines as a person sees them (tags out, entities as one character)."""
    import re

    text = fig.layout.title.subtitle.text or ""
    return [re.sub(r"&(#\d+|\w+);", "x", re.sub(r"<[^>]*>", "", line)) for line in text.split("<br>")]


def test_no_subtitle_line_runs_past_the_figure(alex, cohort):
    figs = {
        "trajectories": ch.plot_trajectories(alex["trajectories"]),
        "calendar": ch.plot_calendar(alex["actions"], goals=alex["goals"], streaks=alex["streaks"]),
        "habit": ch.plot_habit_strength(alex["habit"], goals=alex["goals"]),
        "lag": ch.plot_lag_profile(alex["correlations"], goals=alex["goals"]),
        "action_progress": ch.plot_action_progress(alex["actions"], alex["progress"], alex["correlations"],
                                                   goal_id=GROUND_TRUTH["alex"]["effect_goal"], goals=alex["goals"]),
        "change": ch.plot_cohort_change(cohort["scores"], cohort["change"], participants=cohort["participants"]),
        "distribution": ch.plot_distribution(cohort["scores"]),
        "participation": ch.plot_participation(cohort["ratings"], cohort["participants"]),
    }
    for name, fig in figs.items():
        width = fig.layout.width or fig.layout.template.layout.width
        assert width >= 1000
        limit = ch.SUBTITLE_CHARS * width / 1000
        assert all(len(line) <= limit for line in subtitle_lines(fig)), (name, subtitle_lines(fig))
    # the two that were cut off at 1000 px: now on two lines, with every part still there
    cal = " ".join(subtitle_lines(figs["calendar"]))
    assert len(subtitle_lines(figs["calendar"])) == 2
    assert "longest streak" in cal and cal.rstrip().endswith(" days")
    assert "current streak " in cal and "current streak " in subtitle_lines(figs["calendar"])[-1]
    habit = subtitle_lines(figs["habit"])  # shortened to fit on one line, weekly note included
    assert len(habit) == 1 and habit[0].endswith("fades when you skip · weekly means")
    # the plot area starts below the extra line (18 px a line)
    one_line = ch.plot_calendar(alex["actions"], goals=alex["goals"])
    assert len(subtitle_lines(one_line)) == 1
    assert figs["calendar"].layout.margin.t == one_line.layout.margin.t + 18


def test_wrap_text_keeps_tags_entities_and_breaks():
    text = "alpha beta · <b>gamma delta</b> · &lt;img src=x&gt; epsilon<br>zeta"
    wrapped = ch.wrap_text(text, 12)
    assert wrapped.replace("<br>", " ").replace("  ", " ").split() == \
        text.replace("<br>", " ").split()  # nothing lost, only spaces became breaks
    assert "<b>gamma" in wrapped and "delta</b>" in wrapped and "&lt;img" in wrapped
    assert wrapped.endswith("<br>zeta")
    assert ch.wrap_text("short · text", 110) == "short · text"
    assert ch.wrap_text('<span style="color:red">a b</span> c', 2) == '<span style="color:red">a<br>b</span><br>c'
    assert ch.wrap_text("", 10) == ""


def test_date_axes_show_dates_even_for_a_single_day(alex):
    last = alex["ratings"]["date"].max()
    one_day = A.element_trajectories(alex["ratings"].loc[alex["ratings"]["date"] == last])
    fig = ch.plot_trajectories(one_day)
    axes = [fig.layout[k] for k in fig.layout if k.startswith("xaxis")]
    assert len(axes) == 5
    for axis in axes:
        assert axis.type == "date"
        lo, hi = (pd.Timestamp(v) for v in axis.range)
        assert hi - lo == pd.Timedelta(days=ch.MIN_DATE_SPAN_DAYS)
        assert lo < last < hi and last - lo == hi - last
        (stop,) = axis.tickformatstops  # zoomed in below a day, ticks are still dates
        assert stop.value == "%b %d, %Y" and stop.dtickrange[1] == 86_400_000
    # two years of data keep plotly's own range, with the same guard against times of day
    full = ch.plot_trajectories(alex["trajectories"])
    assert full.layout.xaxis.range is None and full.layout.xaxis.tickformatstops[0].value == "%b %d, %Y"
    habit = ch.plot_habit_strength(alex["habit"].loc[alex["habit"]["date"] == alex["habit"]["date"].max()],
                                   goals=alex["goals"])
    lo, hi = (pd.Timestamp(v) for v in habit.layout.xaxis.range)
    assert hi - lo == pd.Timedelta(days=ch.MIN_DATE_SPAN_DAYS)
    # charts whose x axis is not a date are left alone
    assert ch.plot_lag_profile(alex["correlations"]).layout.xaxis.type != "date"


def test_trajectories_one_panel_per_element_in_framework_colours(alex):
    fig = ch.plot_trajectories(alex["trajectories"])
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [FW.labels[k] for k in FW.keys]
    lines = [t for t in fig.data if t.name and t.name.startswith("Rolling mean")]
    assert [t.line.color for t in lines] == [FW.colors[k] for k in FW.keys]
    visions = by_name(fig, "Vision")
    assert all(t.line.dash == "dash" for t in visions) and len(visions) == 5
    assert [t.line.color for t in visions] == [FW.colors[k] for k in FW.keys]
    assert sum(1 for t in fig.data if t.fill == "toself") == 5, "the gap is shaded per element"
    assert fig.layout.xaxis5.title.text == "Date"
    assert any(ax.title.text == "Rating (1–10)" for ax in (fig.layout.yaxis3,))
    assert fig.layout.yaxis.range == (0.5, 10.5)


def test_trajectories_daily_points_are_the_ratings():
    traj = A.element_trajectories(cf.ratings(days=60))
    fig = ch.plot_trajectories(traj)
    points = by_name(fig, "Daily rating")
    assert len(points) == 5
    for t, key in zip(points, FW.keys):
        expected = traj.loc[traj["element"] == key].sort_values("date")
        np.testing.assert_allclose(np.asarray(t.y, dtype=float), expected["rating"].to_numpy())
        assert t.marker.color == FW.colors[key]
    line = by_name(fig, "Rolling mean")[0]
    np.testing.assert_allclose(np.asarray(line.y, dtype=float),
                               traj.loc[traj["element"] == "proactive"].sort_values("date")["rolling_mean"])


def test_trajectories_long_series_are_weekly_means():
    ratings = cf.ratings(days=3 * 365 + 1)
    traj = A.element_trajectories(ratings)
    fig = ch.plot_trajectories(traj)
    points = by_name(fig, "Weekly mean rating")
    assert len(points) == 5 and not by_name(fig, "Daily rating")
    expected = (traj.loc[traj["element"] == "focused"].set_index("date")["rating"]
                .resample("W-SUN").mean().dropna())
    got = np.asarray(points[FW.keys.index("focused")].y, dtype=float)
    np.testing.assert_allclose(got, expected.to_numpy())
    assert "weekly" in fig.layout.title.subtitle.text


def test_trajectories_of_several_people_need_a_participant():
    traj = pd.concat([cf.trajectories(participant="a"), cf.trajectories(participant="b")])
    with pytest.raises(ch.ChartError, match="participant="):
        ch.plot_trajectories(traj)
    fig = ch.plot_trajectories(traj, participant="b")
    assert fig.layout.title.text.endswith(": b")


def wheel_r(wheel, measure):
    """The frame's values of one measure in framework order, the polygon closed."""
    v = wheel.loc[wheel["measure"] == measure].set_index("element")["value"].reindex(FW.keys).tolist()
    return v + v[:1]


def test_wheel_draws_baseline_now_and_vision_from_wheel_values(alex):
    wheel = A.wheel_values(alex["trajectories"])
    fig = ch.plot_wheel(wheel)
    now, base, vision = (by_name(fig, n)[0] for n in ("Now", "Baseline", "Vision"))
    assert fig.layout.title.text.endswith(": alex")
    assert list(now.theta) == [FW.labels[k] for k in FW.keys + FW.keys[:1]]
    for trace, measure in ((now, "now"), (base, "baseline"), (vision, "vision")):
        np.testing.assert_allclose(trace.r, wheel_r(wheel, measure))
    assert now.r[-1] == now.r[0], "the polygon is closed"
    assert list(now.marker.color[:-1]) == [FW.colors[k] for k in FW.keys]
    assert "vision: where I want to be" in fig.layout.title.subtitle.text


def test_wheel_without_a_vision_draws_no_vision_and_several_people_need_a_participant():
    traj = cf.trajectories().assign(vision=np.nan)
    fig = ch.plot_wheel(A.wheel_values(traj))
    assert [t.name for t in fig.data] == ["Baseline", "Now"]
    assert "vision" not in fig.layout.title.subtitle.text
    two = A.wheel_values(pd.concat([cf.trajectories(participant="a"), cf.trajectories(participant="b")]))
    with pytest.raises(ch.ChartError, match="participant="):
        ch.plot_wheel(two)
    fig = ch.plot_wheel(two, participant="b")
    assert fig.layout.title.text.endswith(": b")
    np.testing.assert_allclose(by_name(fig, "Now")[0].r,
                               wheel_r(two.loc[two["participant_id"] == "b"], "now"))
    assert ch.plot_wheel(two, participant="nobody").layout.meta["empty"]


def test_cohort_wheel_draws_the_medians_and_leaves_out_what_is_suppressed(cohort):
    traj = A.element_trajectories(cohort["ratings"])
    wheel = A.wheel_values(traj, by="cohort")
    fig = ch.plot_wheel(wheel)
    assert "median of 24 people" in fig.layout.title.text
    np.testing.assert_allclose(by_name(fig, "Now")[0].r, wheel_r(wheel, "now"))
    np.testing.assert_allclose(by_name(fig, "Baseline")[0].r, wheel_r(wheel, "baseline"))
    few = A.wheel_values(traj.loc[traj["participant_id"].isin(["sc01", "sc02", "sc03"])], by="cohort")
    small = ch.plot_wheel(few)
    assert small.layout.meta["empty"] and "at least 5" in small.layout.annotations[0].text
    # a suppressed median is not drawn: no vision at all, or a gap at one element
    assert wheel.loc[wheel["measure"] == "vision", "suppressed"].all() and not by_name(fig, "Vision")
    gap = wheel.copy()
    hide = (gap["element"] == "focused") & (gap["measure"] == "now")
    gap.loc[hide, ["value", "suppressed"]] = [np.nan, True]
    gap.loc[gap["measure"] == "vision", ["value", "suppressed"]] = [8.0, False]
    fig = ch.plot_wheel(gap)
    now = by_name(fig, "Now")[0].r
    assert np.isnan(now[FW.keys.index("focused")]) and np.isfinite(np.delete(now, FW.keys.index("focused"))).all()
    np.testing.assert_allclose(by_name(fig, "Vision")[0].r, [8.0] * 6)
    assert "where they want to be (cohort medians)" in fig.layout.title.subtitle.text


def test_calendar_cells_hold_the_daily_action_counts(alex):
    actions = alex["actions"]
    fig = ch.plot_calendar(actions, streaks=alex["streaks"], goals=alex["goals"])
    daily = actions.groupby("date")["count"].sum()
    years = sorted(set(daily.index.year))
    assert [a.text for a in fig.layout.annotations] == [str(y) for y in years]
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == len(years)
    assert sum(np.nansum(np.asarray(t.z, dtype=float)) for t in heat) == daily.sum()
    assert max(np.nanmax(np.asarray(t.z, dtype=float)) for t in heat) == daily.max()
    # one cell, read back: the first day of data
    first = daily.index.min()
    z = np.asarray(heat[0].z, dtype=float)
    jan1 = pd.Timestamp(first.year, 1, 1)
    assert z[first.weekday(), ((first - jan1).days + jan1.weekday()) // 7] == daily.iloc[0]
    longest = alex["streaks"]["length"].max()
    assert f"longest streak {longest} days" in fig.layout.title.subtitle.text


def test_calendar_of_one_goal_takes_its_element_colour(alex):
    goal = GROUND_TRUTH["alex"]["effect_goal"]
    fig = ch.plot_calendar(alex["actions"], goal_id=goal, goals=alex["goals"])
    element = alex["goals"].set_index("goal_id").loc[goal, "element"]
    assert fig.data[0].colorscale[-1][1] == FW.colors[element]
    assert sum(np.nansum(np.asarray(t.z, dtype=float)) for t in fig.data) == \
        alex["actions"].loc[alex["actions"]["goal_id"] == goal, "count"].sum()


def test_habit_strength_lines_are_the_scores_in_percent(alex):
    habit = alex["habit"]
    fig = ch.plot_habit_strength(habit.loc[habit["date"] >= "2026-01-01"], goals=alex["goals"])
    goals = alex["goals"].set_index("goal_id")
    assert {t.name for t in fig.data} == set(goals["title"])
    for t in fig.data:
        gid = goals.index[goals["title"] == t.name][0]
        assert t.line.color == FW.colors[goals.loc[gid, "element"]]
        expected = habit.loc[(habit["goal_id"] == gid) & (habit["date"] >= "2026-01-01")].sort_values("date")
        np.testing.assert_allclose(np.asarray(t.y, dtype=float), expected["score"].to_numpy() * 100)
    assert fig.layout.yaxis.title.text == "Habit strength (%)"


def test_lag_profile_marks_significant_and_insufficient_lags(alex):
    corr = alex["correlations"]
    fig = ch.plot_lag_profile(corr, goals=alex["goals"])
    goals = alex["goals"].set_index("goal_id")
    assert [a.text for a in fig.layout.annotations] == [goals.loc[g, "title"] for g in goals.index]
    sig = by_name(fig, "Significant (q < 0.05)")
    effect = GROUND_TRUTH["alex"]["effect_goal"]
    effect_color = FW.colors[goals.loc[effect, "element"]]
    marked = [t for t in sig if t.marker.color == effect_color]
    assert len(marked) == 1 and sorted(marked[0].x) == GROUND_TRUTH["alex"]["effect_lags"]
    null_color = FW.colors[goals.loc[GROUND_TRUTH["alex"]["null_goal"], "element"]]
    assert not [t for t in sig if t.marker.color == null_color]
    assert fig.layout.xaxis.title.text == "Lag (days after the action)"
    # not enough data: a short series is greyed out
    short_a, short_p = cf.actions(days=12), cf.progress(days=12)
    short = ch.plot_lag_profile(A.action_progress_correlation(short_a, short_p))
    grey = by_name(short, "Not enough data yet")
    assert grey and all(t.marker.color == ch.NO_DATA_GREY for t in grey)
    assert any("days needed" in h for t in grey for h in t.hovertext)
    # a hand-built frame needs only the columns plot_lag_profile requires
    needed = ["goal_id", "lag", "r", "ci_low", "ci_high", "significant", "sufficient"]
    bare = ch.plot_lag_profile(corr[needed], goals=alex["goals"])
    assert len(by_name(bare, "Significant (q < 0.05)")) == len(sig)


def test_action_progress_dots_are_the_pairs_the_analysis_correlated(alex):
    corr = alex["correlations"]
    goal, lag = GROUND_TRUTH["alex"]["effect_goal"], GROUND_TRUTH["alex"]["effect_lags"][0]
    fig = ch.plot_action_progress(alex["actions"], alex["progress"], corr, goal_id=goal, lag=lag,
                                  goals=alex["goals"])
    row = corr.loc[(corr["goal_id"] == goal) & (corr["lag"] == lag)].iloc[0]
    dots = fig.data[0]
    true_x = np.asarray(dots.customdata[:, 1], dtype=float)
    assert len(dots.y) == row["n"]
    assert np.corrcoef(true_x, np.asarray(dots.y, dtype=float))[0, 1] == pytest.approx(row["r"], abs=1e-9)
    assert np.all(np.abs(np.asarray(dots.x, dtype=float) - true_x) <= 0.15), "jitter stays small"
    assert f"r = +{row['r']:.2f}" in fig.layout.title.subtitle.text
    assert fig.layout.xaxis.title.text == "Actions on the day (count)"
    assert "percentage points per day" in fig.layout.yaxis.title.text
    assert by_name(fig, "Least-squares line")
    # with no goal named, the goal and lag with the strongest evidence are shown
    best = ch.plot_action_progress(alex["actions"], alex["progress"], corr, goals=alex["goals"])
    top = corr.loc[corr["sufficient"]].sort_values("q_value").iloc[0]
    assert f"Lag {top['lag']}:" in best.layout.title.subtitle.text


def test_goal_pace_draws_expected_progress_and_projection():
    goals, progress, pace = cf.goals(), cf.progress(days=120), cf.pace()
    fig = ch.plot_goal_pace(pace, progress, goals)
    titles = [a.text for a in fig.layout.annotations if a.text]
    assert titles[0].startswith("Apply to 3 roles a week: <b>ahead</b>")
    assert "at risk" in titles[1] and "done" in titles[2]
    expected = by_name(fig, "Expected (start to due date)")
    assert len(expected) == 2, "the goal without a due date has no expected line"
    assert list(expected[0].y) == [0, 100]
    assert pd.Timestamp(expected[0].x[1]) == goals.loc[0, "due_date"]
    projected = by_name(fig, "Projected at current pace")
    assert len(projected) == 2, "a goal that is done has no projection"
    assert pd.Timestamp(projected[0].x[1]) == pace.loc[0, "projected_finish"]
    prog = by_name(fig, "Progress")
    np.testing.assert_allclose(np.asarray(prog[1].y, dtype=float),
                               progress.loc[progress["goal_id"] == "g1", "percent"].to_numpy())
    assert prog[0].line.color == FW.colors["proactive"]
    assert fig.layout.yaxis.title.text == "Progress (%)"


def test_cohort_change_shows_only_consenting_people(cohort):
    fig = ch.plot_cohort_change(cohort["scores"], cohort["change"], participants=cohort["participants"])
    text = " ".join(all_text(fig))
    for pid in NON_CONSENTING:
        assert pid not in text, f"{pid} did not consent and must not appear"
    people = by_name(fig, "One consenting participant")
    assert len(people) == 5
    ids = {x for x in people[0].text if x}
    consenting = set(cohort["participants"].loc[cohort["participants"]["consent_share"], "participant_id"])
    assert ids == consenting
    medians = by_name(fig, "Cohort median")
    wide = cohort["scores"].pivot_table(index=["element", "participant_id"], columns="phase", values="score")
    for t, key in zip(medians, FW.keys):
        w = wide.loc[key].dropna()
        np.testing.assert_allclose(t.y, [w["baseline"].median(), w["post"].median()])
        assert t.line.color == FW.colors[key]
    change = cohort["change"].set_index("element")
    first = fig.layout.annotations[0].text
    assert f"d<sub>z</sub> = {change.loc['proactive', 'd_z']:+.2f}".replace("-", "−") in first
    assert f"{int(change.loc['proactive', 'n_reliable_improved'])}↑" in first
    # no participants frame: no individual at all, only the medians
    anonymous = ch.plot_cohort_change(cohort["scores"], cohort["change"])
    assert not by_name(anonymous, "One consenting participant") and by_name(anonymous, "Cohort median")


def test_cohort_change_hides_the_median_of_fewer_than_five(cohort):
    few = cohort["scores"].loc[cohort["scores"]["participant_id"].isin(["sc01", "sc02", "sc03", "sc05"])]
    change = A.cohort_change(few)
    fig = ch.plot_cohort_change(few, change, participants=cohort["participants"])
    assert not by_name(fig, "Cohort median")
    assert "fewer than 5 people" in fig.layout.annotations[0].text
    assert "median hidden" in fig.layout.title.subtitle.text


def test_forest_rows_are_participants_with_their_intervals(cohort):
    trends = consenting_only(cohort["trends"], cohort["participants"])
    rm = A.rm_corr(cohort["ratings"].loc[cohort["ratings"]["kind"] == "current"].assign(
        week=lambda f: (f["date"] - f["date"].min()).dt.days // 7), x="week", y="rating",
        subject="participant_id")
    fig = ch.plot_forest(trends, rm)
    assert [a.text for a in fig.layout.annotations][:5] == [FW.labels[k] for k in FW.keys]
    t = fig.data[0]
    assert t.marker.color == FW.colors["proactive"]
    pro = trends.loc[trends["element"] == "proactive"].set_index("participant_id")
    for name, x, plus, minus in zip(t.y, t.x, t.error_x.array, t.error_x.arrayminus):
        assert x == pytest.approx(pro.loc[name, "slope"])
        assert x + plus == pytest.approx(pro.loc[name, "slope_high"])
        assert x - minus == pytest.approx(pro.loc[name, "slope_low"])
    assert set(fig.layout.yaxis.categoryarray) == set(trends["participant_id"]) | {"<b>All: rmcorr</b>"}
    # the rmcorr of rating on week: its common slope (rating points per week) is the diamond
    diamonds = [t for t in fig.data if t.marker.symbol == "diamond"]
    assert len(diamonds) == 5 and all(d.x[0] == pytest.approx(rm["slope"].iloc[0]) for d in diamonds)
    assert f"r = {rm['r'].iloc[0]:+.2f}".replace("-", "−") in fig.layout.title.subtitle.text
    assert "rating points per week" in " ".join(all_text(fig))


def test_forest_of_person_slopes_draws_the_rmcorr_common_slope(cohort):
    """Each consenting person's own slope of weekly actions -> proactive rating, and the rmcorr
    of the same pairs: the diamond is its common slope, on the same axis."""
    pairs = A.weekly_action_ratings(cohort["actions"], cohort["ratings"])
    rm = A.rm_corr(pairs, x="actions", y="rating", subject="participant_id").assign(element="proactive")
    slopes = consenting_only(A.person_slopes(pairs, x="actions", y="rating", subject="participant_id",
                                             by="element"), cohort["participants"])
    fig = ch.plot_forest(slopes, rm, low="ci_low", high="ci_high", framework=FW,
                         x_title="Slope (rating points per weekly action)")
    people = fig.data[0]
    assert set(people.y) == set(slopes["participant_id"]) and not set(people.y) & set(NON_CONSENTING)
    assert people.marker.color == FW.colors["proactive"]
    by_id = slopes.set_index("participant_id")
    for name, x, plus, minus in zip(people.y, people.x, people.error_x.array, people.error_x.arrayminus):
        assert x == pytest.approx(by_id.loc[name, "slope"])
        assert x + plus == pytest.approx(by_id.loc[name, "ci_high"])
        assert x - minus == pytest.approx(by_id.loc[name, "ci_low"])
    (diamond,) = [t for t in fig.data if t.marker.symbol == "diamond"]
    row = rm.iloc[0]
    assert diamond.x[0] == pytest.approx(row["slope"]) and row["slope"] > 0
    assert diamond.x[0] + diamond.error_x.array[0] == pytest.approx(row["slope_high"])
    assert diamond.x[0] - diamond.error_x.arrayminus[0] == pytest.approx(row["slope_low"])
    assert "common slope" in diamond.hovertemplate
    assert f"r = {row['r']:+.2f}" in fig.layout.title.subtitle.text
    # the rmcorr of another element is not drawn in this element's panel
    other = ch.plot_forest(slopes, rm.assign(element="connect"), low="ci_low", high="ci_high", framework=FW)
    assert not [t for t in other.data if t.marker.symbol == "diamond"]


def test_forest_of_correlations_draws_the_rmcorr_diamond():
    est = pd.DataFrame({"participant_id": ["a", "b", "c"], "r": [0.1, 0.3, 0.5],
                        "ci_low": [-0.2, 0.0, 0.2], "ci_high": [0.4, 0.6, 0.7]})
    rm = {"r": 0.31, "ci_low": 0.12, "ci_high": 0.48, "p_value": 0.002, "n_subjects": 3, "n_obs": 30}
    fig = ch.plot_forest(est, rm, estimate="r", low="ci_low", high="ci_high", x_title="Correlation r")
    diamond = [t for t in fig.data if t.marker.symbol == "diamond"]
    assert len(diamond) == 1 and diamond[0].x[0] == 0.31
    assert diamond[0].error_x.array[0] == pytest.approx(0.17)
    assert fig.layout.yaxis.categoryarray[-1] == "<b>All: rmcorr</b>"


def test_distribution_boxes_are_quartiles_without_individual_values(cohort):
    scores = cohort["scores"]
    fig = ch.plot_distribution(scores)
    assert len(fig.data) == 10, "five elements at baseline and post (no mid in the demo)"
    box = fig.data[0]
    v = scores.loc[(scores["element"] == "proactive") & (scores["phase"] == "baseline"), "score"]
    assert box.q1[0] == pytest.approx(v.quantile(0.25))
    assert box.median[0] == pytest.approx(v.median())
    assert box.q3[0] == pytest.approx(v.quantile(0.75))
    assert box.y is None, "no individual value is in the figure"
    assert box.line.color == FW.colors["proactive"]
    assert f"(n = {v.size})" in box.name
    text = " ".join(all_text(fig))
    assert not any(pid in text for pid in scores["participant_id"].unique())
    small = scores.loc[scores["participant_id"].isin(["sc01", "sc02", "sc03"])]
    hidden = ch.plot_distribution(small)
    assert hidden.layout.meta["empty"] and "Fewer than 5" in hidden.layout.annotations[0].text
    # the note on the hidden groups names the configured minimum (20 people at post, 24 at baseline)
    late = scores.loc[(scores["phase"] == "post") & scores["participant_id"].isin(["sc01", "sc02", "sc03", "sc04"])]
    some = ch.plot_distribution(scores.drop(late.index), min_n=21)
    assert len(some.data) == 5 and "Hidden (fewer than 21 people)" in some.layout.annotations[-1].text


def test_participation_counts_people_per_week(cohort):
    fig = ch.plot_participation(cohort["ratings"], cohort["participants"])
    r = cohort["ratings"]
    expected = r.assign(week=r["date"].dt.to_period("W-SUN").dt.start_time).groupby("week")[
        "participant_id"].nunique()
    assert list(fig.data[0].y) == expected.tolist()
    assert fig.layout.yaxis.title.text == "People who checked in"


# ---------------------------------------------------------------------------- empty states
EMPTY_CASES = {
    "trajectories": lambda: ch.plot_trajectories(A.element_trajectories(empty_table("ratings"))),
    "wheel": lambda: ch.plot_wheel(A.wheel_values(A.element_trajectories(empty_table("ratings")))),
    "calendar": lambda: ch.plot_calendar(empty_table("actions")),
    "habit_strength": lambda: ch.plot_habit_strength(
        A.habit_strength(empty_table("actions"), empty_table("goals"))),
    "lag_profile": lambda: ch.plot_lag_profile(
        A.action_progress_correlation(empty_table("actions"), empty_table("progress"))),
    "action_progress": lambda: ch.plot_action_progress(empty_table("actions"), empty_table("progress")),
    "goal_pace": lambda: ch.plot_goal_pace(pd.DataFrame(), empty_table("progress"), empty_table("goals")),
    "cohort_change": lambda: ch.plot_cohort_change(pd.DataFrame()),
    "forest": lambda: ch.plot_forest(pd.DataFrame()),
    "distribution": lambda: ch.plot_distribution(pd.DataFrame()),
    "participation": lambda: ch.plot_participation(empty_table("ratings")),
    "reliability": lambda: ch.plot_reliability(pd.DataFrame()),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CASES))
def test_empty_frames_give_a_figure_that_says_what_to_do(name):
    fig = EMPTY_CASES[name]()
    assert isinstance(fig, go.Figure) and fig.layout.meta["empty"]
    (note,) = fig.layout.annotations
    assert note.text.startswith("No ")
    assert ":" in note.text, "the message says what to do next"
    assert not fig.data


def test_one_check_in_gives_charts_not_errors(store):
    store.add_participant("solo", joined_on="2026-01-05")
    store.record_checkin("solo", "2026-01-05", ratings={k: 5 for k in FW.keys},
                         vision={k: 8 for k in FW.keys})
    ratings = store.ratings(participant="solo")
    traj = A.element_trajectories(ratings)
    assert len(ch.plot_trajectories(traj).data) > 0
    assert len(ch.plot_wheel(A.wheel_values(traj)).data) == 3
    assert ch.plot_calendar(store.actions(participant="solo")).layout.meta["empty"]
    corr = A.action_progress_correlation(store.actions(), store.progress())
    assert ch.plot_lag_profile(corr).layout.meta["empty"]


def test_a_participant_missing_from_the_frame_is_an_empty_state():
    fig = ch.plot_trajectories(cf.trajectories(), participant="nobody")
    assert fig.layout.meta["empty"] and "nobody" in fig.layout.annotations[0].text


def test_a_frame_without_the_needed_columns_names_them():
    with pytest.raises(ch.ChartError, match="rolling_mean"):
        ch.plot_trajectories(pd.DataFrame({"element": ["proactive"], "date": ["2024-01-01"],
                                           "rating": [5]}))


# ---------------------------------------------------------------------------- escaping
def test_text_a_person_typed_is_escaped_everywhere():
    evil = cf.EVIL
    goals = cf.goals(titles=(evil, "ok", "fine"))
    actions, progress = cf.actions(days=120), cf.progress(days=120)
    corr = A.action_progress_correlation(actions, progress)
    parts, scores, change, trends, rm = cf.cohort(n=6)
    scores = scores.replace({"p01": evil})
    parts = parts.replace({"p01": evil})
    trends = trends.replace({"p01": evil})
    traj = cf.trajectories(participant=evil)
    figs = [
        ch.plot_trajectories(traj), ch.plot_wheel(A.wheel_values(traj)),
        ch.plot_calendar(actions, goal_id="g0", goals=goals),
        ch.plot_habit_strength(A.habit_strength(actions, goals), goals=goals),
        ch.plot_lag_profile(corr, goals=goals),
        ch.plot_action_progress(actions, progress, corr, goal_id="g0", goals=goals),
        ch.plot_goal_pace(cf.pace(), progress, goals),
        ch.plot_cohort_change(scores, change, participants=parts),
        ch.plot_forest(trends, rm, title=f"Trends of {evil}"),
        ch.plot_distribution(scores.assign(phase=scores["phase"].replace({"post": evil})),
                             phases=("baseline", evil)),
        ch.plot_trajectories(cf.trajectories(), participant=evil),
    ]
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    for fig in figs:
        texts = all_text(fig)
        assert not any("<img" in t for t in texts), fig.layout.title.text
        assert "<img" not in fig.to_json() and "\\u003cimg" not in fig.to_json()
        assert any(escaped in t for t in texts), fig.layout.title.text


# ---------------------------------------------------------------------------- bounded size
@pytest.fixture(scope="module")
def three_years():
    days = 3 * 365 + 1
    ratings, actions = cf.ratings(days=days), cf.actions(days=days)
    progress, goals = cf.progress(days=days, every=1), cf.goals()
    return {"ratings": ratings, "actions": actions, "progress": progress, "goals": goals,
            "trajectories": A.element_trajectories(ratings),
            "correlations": A.action_progress_correlation(actions, progress)}


def test_three_years_of_daily_data_stay_under_a_megabyte(three_years):
    d = three_years
    figs = {
        "trajectories": ch.plot_trajectories(d["trajectories"]),
        "wheel": ch.plot_wheel(A.wheel_values(d["trajectories"])),
        "calendar": ch.plot_calendar(d["actions"], goals=d["goals"],
                                     streaks=A.streaks(d["actions"], d["goals"])),
        "habit_strength": ch.plot_habit_strength(A.habit_strength(d["actions"], d["goals"]),
                                                 goals=d["goals"]),
        "lag_profile": ch.plot_lag_profile(d["correlations"], goals=d["goals"]),
        "action_progress": ch.plot_action_progress(d["actions"], d["progress"], d["correlations"]),
        "goal_pace": ch.plot_goal_pace(cf.pace(), d["progress"], d["goals"]),
    }
    sizes = {k: len(f.to_json()) for k, f in figs.items()}
    assert all(s < MB for s in sizes.values()), sizes
    # the long series were aggregated: at most one point a week per element
    points = by_name(figs["trajectories"], "Weekly mean rating")[0]
    assert len(points.x) <= 3 * 53


def test_large_scatters_use_webgl():
    days = 2600
    actions, progress = cf.actions(days=days, n_goals=1), cf.progress(days=days, every=1, n_goals=1)
    fig = ch.plot_action_progress(actions, progress, goal_id="g0", lag=0)
    assert fig.data[0].type == "scattergl" and len(fig.data[0].y) > ch.GL_AFTER
    assert len(fig.to_json()) < MB
    small = ch.plot_action_progress(cf.actions(days=100, n_goals=1), cf.progress(days=100, n_goals=1),
                                    goal_id="g0")
    assert small.data[0].type == "scatter"


def test_the_whole_demo_cohort_stays_under_a_megabyte(cohort):
    traj = A.element_trajectories(cohort["ratings"])
    figs = {
        "wheel": ch.plot_wheel(A.wheel_values(traj, by="cohort")),
        "cohort_change": ch.plot_cohort_change(cohort["scores"], cohort["change"],
                                               participants=cohort["participants"]),
        "forest": ch.plot_forest(consenting_only(cohort["trends"], cohort["participants"])),
        "distribution": ch.plot_distribution(cohort["scores"]),
        "participation": ch.plot_participation(cohort["ratings"], cohort["participants"]),
    }
    sizes = {k: len(f.to_json()) for k, f in figs.items()}
    assert all(s < MB for s in sizes.values()), sizes


def test_a_large_cohort_distribution_does_not_grow():
    parts, scores, *_ = cf.cohort(n=24)
    _, big, *_ = cf.cohort(n=2000)
    assert len(ch.plot_distribution(big).to_json()) < 1.2 * len(ch.plot_distribution(scores).to_json())


def test_charts_do_not_modify_their_input(alex):
    traj = alex["trajectories"].copy()
    actions = alex["actions"].copy()
    ch.plot_trajectories(alex["trajectories"])
    ch.plot_calendar(alex["actions"])
    pd.testing.assert_frame_equal(traj, alex["trajectories"])
    pd.testing.assert_frame_equal(actions, alex["actions"])


def test_figures_are_json_serialisable_and_deterministic(alex):
    a = ch.plot_action_progress(alex["actions"], alex["progress"], alex["correlations"]).to_json()
    b = ch.plot_action_progress(alex["actions"], alex["progress"], alex["correlations"]).to_json()
    assert a == b and json.loads(a)["data"]


def test_forest_names_what_the_rmcorr_relates_and_escapes_it():
    est = pd.DataFrame({"participant_id": ["a"], "slope": [0.1], "slope_low": [0.0], "slope_high": [0.2]})
    rm = {"r": -0.2, "ci_low": -0.4, "ci_high": 0.0, "p_value": 0.04, "n_subjects": 6, "n_obs": 60}
    fig = ch.plot_forest(est, rm, rmcorr_label="Weekly <b>actions</b> and rating")
    assert fig.layout.title.subtitle.text.startswith("Weekly &lt;b&gt;actions&lt;/b&gt; and rating: r = −0.20")
    assert ch.plot_forest(est.iloc[0:0], title="<i>x</i>").layout.title.text == "&lt;i&gt;x&lt;/i&gt;"
    assert ch.plot_forest(est, rm, x_title="<i>per</i> week").layout.xaxis.title.text == "&lt;i&gt;per&lt;/i&gt; week"


def test_trajectories_show_each_days_note_escaped_in_the_hover():
    ratings = cf.ratings(days=30)
    ratings.loc[ratings["date"] == "2024-01-03", "note"] = "Read <useful> ideas & \"quotes\""
    ratings.loc[ratings["date"] == "2024-01-05", "note"] = cf.EVIL
    fig = ch.plot_trajectories(A.element_trajectories(ratings), notes=ratings)
    points = by_name(fig, "Daily rating")[0]
    assert "%{text}" in points.hovertemplate
    assert points.text[2] == '<br><i>Read &lt;useful&gt; ideas &amp; "quotes"</i>'
    assert points.text[4] == "<br><i>&lt;img src=x onerror=alert(1)&gt;</i>" and points.text[0] == ""
    assert not any("<img" in t for t in all_text(fig))


def test_a_typed_template_field_is_not_substituted():
    goals = cf.goals(titles=("Save 10%{y} more", "ok", "fine"))
    actions = cf.actions(days=30)
    fig = ch.plot_habit_strength(A.habit_strength(actions, goals), goals=goals)
    line = [t for t in fig.data if t.name.startswith("Save")][0]
    assert "%{y}" not in line.name and line.name.replace("\u200b", "") == "Save 10%{y} more"
    assert line.hovertemplate.count("%{y") == 1, "only the chart's own field remains"


def test_score_axes_name_the_questionnaire_scale(cohort):
    assert ch.plot_distribution(cohort["scores"]).layout.yaxis.title.text == \
        "Element score (1–5, questionnaire)"
    fig = ch.plot_cohort_change(cohort["scores"], cohort["change"])
    assert fig.layout.yaxis.title.text == "Element score (1–5, questionnaire)"
    assert fig.layout.yaxis.range == (0.8, 5.2)


def test_reliability_chart_draws_alpha_intervals_and_hides_small_groups(cohort):
    rel = A.scale_reliability(cohort["responses"])
    fig = ch.plot_reliability(rel)
    dots = [t for t in fig.data if t.name in ("baseline", "post")]
    assert sorted(t.name for t in dots) == ["baseline", "post"]
    base = next(t for t in dots if t.name == "baseline")
    expected = rel[rel["phase"] == "baseline"]
    np.testing.assert_allclose(base.x, expected["alpha"])
    np.testing.assert_allclose(np.asarray(base.x) - np.asarray(base.error_x.arrayminus), expected["alpha_ci_low"])
    assert list(base.y)[0].startswith("Being proactive")  # labels, not keys
    diamonds = next(t for t in fig.data if t.name == "Published or assumed")
    # the framework file's assumed value for our questionnaire, the published alpha for Pearlin's
    assert set(diamonds.x) == {0.8, 0.72}
    assert any(s.x0 == 0.70 for s in fig.layout.shapes)
    few = rel.assign(n=np.where(rel["scale"] == "focused", 3, rel["n"]))
    fig = ch.plot_reliability(few)
    drawn = [y for t in fig.data if t.name in ("baseline", "post") for y in t.y]
    assert not any(y.startswith("Being focused") for y in drawn)
    assert "2 not drawn: fewer than 5 complete answers" in fig.layout.title.subtitle.text


# ---------------------------------------------------------------------------- recent days
def test_recent_days_draws_each_days_actions_and_mean_rating(alex):
    day = alex["ratings"]["date"].max()
    ratings = alex["ratings"].loc[alex["ratings"]["date"] > day - pd.Timedelta(days=14)]
    # a day without a check-in and a day without any action inside the two weeks
    no_checkin, no_action = day - pd.Timedelta(days=3), day - pd.Timedelta(days=5)
    ratings = ratings.loc[ratings["date"] != no_checkin]
    actions = alex["actions"].loc[alex["actions"]["date"] != no_action]
    before = (ratings.copy(), actions.copy())
    fig = ch.plot_recent_days(ratings, actions, day=day.date(), framework=FW)
    pd.testing.assert_frame_equal(ratings, before[0])
    pd.testing.assert_frame_equal(actions, before[1])

    assert isinstance(fig, go.Figure)
    bars, line = fig.data
    days = [day - pd.Timedelta(days=13 - i) for i in range(14)]
    assert [pd.Timestamp(x) for x in bars.x] == days and [pd.Timestamp(x) for x in line.x] == days
    for d, y in zip(days, bars.y):
        assert y == actions.loc[actions["date"] == d, "count"].sum()
    for d, y in zip(days, line.y):
        current = ratings.loc[(ratings["date"] == d) & (ratings["kind"] == "current"), "rating"]
        assert (np.isnan(y) and current.empty) or y == pytest.approx(current.mean())
    assert bars.y[days.index(no_action)] == 0 and np.isnan(line.y[days.index(no_checkin)])
    assert (bars.type, bars.name, bars.marker.color) == ("bar", "actions", ch.NEUTRAL)
    assert (line.type, line.name, line.yaxis, line.mode) == ("scatter", "mean rating", "y2", "lines+markers")
    assert line.line.color == ch.OKABE_ITO[3] and line.connectgaps is False
    assert "%{y} actions" in bars.hovertemplate and "mean rating %{y:.1f}" in line.hovertemplate

    layout = fig.layout
    assert (layout.width, layout.height, layout.showlegend, layout.bargap) == (460, 220, False, 0.2)
    assert layout.title.text == "Last two weeks" and layout.title.font.size == 14
    assert (layout.margin.l, layout.margin.r, layout.margin.b) == (50, 50, 40)
    assert layout.margin.t < 110  # no subtitle, no legend: a short top
    assert layout.template.layout.font.family == ch.FONT  # the house theme
    assert layout.xaxis.type == "date" and layout.xaxis.tickformat == "%d %b"
    assert layout.yaxis.title.text == "actions" and layout.yaxis.rangemode == "tozero"
    assert layout.yaxis.dtick == max(1, int(np.ceil(max(bars.y) / 4)))
    assert layout.yaxis2.title.text == "rating" and layout.yaxis2.title.font.color == ch.MUTED
    assert (layout.yaxis2.overlaying, layout.yaxis2.side, layout.yaxis2.showgrid) == ("y", "right", False)
    assert list(layout.yaxis2.range) == [FW.scale.min - 0.5, FW.scale.max + 0.5]
    assert list(layout.yaxis2.tickvals) == [FW.scale.min, (FW.scale.min + FW.scale.max) // 2, FW.scale.max]
    assert json.loads(fig.to_json())["data"][0]["type"] == "bar"


def test_recent_days_other_lengths_scales_and_no_data(alex):
    import dataclasses

    from mastery_analysis.framework import Scale

    day = alex["ratings"]["date"].max()
    five = dataclasses.replace(FW, scale=Scale(min=0, max=4))
    fig = ch.plot_recent_days(alex["ratings"], alex["actions"], day=str(day.date()), days=7, framework=five)
    assert fig.layout.title.text == "Last 7 days" and len(fig.data[0].x) == 7
    assert list(fig.layout.yaxis2.range) == [-0.5, 4.5] and list(fig.layout.yaxis2.tickvals) == [0, 2, 4]
    empty = ch.plot_recent_days(alex["ratings"].iloc[:0], alex["actions"].iloc[:0], day=day)
    assert len(empty.data[0].x) == 14 and list(empty.data[0].y) == [0] * 14
    assert np.isnan(np.asarray(empty.data[1].y, dtype=float)).all() and empty.layout.yaxis.dtick == 1


def test_a_figure_built_at_once_equals_the_one_built_by_updates():
    """_figure (one validated constructor, for charts drawn on every save) gives the figure
    _base + add_trace + _finish give: theme, wrapped subtitle, stacking and date axes."""
    days = pd.date_range("2024-03-01", periods=3, freq="D")  # short: the date axis is padded
    subtitle = " · ".join(f"part {i} of a long subtitle that has to wrap" for i in range(6))
    traces = [dict(type="bar", x=days, y=np.array([1, 0, 2]), name="a", marker=dict(color=ch.NEUTRAL)),
              dict(type="scatter", x=days, y=np.array([2.5, np.nan, 4.0]), name="b", yaxis="y2",
                   line=dict(color=ch.OKABE_ITO[1]))]
    options = dict(height=300, width=700, legend=True, panel_titles=1, bargap=0.3,
                   title=dict(font=dict(size=15)), margin=dict(l=40, b=30), xaxis=dict(tickformat="%d %b"),
                   yaxis2=dict(overlaying="y", side="right"))
    fast = ch._figure(traces, "T", subtitle, **options)
    slow = ch._base("T", subtitle)
    for trace in traces:
        slow.add_trace(trace)
    slow = ch._finish(slow, **options)
    assert json.loads(fast.to_json()) == json.loads(slow.to_json())
    assert "<br>" in fast.layout.title.subtitle.text and fast.layout.xaxis.range is not None
    # nothing given: the theme's width, no legend row
    plain = ch._figure(traces[:1], "T", height=200, legend=False)
    assert json.loads(plain.to_json()) == json.loads(
        ch._finish(ch._base("T").add_trace(traces[0]), height=200, legend=False).to_json())
