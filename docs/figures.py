"""Draw the user guide's figures from the demo data: ``python docs/figures.py``.

Each figure is the package's own chart of the demo data (the same calls the notebooks and
reports make), written as a small PNG through kaleido into ``docs/images/``. PNGs from the
same data and versions come out the same, so re-running it changes nothing.
"""

from pathlib import Path

import kaleido

import mastery_analysis as ma

OUT = Path(__file__).resolve().parent / "images"
WIDTH, HEIGHT = 760, 460


def main() -> list[Path]:
    OUT.mkdir(exist_ok=True)
    frames = ma.read_demo_csv()
    fw = ma.load_framework()
    alex = {t: f.loc[f["participant_id"] == "alex"] for t, f in frames.items() if "participant_id" in f}
    trajectories = ma.element_trajectories(alex["ratings"])
    today = alex["ratings"]["date"].max()
    correlations = ma.action_progress_correlation(alex["actions"], alex["progress"],
                                                  checkins=alex["ratings"][["participant_id", "date"]])
    people = frames["participants"].loc[frames["participants"]["cohort"] == "spring-cohort"]
    cohort = {t: f.loc[f["participant_id"].isin(people["participant_id"])] for t, f in frames.items()}
    scores = ma.score_responses(cohort["responses"], fw)
    change = ma.cohort_change(scores, framework=fw)
    figures = {
        "personal-wheel": (ma.plot_wheel(ma.wheel_values(trajectories, today=today),
                                         participant="alex", framework=fw), WIDTH, HEIGHT + 60),
        "personal-trajectories": (ma.plot_trajectories(trajectories, participant="alex",
                                                       framework=fw), WIDTH, None),
        "personal-lag-profile": (ma.plot_lag_profile(correlations, goals=alex["goals"],
                                                     participant="alex", framework=fw), WIDTH, None),
        # five panels with their titles need the width of a report page
        "cohort-change": (ma.plot_cohort_change(scores, change, participants=people,
                                                framework=fw), 1100, None),
    }
    written = []
    kaleido.start_sync_server()
    try:
        for name, (fig, width, height) in figures.items():
            path = OUT / f"{name}.png"
            fig.write_image(path, format="png", width=width,
                            height=height or min(fig.layout.height or HEIGHT, 900), scale=1)
            written.append(path)
    finally:
        kaleido.stop_sync_server()
    return written


if __name__ == "__main__":
    for path in main():
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
