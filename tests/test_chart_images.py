"""Every chart exported once to PNG with kaleido and Debian's Chromium (one browser for all)."""

import importlib.util
import struct
import zlib

import pytest

import chart_frames as cf
from conftest import require_browser
from mastery_analysis import analysis as A
from mastery_analysis import charts as ch
from mastery_analysis.analysis.privacy import consenting_only
from mastery_analysis.store import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:The kopts argument is ignored:UserWarning")]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_info(data: bytes):
    """Width, height and the number of distinct byte values of the decoded pixel rows."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    pos, idat, width, height = 8, b"", None, None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return width, height, len(set(pixels[: 2_000_000]))


def all_figures(demo_store_path):
    """Every chart on the demo data (goal pace on synthetic goals until analysis.goals lands)."""
    with open_store(demo_store_path) as s:
        r, a = s.ratings(participant="alex"), s.actions(participant="alex")
        p, g = s.progress(participant="alex"), s.goals(participant="alex")
        parts, cr = s.participants(cohort="spring-cohort"), s.ratings(cohort="spring-cohort")
        scores = A.score_responses(s.responses(cohort="spring-cohort"))
    traj = A.element_trajectories(r)
    corr = A.action_progress_correlation(a, p)
    if importlib.util.find_spec("mastery_analysis.analysis.goals") is not None:
        pace_figure = ch.plot_goal_pace(A.goal_pace(g, p), p, g)
    else:
        pace_figure = ch.plot_goal_pace(cf.pace(), cf.progress(), cf.goals())
    return {
        "trajectories": ch.plot_trajectories(traj),
        "wheel": ch.plot_wheel(A.wheel_values(traj)),
        "calendar": ch.plot_calendar(a, goals=g, streaks=A.streaks(a, g)),
        "habit_strength": ch.plot_habit_strength(A.habit_strength(a, g), goals=g),
        "lag_profile": ch.plot_lag_profile(corr, goals=g),
        "action_progress": ch.plot_action_progress(a, p, corr, goals=g),
        "goal_pace": pace_figure,
        "cohort_change": ch.plot_cohort_change(scores, A.cohort_change(scores), participants=parts),
        "forest": ch.plot_forest(consenting_only(A.element_trends(cr), parts)),
        "distribution": ch.plot_distribution(scores),
        "participation": ch.plot_participation(cr, parts),
        "empty": ch.plot_trajectories(cf.trajectories().iloc[0:0]),
    }


@pytest.fixture(scope="module")
def kaleido_server():
    require_browser()
    import kaleido

    kaleido.start_sync_server(silence_warnings=True)
    yield
    kaleido.stop_sync_server(silence_warnings=True)


def test_every_chart_exports_to_a_sensible_png(demo_store_path, tmp_path, kaleido_server):
    figures = all_figures(demo_store_path)
    for name, fig in figures.items():
        path = tmp_path / f"{name}.png"
        fig.write_image(path, format="png", scale=1)
        data = path.read_bytes()
        width, height, distinct = png_info(data)
        assert (width, height) == (fig.layout.width or ch.TEMPLATE.layout.width, fig.layout.height), name
        assert 300 <= height <= 2400, name
        assert len(data) > 8_000, f"{name}: {len(data)} bytes is too small for a chart"
        assert distinct > 20, f"{name}: the image is nearly blank"
