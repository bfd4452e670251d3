"""Benchmark: a workshop room arrives and checks in, through ``mastery serve`` (Solara).

``python -m benchmarks.bench_serve [PEOPLE] [--processes K]`` (default 100 people; the room of
the issue is 500), on loopback only, every client from one address (127.0.0.1), as a room
behind a venue's Wi-Fi. Each person is a crafted client speaking the browser's protocol (the
page over HTTP, then a session's websocket: the widgets' states, the code typed, "Open my
page", an action typed, "Save"). The server is ``mastery serve --processes K``, by default
with mastery serve's own default (a server process per core, up to 4); ``--processes 1``
gives the single process's figures. Four runs against one server:

1. PEOPLE arrive spread over 60 seconds: check-ins that land, page request to "Saved" p50 /
   p95, the CPU spent per check-in by the server and by the crafted clients (which share the
   cores), and the server's memory per open session (the resident memory of all its
   processes with everyone's session open, less before, over PEOPLE);
2. 30 at once (the old Voila figure was a 49 s median);
3. 20 check-ins while the coach renders the personal reports of 12 sharing participants in
   the server's worker processes: their latency against run 2's;
4. the peer: plain Voila serving a one-button notebook, 30 page loads at once, in the same
   run (needs the ``bench`` extra, which installs Voila; skipped without it).

Every figure is printed with the load average beside it: the machine is shared, and the
figures move with what else runs. No time is asserted anywhere; the check-ins landing is.
"""

from __future__ import annotations

import http.client
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

from serve_support import COACH, CraftedClient, MasteryServer, load_page  # noqa: E402

from mastery_analysis import access  # noqa: E402
from mastery_analysis.serve import default_processes  # noqa: E402
from mastery_analysis.store import open_store  # noqa: E402

REPORTS = 12
DURING_REPORTS = 20


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"[load {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs]"


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (the dispatcher's server processes, their workers)."""
    return list(process_depths(pid))


def process_depths(pid: int) -> dict[int, int]:
    """``pid`` and every process below it, each with its depth (0 for ``pid``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            children.setdefault(parent, []).append(int(entry.name))
    depths, todo = {}, [(pid, 0)]
    while todo:
        each, depth = todo.pop()
        depths[each] = depth
        todo.extend((child, depth + 1) for child in children.get(each, []))
    return depths


def cpu_by_role(pid: int, processes: int) -> dict[str, float]:
    """CPU seconds so far of the server's processes, summed by what they do: with several
    processes the top one dispatches, the next level serves pages and the level below renders
    reports; with one process the top one serves and the level below renders."""
    roles = (["the dispatcher"] if processes > 1 else []) + ["the page processes", "the report workers"]
    out = dict.fromkeys(roles, 0.0)
    for each, depth in process_depths(pid).items():
        try:
            out[roles[min(depth, len(roles) - 1)]] += cpu_seconds(each)
        except (OSError, IndexError):
            pass  # ended between listing and reading
    return out


def _summed(measure, pid: int) -> float:
    total = 0.0
    for each in process_tree(pid):
        try:
            total += measure(each)
        except (OSError, StopIteration):
            pass  # ended between listing and reading
    return total


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and the processes below it (shared pages counted in each)."""
    return _summed(rss_mib, pid)


def own_cpu_seconds() -> float:
    """CPU seconds of this process (the crafted clients) so far."""
    t = os.times()
    return t.user + t.system


def rss_mib(pid: int) -> float:
    """Resident memory of one process (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def _shows_saved(client) -> bool:
    return any("Saved" in str(st.get("value", "")) for st in client.states.values()
               if st.get("_model_name") == "HTMLModel")


def check_in(server, code: str, results: dict, key: str, *, start_at: float | None = None,
             barrier=None, keep: list | None = None) -> None:
    """One person: page request, sign-in, one action, Save; records seconds to "Saved"."""
    if barrier is not None:
        barrier.wait()
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.perf_counter()))
    t0 = time.perf_counter()
    client = None
    try:
        client = CraftedClient(server)  # the page's widgets arrive with their state, as in a browser
        t_page = time.perf_counter()
        field = client.find("PasswordModel")[0]
        client.set_state(field, {"value": code})
        client.click(client.find("ButtonModel", description="Open my page")[0])  # opens the forms
        count = next(c for c in client.find("TextModel") if client.states[c].get("description") == "Actions")
        client.set_state(count, {"value": "1"})
        client.click(client.find("ButtonModel", description="Save")[0])
        saved = _shows_saved(client) or client.read_until(lambda m: _shows_saved(client), timeout=300) is not None
        results[key] = {"page": t_page - t0, "saved": time.perf_counter() - t0 if saved else None}
    except Exception as exc:  # noqa: BLE001 - counted as not saved
        results[key] = {"page": None, "saved": None, "error": repr(exc)}
    finally:
        if client is not None:
            if keep is not None:
                keep.append(client)
            else:
                client.close()


def run_threads(targets) -> float:
    threads = [threading.Thread(target=fn, args=args, kwargs=kwargs) for fn, args, kwargs in targets]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def summary(results: dict) -> tuple[list[float], str]:
    saved = [r["saved"] for r in results.values() if r.get("saved") is not None]
    if not saved:
        return saved, f"none of {len(results)} saw 'Saved'"
    pages = [r["page"] for r in results.values() if r.get("page") is not None]
    return saved, (f"p50 {statistics.median(saved):.1f} s, p95 {pct(saved, 0.95):.1f} s, max "
                   f"{max(saved):.1f} s ({len(saved)} of {len(results)} saw 'Saved'; the page "
                   f"and its widgets alone: p50 {statistics.median(pages):.1f} s)")


def coach_batch(server, code: str, done: threading.Event, out: dict) -> None:
    """The coach signs in and renders the personal reports of those who share."""
    client = CraftedClient(server, COACH)
    try:
        client.set_state(client.find("PasswordModel")[0], {"value": code})
        client.click(client.find("ButtonModel", description="Open the cohort")[0])
        button = client.find("ButtonModel", description="Make the personal reports")[0]
        t0 = time.perf_counter()
        out["started"] = True
        client.comm_msg(button, {"method": "custom", "content": {"event": "click"}})
        ready = client.read_until(lambda m: any("reports ready" in str(st.get("value", ""))
                                                for st in client.states.values()), timeout=900)
        out["seconds"] = time.perf_counter() - t0 if ready is not None else None
    finally:
        done.set()
        client.close()


#: How long the peer's page loads may take in all: Voila streams a page while its kernel starts,
#: and a load whose kernel never answers would otherwise keep ``make bench-full`` waiting.
VOILA_DEADLINE_S = 180


def bare_voila_loads(n: int) -> list[float]:
    """Page-load times of plain Voila on a one-button notebook, ``n`` clients at once; a load
    not finished within :data:`VOILA_DEADLINE_S` (or cut off) is left out."""
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
            try:
                status = load_page(Server, "/")[0]
            except (OSError, http.client.HTTPException):
                return  # cut off (Voila stopped at the deadline): not loaded
            if status == 200:
                times.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + VOILA_DEADLINE_S
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return list(times)  # what finished in time; stopping Voila below ends the rest
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def _store(folder: Path, people: int):
    import pandas as pd

    db = folder / "workshop.db"
    with open_store(db) as s:
        s.add_cohort("bench")
        s.add_participants(pd.DataFrame({"participant_id": [f"p{i:03d}" for i in range(people)],
                                         "name": [f"Person {i}" for i in range(people)],
                                         "consent_share": [i < REPORTS for i in range(people)]}),
                           cohort="bench")
        s.write("goals", pd.DataFrame([{"goal_id": f"g{i:03d}", "participant_id": f"p{i:03d}",
                                        "title": "Send applications", "start_date": "2024-05-01"}
                                       for i in range(people)]))
        codes = [access.issue_code(s, f"p{i:03d}") for i in range(people)]
        coach = access.issue_coach_code(s, "Casey", cohort="bench")
    return db, codes, coach


def _parse(argv):
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_serve",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("people", nargs="?", type=int, default=100,
                   help="participants arriving within 60 seconds (default 100; the room is 500)")
    p.add_argument("--processes", type=int, default=default_processes(),
                   help="mastery serve --processes (default: mastery serve's own, one per core "
                        "up to 4: %(default)s here)")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = _parse(sys.argv[1:] if argv is None else argv)
    people = args.people
    at_once = min(30, people)
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    print(f"   setting up {people} participants (issuing a code costs about 50 ms of hashing) {load()}",
          flush=True)
    db, codes, coach = _store(folder, people)
    figures: dict = {}
    server = MasteryServer(db, "--max-pages", str(people + 100), "--processes", str(args.processes)).start()
    print(f"   mastery serve --processes {args.processes} ({os.cpu_count()} CPUs here) {load()}", flush=True)
    try:
        # warm-up: a few sessions, so that the memory baseline includes what every page loads
        # once in each process (a session's process follows from its random id)
        warm_ups = 3 * args.processes
        for warm in range(warm_ups):
            check_in(server, codes[warm], {}, f"warm{warm}")
        base_rss = tree_rss_mib(server.process.pid)

        # 1. the room arrives over 60 seconds
        results, kept = {}, []
        t0 = time.perf_counter() + 1
        roles_before, client_cpu = cpu_by_role(server.process.pid, args.processes), own_cpu_seconds()
        wall = run_threads([(check_in, (server, codes[i], results, i),
                             {"start_at": t0 + 60 * i / people, "keep": kept}) for i in range(people)])
        roles = {k: v - roles_before.get(k, 0.0) for k, v in cpu_by_role(server.process.pid, args.processes).items()}
        server_cpu = sum(roles.values())
        client_cpu = own_cpu_seconds() - client_cpu
        full_rss = tree_rss_mib(server.process.pid)
        saved, text = summary(results)
        print(f"   {people} arriving within 60 s, page request to 'Saved': {text}; all done in "
              f"{wall:.0f} s {load()}", flush=True)
        # the crafted clients run on the same cores as the server: their share is part of the figure
        print(f"   CPU: the server {server_cpu:.0f} s ({1000 * server_cpu / people:.0f} ms per check-in), "
              f"the crafted clients {client_cpu:.0f} s ({1000 * client_cpu / people:.0f} ms per check-in), "
              f"in {wall:.0f} s on {os.cpu_count()} CPUs {load()}", flush=True)
        print("   the server's CPU per check-in by role: " + ", ".join(
            f"{name} {1000 * seconds / people:.0f} ms" for name, seconds in roles.items()), flush=True)
        per_session = (full_rss - base_rss) / max(1, len(kept))
        print(f"   server memory (all its processes): {base_rss:.0f} MiB after {warm_ups} "
              f"check-ins, {full_rss:.0f} MiB with "
              f"{len(kept)} open: {per_session:.1f} MiB per open session {load()}", flush=True)
        for client in kept:
            client.close()
        errors = [r["error"] for r in results.values() if r.get("error")]
        if errors:
            print(f"   errors ({len(errors)}): {errors[:3]}")
        with open_store(db) as s:
            landed = s.actions(cohort="bench")
        print(f"   check-ins that landed: {landed['participant_id'].nunique()} of {people} {load()}", flush=True)
        figures.update(arrive_p50_s=statistics.median(saved) if saved else float("nan"),
                       arrive_p95_s=pct(saved, 0.95) if saved else float("nan"),
                       landed=landed["participant_id"].nunique(), people=people,
                       processes=args.processes,
                       mib_per_session=per_session, server_cpu_ms_per_checkin=1000 * server_cpu / people,
                       client_cpu_ms_per_checkin=1000 * client_cpu / people)

        # 2. 30 at once
        results, barrier = {}, threading.Barrier(at_once)
        run_threads([(check_in, (server, codes[i], results, i), {"barrier": barrier})
                     for i in range(at_once)])
        saved_once, text = summary(results)
        print(f"   {at_once} at once, page request to 'Saved': {text} (Voila, measured before: "
              f"49 s median) {load()}", flush=True)
        figures["at_once_30_p50_s"] = statistics.median(saved_once) if saved_once else float("nan")

        # 3. check-ins while the coach renders reports in the worker processes
        done, batch = threading.Event(), {}
        coach_thread = threading.Thread(target=coach_batch, args=(server, coach, done, batch))
        coach_thread.start()
        while not batch.get("started") and not done.is_set():
            time.sleep(0.2)
        time.sleep(3)  # the renders are under way
        results = {}
        who = range(at_once, min(people, at_once + DURING_REPORTS))
        run_threads([(check_in, (server, codes[i], results, i), {}) for i in who])
        during, text = summary(results)
        still = not done.is_set()
        print(f"   {len(who)} check-ins while the coach renders {REPORTS} reports: {text}"
              f"{'' if still else ' (the renders had finished before the last one)'} {load()}", flush=True)
        coach_thread.join(timeout=900)
        if batch.get("seconds"):
            print(f"   the {REPORTS} reports took {batch['seconds']:.0f} s in the workers {load()}", flush=True)
        figures["during_reports_p50_s"] = statistics.median(during) if during else float("nan")
    finally:
        server.stop()

    # 4. the peer: plain Voila
    try:
        import voila  # noqa: F401
    except ImportError:
        print("   peer: Voila is not installed (pip install -e '.[bench]'); skipped")
    else:
        bare = bare_voila_loads(at_once)
        spread = (f"median {statistics.median(bare):.1f} s, p95 {pct(bare, 0.95):.1f} s, "
                  if bare else "")
        print(f"   peer, plain Voila (a one-button notebook, a kernel per page), {at_once} page "
              f"loads at once: {spread}{len(bare)} of {at_once} loaded within {VOILA_DEADLINE_S} s "
              f"{load()}", flush=True)
        if bare:
            figures["voila_page_30_p50_s"] = statistics.median(bare)
    assert figures["landed"] == people, f"only {figures['landed']} of {people} check-ins landed"
    return figures


if __name__ == "__main__":
    main()
