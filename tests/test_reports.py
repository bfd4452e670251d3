"""Reports: byte-identical renders, self-contained HTML, escaping, privacy, clear errors.

The renders are shared with tests/test_reports_browser.py (see tests/report_renders.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from mastery_analysis import __version__, reports
from mastery_analysis.cli import main
from mastery_analysis.demo import load_demo
from mastery_analysis.errors import MasteryError, UnknownParticipantError
from mastery_analysis.store import open_store

import report_renders as rr

PLOTLYJS = get_plotlyjs()
MAX_REPORT_BYTES = 3_000_000


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def without_plotlyjs(text: str) -> str:
    return text.replace(reports.plotlyjs_payload(), "")


def inlined_plotlyjs(text: str) -> list[str]:
    """Every plotly.js the page carries, unpacked as the page's loader unpacks it."""
    # (nbconvert writes the attributes in its own order)
    tags = re.findall(r'<script\b([^>]*\bid="mastery-plotlyjs"[^>]*)>([A-Za-z0-9+/=]*)</script>', text)
    assert all('data-encoding="gzip+base64"' in attrs and 'type="application/octet-stream"' in attrs
               for attrs, _ in tags), tags
    payloads = [payload for _, payload in tags]
    return [gzip.decompress(base64.b64decode(p)).decode("utf-8") for p in payloads]


class Attributes(HTMLParser):
    """Every (tag, attribute, value) of a document; script bodies are not parsed as markup."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found += [(tag, name, value or "") for name, value in attrs]

    handle_startendtag = handle_starttag


def outside_references(text: str) -> list[str]:
    """src/href (and similar) values that point outside the page: not '#...' or 'data:'."""
    parser = Attributes()
    parser.feed(text)
    refs = [v for tag, name, v in parser.found
            if name in ("src", "href", "srcset", "poster", "action", "data", "xlink:href")]
    # the same check as a plain regex over the markup outside <script> bodies
    markup = re.sub(r"(?is)<script\b[^>]*>.*?</script>", "<script></script>", text)
    refs += re.findall(r"""(?i)<[a-z][^<>]*?\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", markup)
    refs += re.findall(r"""(?i)url\(\s*["']?([^"')]+)""", markup)
    refs += re.findall(r"""(?i)@import\s+["']?([^"';]+)""", markup)
    return sorted({r for r in refs if not (r.startswith("#") or r.lower().startswith("data:"))})


@pytest.fixture(scope="module")
def personal(tmp_path_factory):
    return rr.rendered(tmp_path_factory, "personal")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return rr.rendered(tmp_path_factory, "cohort")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return rr.rendered(tmp_path_factory, "tiny")


# ----------------------------------------------------------------------------- reproducible
@pytest.mark.slow
def test_same_data_gives_the_same_bytes_from_a_freshly_loaded_store(personal, tmp_path):
    # A second store, loaded again from scratch: new recorded_at and a different file path.
    again = rr.build_store(tmp_path / "again.db")
    out = reports.render_report("personal", out=tmp_path / "again.html", store=again,
                                participant="alex")
    assert sha256(out) == sha256(personal)
    text = out.read_text(encoding="utf-8")
    assert str(tmp_path) not in text and "again.db" not in text


@pytest.mark.slow
def test_report_states_parameters_version_and_fingerprint(personal, tmp_path_factory):
    text = personal.read_text(encoding="utf-8")
    with open_store(rr.store_path(tmp_path_factory)) as s:
        expected = reports.data_fingerprint(reports.personal_frames(s, "alex"))
    assert expected in text
    assert f"<th>mastery-analysis</th><td>{__version__}</td>" in text
    assert "<th>participant</th><td>alex</td>" in text
    # no rendering time: not today's date, and no clock time but the midnight of data dates
    assert dt.date.today().isoformat() not in text
    assert set(re.findall(r"\d{2}:\d{2}:\d{2}", without_plotlyjs(text))) <= {"00:00:00"}


def test_fingerprint_ignores_recorded_at_row_order_and_column_order(demo_store, tmp_path):
    frames = reports.personal_frames(demo_store, "alex")
    with open_store(tmp_path / "again.db") as again:
        load_demo(again)
        reloaded = reports.personal_frames(again, "alex")
    assert not reloaded["ratings"]["recorded_at"].equals(frames["ratings"]["recorded_at"])
    assert reports.data_fingerprint(reloaded) == reports.data_fingerprint(frames)
    shuffled = {k: v.sample(frac=1, random_state=1)[v.columns[::-1]] for k, v in frames.items()}
    assert reports.data_fingerprint(shuffled) == reports.data_fingerprint(frames)
    edited = frames["ratings"].copy()
    edited.loc[0, "rating"] = edited.loc[0, "rating"] % 10 + 1
    assert reports.data_fingerprint(dict(frames, ratings=edited)) != reports.data_fingerprint(frames)
    assert reports.data_fingerprint(dict(frames, extra=frames["goals"])) != reports.data_fingerprint(frames)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", reports.data_fingerprint(frames))


# ----------------------------------------------------------------------------- self-contained
@pytest.mark.slow
@pytest.mark.parametrize("name", ["personal", "cohort"])
def test_html_is_self_contained_with_plotlyjs_inlined_once(name, tmp_path_factory):
    text = rr.rendered(tmp_path_factory, name).read_text(encoding="utf-8")
    assert outside_references(text) == []
    # the whole of plotly.js, once, compressed: the report stays small and draws offline
    assert inlined_plotlyjs(text) == [PLOTLYJS]
    assert text.count("id=\"mastery-plotlyjs\"") == 1
    assert len(text.encode("utf-8")) <= MAX_REPORT_BYTES
    assert not re.search(r"(?i)<script[^>]*\bsrc\s*=", text)
    assert not re.search(r"(?i)<link\b", text)
    assert not re.search(r"(?i)mathjax[^'\"<>]*\.js", without_plotlyjs(text))
    assert "require.js" not in text and "cdn.plot.ly" not in without_plotlyjs(text)
    # every figure has a fixed id (no plotly uuid) and is drawn by exactly one newPlot call
    ids = re.findall(r'<div class="mastery-figure" data-figure="([^"]+)">', text)
    assert ids and len(ids) == len(set(ids))
    assert sorted(re.findall(r'Plotly\.newPlot\(\s*"([^"]+)"', text)) == sorted(ids)
    # each figure waits for the unpacked plotly.js
    assert text.count("(window.masteryPlotly || Promise.resolve(window.Plotly)).then(") == len(ids)
    assert not re.search(r'id="[0-9a-f]{8}-[0-9a-f]{4}-', text)
    # no code cells
    assert "from mastery_analysis" not in text and "open_store(" not in without_plotlyjs(text)


def test_outside_references_finds_what_it_should():
    page = ('<a href="#top">x</a><img src="data:image/png;base64,AA"><p>&lt;img src=x&gt;</p>'
            '<script>var a="<a href=x>";'
            '</script><link href="https://cdn.example/x.css"><script src="//cdn.example/r.js"></script>'
            '<div style="background:url(http://example.com/a.png)"></div>')
    assert outside_references(page) == ["//cdn.example/r.js", "http://example.com/a.png",
                                        "https://cdn.example/x.css"]


# ----------------------------------------------------------------------------- escaping
@pytest.mark.slow
def test_typed_text_is_escaped(personal):
    text = personal.read_text(encoding="utf-8")
    assert rr.XSS not in text  # not as markup anywhere, not even inside figure JSON
    assert "&lt;img src=x onerror=alert(1)&gt;" in text  # the note and the name, as text


# ----------------------------------------------------------------------------- privacy
@pytest.mark.slow
def test_cohort_report_shows_nothing_of_non_consenting_people(cohort):
    text = without_plotlyjs(cohort.read_text(encoding="utf-8"))
    hidden = rr.non_consenting_people()
    assert len(hidden) == 5
    for pid, name in hidden.items():
        assert not re.search(rf"\b{re.escape(pid)}\b", text), pid
        assert name not in text, name
    assert "sc01" in text  # a consenting participant is shown (so the check above can fail)
    assert "<th>participants</th><td>24</td>" in text


@pytest.mark.slow
def test_cohort_report_shows_the_demo_cohorts_validated_instrument(cohort):
    text = without_plotlyjs(cohort.read_text(encoding="utf-8"))
    assert "Change on the validated instruments" in text  # not the empty state
    rows = [r for _, rows in _tables(text) for r in rows if "pearlin_mastery" in r]
    assert len(rows) >= 3  # reliability at baseline and post, and the change


@pytest.mark.slow
def test_cohort_of_four_shows_no_aggregate(tiny):
    text = without_plotlyjs(tiny.read_text(encoding="utf-8"))
    assert "fewer than 5 people" in text
    assert "Not shown: participation would summarise 4 people" in text
    # the change, scale reliability, validated-instrument change and rmcorr tables
    assert text.count("rows withheld") == 4
    # the change table: element and n shown, every statistic blanked; the last column says
    # where the reliability would have come from (no number about anyone)
    table = re.search(r"<table class=\"dataframe mastery-table\">.*?</table>", text, re.S).group(0)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)  # the header row is <tr style=...>
    assert len(rows) == 5
    for row in rows:
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        assert cells[1] == "4" and set(cells[2:-1]) == {"–"} and cells[-1] == "assumed", cells
    # the scale reliability table: scale and counts, no alpha of four people
    reliability = re.findall(r"<table class=\"dataframe mastery-table\">.*?</table>", text, re.S)[1]
    assert "alpha" in reliability and "0." not in re.sub(r"<th.*?</th>", "", reliability)
    for pid in ("tiny3", "tiny4", "TINY3", "TINY4"):
        assert not re.search(rf"\b{pid}\b", text)


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(headers, rows of cells) of every data table of a report."""
    found = []
    for table in re.findall(r'<table class="dataframe mastery-table">.*?</table>', text, re.S):
        heads = [html_unescape(h) for h in re.findall(r"<th>(.*?)</th>", table, re.S)]
        rows = [[html_unescape(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
                for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
        found.append((heads, [r for r in rows if r]))
    return found


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text.strip())


def _significant_digits(cell: str) -> int:
    digits = re.sub(r"[^0-9]", "", cell.split("e")[0]).lstrip("0")
    return len(digits)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["personal", "cohort"])
def test_tables_read_as_words_labels_and_rounded_numbers(name, tmp_path_factory):
    from mastery_analysis.framework import load_framework

    text = rr.rendered(tmp_path_factory, name).read_text(encoding="utf-8")
    fw = load_framework()
    tables = _tables(text)
    assert len(tables) >= 2
    number = re.compile(r"^-?\d+(\.\d+)?$")
    labels_seen = set()
    for heads, rows in tables:
        # headers in words: no snake_case column names
        assert not [h for h in heads if re.fullmatch(r"[a-z]+(_[a-z]+)+", h)], heads
        for row in rows:
            for cell in row:
                assert cell not in fw.keys, f"element key {cell!r} shown instead of its label"
                labels_seen |= {cell} & set(fw.labels.values())
                # a p- or q-value below 0.001 reads "< 0.001"; no exponents anywhere
                assert not re.search(r"\de-?\d", cell), cell
                for part in re.split(r" to ", cell):
                    if number.match(part) and abs(float(part)) < 1000:
                        assert _significant_digits(part) <= 3, (heads, cell)
    assert labels_seen == set(fw.labels.values())
    assert any("p" in heads for heads, _ in tables)
    assert "&lt; 0.001" in text  # the demo's planted effects are strong
    assert any("95% interval" in heads for heads, _ in tables)


# ----------------------------------------------------------------------------- bad parameters
BAD = [
    ("unknown participant", dict(kind="personal", participant="nobody"),
     UnknownParticipantError, "unknown participant 'nobody'"),
    ("unknown cohort", dict(kind="cohort", cohort="autumn"),
     reports.UnknownCohortError, "unknown cohort 'autumn'"),
    ("range without data", dict(kind="personal", participant="alex", start="2030-01-01"),
     reports.ReportParameterError, "no ratings, actions or progress of 'alex' between 2030-01-01"),
    ("start after end", dict(kind="personal", participant="alex", start="2026-02-01", end="2026-01-01"),
     reports.ReportParameterError, "start 2026-02-01 is after end 2026-01-01"),
    ("malformed date", dict(kind="personal", participant="alex", end="31/12/2025"),
     reports.ReportParameterError, "end must be a date like"),
    ("unknown parameter", dict(kind="personal", participant="alex", cohort="spring-cohort"),
     reports.ReportParameterError, "unknown parameter for a personal report: cohort"),
]


@pytest.mark.parametrize("kw,error,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_parameters_fail_before_running_and_write_nothing(demo_store_path, tmp_path, kw, error, message):
    out_dir = tmp_path / "out"
    out = out_dir / "report.html"
    with pytest.raises(error, match=re.escape(message)):
        reports.render_report(out=out, store=demo_store_path, **kw)
    assert not out.exists() and not out_dir.exists()


@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_unwritable_output_fails_before_running_and_writes_nothing(demo_store_path, tmp_path, where):
    blocker = tmp_path / "a-file.txt"
    blocker.write_text("not a folder")
    out = blocker / "report.html" if where == "under a file" else tmp_path
    with pytest.raises(reports.ReportOutputError, match="cannot write the report to"):
        reports.render_report("personal", out=out, store=demo_store_path, participant="alex")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file.txt"]
    assert blocker.read_text() == "not a folder"


def test_a_failing_notebook_leaves_no_file(demo_store_path, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise reports.ReportError("the personal report failed in cell 3: ValueError: boom")

    monkeypatch.setattr(reports, "execute_notebook", boom)
    out = tmp_path / "r.html"
    out.write_text("the previous report")
    with pytest.raises(reports.ReportError, match="boom"):
        reports.render_report("personal", out=out, store=demo_store_path, participant="alex")
    assert out.read_text() == "the previous report"  # untouched, and no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_cli_bad_parameters_print_one_line(demo_store_path, tmp_path, capsys):
    out = tmp_path / "r.html"
    code = main(["report", "personal", "--participant", "nobody", "--out", str(out),
                 "--store", str(demo_store_path)])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("mastery: error: unknown participant 'nobody'")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    code = main(["report", "personal", "--cohort", "spring-cohort", "--out", str(out),
                 "--store", str(demo_store_path)])
    _, err = capsys.readouterr()
    assert code == 1 and "give --out-dir DIR" in err and not out.exists()


def test_display_helpers_escape_and_fix_ids():
    import plotly.graph_objects as go

    table = reports.table_html(__import__("pandas").DataFrame({"note": [rr.XSS]}))
    assert rr.XSS not in table and "&lt;img src=x onerror=alert(1)&gt;" in table
    header = reports.header_html(rr.XSS, {"name": rr.XSS}, {})
    assert rr.XSS not in header
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name=rr.XSS))
    one = reports.figure_html(fig, "My Wheel!", include_plotlyjs=False)
    assert one == reports.figure_html(fig, "My Wheel!", include_plotlyjs=False)
    assert 'id="fig-my-wheel"' in one and "<script src" not in one and rr.XSS not in one
    assert inlined_plotlyjs(reports.figure_html(fig, "w", include_plotlyjs=True)) == [PLOTLYJS]
    assert inlined_plotlyjs(one) == []


# ----------------------------------------------------------------------------- CLI renders
@pytest.mark.slow
def test_cli_renders_one_personal_report_per_consenting_member(tmp_path_factory, tmp_path, capsys):
    store = rr.store_path(tmp_path_factory)
    code = main(["report", "personal", "--cohort", rr.TINY, "--out-dir", str(tmp_path / "each"),
                 "--store", store])
    out, err = capsys.readouterr()
    assert code == 0, err
    expected = [str(tmp_path / "each" / f"personal-{pid}.html") for pid in rr.TINY_CONSENTING]
    assert out.split() == expected
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == \
        [f"personal-{pid}.html" for pid in rr.TINY_CONSENTING]
    assert "personal reports of tiny" in err  # the progress bar


@pytest.mark.slow
def test_a_batch_rendered_side_by_side_is_byte_for_byte_one_report_at_a_time(tmp_path_factory, tmp_path):
    store = rr.store_path(tmp_path_factory)
    side = reports.render_personal_reports(rr.TINY, out_dir=tmp_path / "side", store=store,
                                           progress=False, jobs=2)
    alone = reports.render_personal_reports(rr.TINY, out_dir=tmp_path / "alone", store=store,
                                            progress=False, jobs=1)
    assert [p.name for p in side] == [p.name for p in alone] == \
        [f"personal-{pid}.html" for pid in rr.TINY_CONSENTING]
    for a, b in zip(side, alone):
        assert a.read_bytes() == b.read_bytes()
    with pytest.raises(reports.ReportParameterError, match="jobs=0"):
        reports.render_personal_reports(rr.TINY, out_dir=tmp_path / "none", store=store, jobs=0)
    assert not (tmp_path / "none").exists()


def test_an_open_store_can_be_passed_and_stays_open(demo_store, tmp_path):
    out = tmp_path / "out" / "r.html"
    with pytest.raises(reports.ReportParameterError, match="start 2026-02-01 is after end"):
        reports.render_report("personal", out=out, store=demo_store,
                              participant="alex", start="2026-02-01", end="2026-01-01")
    assert len(demo_store.participants(participant="alex")) == 1  # still usable
    assert not out.parent.exists()


def test_show_keeps_div_ids_unique_and_inlines_plotlyjs_once(monkeypatch):
    import plotly.graph_objects as go

    shown = []
    monkeypatch.setattr(reports, "_figures_shown", {})
    monkeypatch.setattr(reports, "_display_html", shown.append)
    fig = go.Figure(go.Bar(x=[1], y=[2]))
    for name in ("wheel", "goal pace", "wheel"):
        reports.show(fig, name)
    assert [re.search(r'id="(fig-[^"]+)"', h).group(1) for h in shown] == \
        ["fig-wheel", "fig-goal-pace", "fig-wheel-2"]
    assert [len(inlined_plotlyjs(h)) for h in shown] == [1, 0, 0]
    header = reports.header_html("t", {"name": float("nan"), "start": None}, {})
    assert header.count("<td>–</td>") == 2


@pytest.mark.slow
def test_a_brand_new_store_with_one_checkin_renders(store, tmp_path):
    store.add_participant("newbie", name="New Bie", joined_on="2026-11-01")
    store.record_checkin("newbie", "2026-11-02", ratings={"proactive": 5, "connect": 6}, note="first day")
    out = reports.render_report("personal", out=tmp_path / "newbie.html", store=store,
                                participant="newbie")
    text = out.read_text(encoding="utf-8")
    assert "<th>rows used</th><td>actions 0, goals 0, participants 1, progress 0, ratings 2</td>" in text
    assert text.count('<div class="mastery-figure"') == 7 and "first day" in text
    assert outside_references(text) == []


def test_a_dead_kernel_is_one_clear_error(demo_store_path, tmp_path, monkeypatch):
    import papermill
    from nbclient.exceptions import DeadKernelError

    def dead(*a, **k):
        raise DeadKernelError("Kernel died")

    monkeypatch.setattr(papermill, "execute_notebook", dead)
    with pytest.raises(reports.ReportError, match="kernel that runs the personal report failed"):
        reports.render_report("personal", out=tmp_path / "r.html", store=demo_store_path,
                              participant="alex")
    assert list(tmp_path.iterdir()) == []


def test_as_of_is_the_day_asked_for_or_the_last_day_of_data_never_the_clock(demo_store):
    frames = reports.personal_frames(demo_store, "alex")
    last = max(frames[t]["date"].max() for t in ("ratings", "actions", "progress"))
    assert reports.as_of(frames) == last
    assert reports.as_of(frames, "2026-03-01") == dt.datetime(2026, 3, 1)
    assert reports.as_of({t: f.iloc[0:0] for t, f in frames.items()}) is None
    with pytest.raises(reports.ReportParameterError, match="today"):
        reports.as_of(frames, "March")


def test_a_report_kernel_talks_over_sockets_in_the_renders_own_folder(tmp_path):
    """No TCP ports: renders in parallel processes once picked the same free port and a kernel
    died at start; sockets named inside each render's folder cannot collide."""
    import asyncio

    async def run():
        manager = reports._report_kernel_manager(str(tmp_path))(kernel_name="python3")
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            info = manager.get_connection_info()
            sockets = {p.name for p in tmp_path.iterdir() if p.is_socket()}
            reply = await client.execute_interactive("x = 6 * 7", timeout=60)
            return info, sockets, reply
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)

    info, sockets, reply = asyncio.run(run())
    assert info["transport"] == "ipc" and info["ip"] == str(tmp_path / "kernel")
    ports = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
    assert {f"kernel-{info[k]}" for k in ports} <= sockets
    assert reply["content"]["status"] == "ok"
