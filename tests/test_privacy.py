"""Privacy helpers: individual rows only for consenting participants, no aggregate under 5."""

import numpy as np
import pandas as pd
import pytest

from mastery_analysis.analysis.privacy import consenting_only, suppress_small

PARTICIPANTS = pd.DataFrame({"participant_id": ["a", "b", "c", "d"],
                             "consent_share": [True, False, True, False]})


def test_consenting_only_keeps_the_rows_of_people_who_agreed():
    frame = pd.DataFrame({"participant_id": ["a", "b", "c", "e", "a"], "value": [1, 2, 3, 4, 5]})
    out = consenting_only(frame, PARTICIPANTS)
    assert out["participant_id"].tolist() == ["a", "c", "a"]
    assert out["value"].tolist() == [1, 3, 5]
    assert list(out.columns) == list(frame.columns)
    assert len(frame) == 5, "the input is not modified"


def test_consenting_only_without_participants_shows_nobody():
    frame = pd.DataFrame({"participant_id": ["a"], "value": [1]})
    assert consenting_only(frame, None).empty
    assert consenting_only(frame, PARTICIPANTS.iloc[0:0]).empty


def test_suppress_small_blanks_numbers_of_groups_under_five():
    frame = pd.DataFrame({"element": ["x", "y", "z"], "n": [4, 5, 24],
                          "mean": [3.1, 3.5, 2.9], "d_z": [0.4, 0.1, -0.2]})
    out = suppress_small(frame)
    assert out["suppressed"].tolist() == [True, False, False]
    assert np.isnan(out.loc[0, "mean"]) and np.isnan(out.loc[0, "d_z"])
    assert out.loc[1, "mean"] == 3.5 and out.loc[2, "d_z"] == -0.2
    assert out["n"].tolist() == [4, 5, 24] and out["element"].tolist() == ["x", "y", "z"]
    assert frame.loc[0, "mean"] == 3.1, "the input is not modified"
    assert suppress_small(frame, min_n=3)["suppressed"].tolist() == [False, False, False]


def test_suppress_small_needs_its_count_column():
    with pytest.raises(KeyError, match="people"):
        suppress_small(pd.DataFrame({"mean": [1.0]}), n_col="people")
