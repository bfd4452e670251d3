"""Benchmark: a workshop's participants load the page and check in at once, through ``mastery serve``.

``python -m benchmarks.bench_serve [PEOPLE]`` (default 30), on loopback only. Each person is a
client speaking the browser's protocol (the page over HTTP, then the kernel's websocket:
the widgets' states, the code typed, "Open my page", an action typed, "Save"); all start at
the same moment. It prints the median and 95th percentile from the page load to "Saved", the
page-load part alone, the page loads per second the server sustained, and the memory of one
participant's kernel; then checks that every check-in landed in the store.

The peer baseline is plain Voila serving a notebook of one button, loaded by as many clients
at once in the same run: the ratio says what the app page costs on top of Voila's own kernel
start. No time is asserted anywhere.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from serve_support import PARTICIPANT, CraftedClient, MasteryServer, load_page  # noqa: E402

from mastery_analysis import access  # noqa: E402
from mastery_analysis.store import open_store  # noqa: E402


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def kernel_rss_mib(parent: int) -> list[float]:
    """Resident memory of every kernel process the server started (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != parent:  # the parent pid
                continue
            if b"ipykernel" not in (entry / "cmdline").read_bytes():
                continue
            rss = next(line for line in (entry / "status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
            out.append(int(rss.split()[1]) / 1024)
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return out


def check_in(server, code: str, goal_id: str, barrier, results: dict, key: str) -> None:
    barrier.wait()
    t0 = time.perf_counter()
    client = CraftedClient(server)
    t_page = time.perf_counter()
    try:
        client.discover()
        field = client.find("PasswordModel")[0]
        client.set_state(field, {"value": code})
        client.click(client.find("ButtonModel", description="Open my page")[0])  # opens the forms
        count = next(c for c in client.find("TextModel")
                     if client.states[c].get("description") == "Actions")
        client.set_state(count, {"value": "1"})
        client.click(client.find("ButtonModel", description="Save")[0])  # returns once the kernel is idle

        def shows_saved():
            return any("Saved" in str(st.get("value", "")) for st in client.states.values()
                       if st.get("_model_name") == "HTMLModel")

        saved = shows_saved() or client.read_until(lambda m: shows_saved(), timeout=120) is not None
        t_saved = time.perf_counter()
        results[key] = {"page": t_page - t0, "saved": t_saved - t0 if saved else None}
    finally:
        client.close()


def bare_voila_loads(n: int) -> list[float]:
    """Page-load times of plain Voila on a one-button notebook, ``n`` clients at once."""
    import nbformat

    from browser_support import free_port

    folder = Path(tempfile.mkdtemp(prefix="bench-voila-"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import ipywidgets as W\nW.Button(description='Save')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "one.ipynb")
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(folder / "cfg")}
    proc = subprocess.Popen([sys.executable, "-m", "voila", str(folder / "one.ipynb"), "--no-browser",
                             f"--port={port}", "--Voila.ip=127.0.0.1"], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    class Server:
        base_url = f"http://127.0.0.1:{port}"

    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                load_page(Server, "/voila/static/none", timeout=5)
                break
            except OSError:
                time.sleep(0.3)
        times, barrier = [], threading.Barrier(n)

        def one():
            barrier.wait()
            t0 = time.perf_counter()
            status = load_page(Server, "/")[0]
            if status == 200:
                times.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=one) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return times
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def main() -> None:
    people = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 30
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    db = folder / "workshop.db"
    codes = {}
    with open_store(db) as s:
        s.add_cohort("bench")
        import pandas as pd

        s.add_participants(pd.DataFrame({"participant_id": [f"p{i:03d}" for i in range(people)],
                                         "name": [f"Person {i}" for i in range(people)]}), cohort="bench")
        s.write("goals", pd.DataFrame([{"goal_id": f"g{i:03d}", "participant_id": f"p{i:03d}",
                                        "title": "Send applications", "start_date": "2024-05-01"}
                                       for i in range(people)]))
        for i in range(people):
            codes[f"p{i:03d}"] = access.issue_code(s, f"p{i:03d}")
    server = MasteryServer(db, "--page-loads-per-minute", "0", "--max-pages", str(people + 10)).start()
    try:
        results, barrier = {}, threading.Barrier(people)
        threads = [threading.Thread(target=check_in, args=(server, codes[pid], f"g{pid[1:]}", barrier,
                                                           results, pid)) for pid in codes]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        rss = kernel_rss_mib(server.process.pid)
    finally:
        server.stop()
    with open_store(db) as s:
        landed = s.actions(cohort="bench")
    saved = [r["saved"] for r in results.values() if r.get("saved") is not None]
    pages = [r["page"] for r in results.values()]
    print(f"   {people} participants at once on {os.cpu_count()} cores (loopback; load average "
          f"{os.getloadavg()[0]:.1f} at the end)")
    print(f"   page load to 'Saved': median {statistics.median(saved):.1f} s, "
          f"p95 {pct(saved, 0.95):.1f} s, max {max(saved):.1f} s ({len(saved)} of {people} saw 'Saved')")
    print(f"   page load alone:      median {statistics.median(pages):.1f} s, p95 {pct(pages, 0.95):.1f} s; "
          f"{people / max(pages):.2f} page loads per second sustained")
    if rss:
        print(f"   memory per participant kernel: median {statistics.median(rss):.0f} MiB "
              f"(max {max(rss):.0f}, {len(rss)} kernels)")
    print(f"   all {people} done in {wall:.1f} s")
    bare = bare_voila_loads(people)
    if bare:
        print(f"   peer, plain Voila (one button), {people} at once: page load median "
              f"{statistics.median(bare):.1f} s, p95 {pct(bare, 0.95):.1f} s; the app page's load is "
              f"{statistics.median(pages) / statistics.median(bare):.2f}x")
    assert len(landed) == people and set(landed["participant_id"]) == set(codes), \
        f"only {len(landed)} of {people} check-ins landed"
    print(f"   every check-in landed: {len(landed)} of {people}")


if __name__ == "__main__":
    main()
