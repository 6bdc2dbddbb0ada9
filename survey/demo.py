"""`make run`: the main job on the embedded default world, start to finish.

Starts the test internet with a synthetic world, scans it with the real scanner (the same
command line a user types, plus the flags the test internet prints), writes the dataset, the
HTML report and the executed notebooks, and says where everything is.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

DEFAULT_SEED = 20261128


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m survey.demo", description=__doc__)
    parser.add_argument("--domains", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=Path("datasets/demo"))
    parser.add_argument("--no-notebooks", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def write_figures(dataset: Path, directory: Path) -> list[Path]:
    """PNG copies of the headline figures (for slides, papers and the README)."""
    from survey.analysis import charts, stats

    lf = stats.load(dataset)
    figures = {
        "status": charts.status_chart(stats.status_counts(lf)),
        "funnel": charts.funnel_chart(stats.funnel(lf)),
        "rank": charts.rank_chart(stats.adoption_by_rank(lf)),
        "mistakes": charts.mistakes_chart(stats.mistake_frequency(lf)),
    }
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, chart in figures.items():
        path = directory / f"{name}.png"
        path.write_bytes(charts.to_png(chart))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from survey.analysis.notebooks import analysis_notebooks, execute_notebook
    from survey.analysis.report import write_report
    from survey.cli import main as cli
    from survey.sim.generator import generate_world
    from survey.sim.world import start_world

    out: Path = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    work = out / "world"
    work.mkdir(parents=True)
    started = time.monotonic()
    print(f"demo: generating {args.domains:,} synthetic domains (seed {args.seed})")
    world = generate_world(args.domains, args.seed)
    scan_dir = out / "scan"
    with start_world(world, work) as running:
        toplist = running.toplist
        print(f"demo: test internet up (resolver {running.resolver[0]}:{running.resolver[1]})")
        command = ["scan", str(toplist), "-o", str(scan_dir), *running.scan_args(),
                   "--contact", "https://github.com/mta-sts-survey/mta-sts-survey",
                   "--toplist-name", f"synthetic-{args.domains}-seed{args.seed}",
                   # our own loopback world: no need for the polite default of 1,000 q/s
                   "--rate", "5000", "--concurrency", "1000"]
        if args.no_progress:
            command.append("--no-progress")
        print("demo: mta-sts-survey " + " ".join(command))
        status = cli(command)
        if status != 0:
            print(f"demo: scan failed with exit status {status}", file=sys.stderr)
            return status
    report, headline = write_report(scan_dir, out / "report.html")
    print(headline)
    write_figures(scan_dir, out / "figures")
    notebooks_out = out / "notebooks"
    if not args.no_notebooks:
        for notebook in analysis_notebooks():
            target = notebooks_out / f"{notebook.stem}.html"
            print(f"demo: executing {notebook.name}")
            execute_notebook(notebook, {"DATASET": str(scan_dir)}, out_html=target)
    elapsed = time.monotonic() - started
    print(f"\ndemo finished in {elapsed:.0f} s")
    print(f"  dataset    {scan_dir}/parts/*.parquet (+ manifest.json)")
    print(f"  report     {report}")
    print(f"  figures    {out / 'figures'}/*.png")
    if not args.no_notebooks:
        print(f"  notebooks  {notebooks_out}/*.html")
    print(f"  toplist    {toplist}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
