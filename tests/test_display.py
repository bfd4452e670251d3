"""Tables for people: p-values, rounding, intervals, labels and headers (display only)."""

import math

import numpy as np
import pandas as pd
import pytest

from mastery_analysis.display import format_interval, format_p, readable, round_sig
from mastery_analysis.framework import load_framework


@pytest.mark.parametrize("value,text", [
    (1e-17, "< 0.001"), (0.000999, "< 0.001"), (0.001, "0.0010"), (0.0012345, "0.0012"),
    (0.04999, "0.050"), (0.849, "0.85"), (1.0, "1.0"), (float("nan"), "–"), (None, "–"),
])
def test_p_values_read_below_a_thousandth_or_to_two_significant_digits(value, text):
    assert format_p(value) == text


@pytest.mark.parametrize("value,digits,text", [
    (0.0253, 3, "0.0253"), (0.000737, 2, "0.00074"), (-0.00376, 2, "-0.0038"), (123.456, 3, "123"),
    (0.9999, 3, "1.00"), (99.96, 3, "100"), (5, 3, "5.00"), (0.0, 3, "0"), (1e-9, 3, "0"),
    (1234567.0, 3, "1230000"), (-2.5e-5, 2, "-0.000025"),
])
def test_round_sig_never_writes_an_exponent(value, digits, text):
    assert round_sig(value, digits) == text


def test_intervals_and_booleans_and_missing_values():
    assert format_interval(0.106, 0.267) == "0.11 to 0.27"
    assert format_interval(np.nan, 1) == "–"
    frame = pd.DataFrame({"significant": [True, False], "ci_low": [0.1, np.nan], "ci_high": [0.2, 1.0]})
    shown = readable(frame)
    assert list(shown.columns) == ["Holds after FDR", "95% interval"]
    assert shown.iloc[:, 0].tolist() == ["yes", "no"]
    assert shown.iloc[:, 1].tolist() == ["0.10 to 0.20", "–"]


def test_readable_labels_headers_and_leaves_the_frame_unrounded():
    fw = load_framework()
    frame = pd.DataFrame({
        "element": ["proactive", "connect"], "slope": [0.025312345, -0.0041],
        "slope_low": [0.02, -0.01], "slope_high": [0.03, 0.002], "p_value": [2e-17, 0.3456],
        "date": pd.to_datetime(["2026-01-02", "2026-01-03"]), "status": ["off_track", "on_track"],
    })
    before = frame.copy()
    shown = readable(frame, framework=fw, headers={"slope": "Slope (points per week)"})
    assert list(shown.columns) == ["Element", "Slope (points per week)", "95% interval", "p",
                                   "Date", "Status"]
    assert shown["Element"].tolist() == [fw.labels["proactive"], fw.labels["connect"]]
    assert shown["Slope (points per week)"].tolist() == ["0.0253", "-0.00410"]
    assert shown["p"].tolist() == ["< 0.001", "0.35"]
    assert shown["Date"].tolist() == ["2026-01-02", "2026-01-03"]
    assert shown["Status"].tolist() == ["off track", "on track"]
    pd.testing.assert_frame_equal(frame, before)  # display only: the input is untouched
    assert math.isclose(frame.loc[0, "slope"], 0.025312345)


def test_two_columns_with_one_header_stay_apart():
    shown = readable(pd.DataFrame({"goal_id": ["g1"], "title": ["Write"]}))
    assert list(shown.columns) == ["Goal", "Goal (title)"]
