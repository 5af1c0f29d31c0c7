"""Does task-driven fusion pay? Train every ablation variant (docs/results.md) and report it.

    python tools/ablation.py [--quick] [--out output/ablation] [--jobs 2]

Runs every (variant, fusion init, seed) of the settings (`--quick`: a minutes-long subset at
tiny budgets), then writes the table, the plot and one sample grid per variant into the
generated section of `--results-md` (docs/results.md) and `--images` (docs/images/ablation).
Resumable and idempotent: finished runs are kept in OUT/results/*.json and skipped; running
the same command again only rewrites the report (`--report-only` never trains).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("tsjnet_plugin.ablation")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from tsjnet_plugin.ablation import INITS, VARIANTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="minutes-long subset (tests)")
    parser.add_argument("--out", type=Path, help="work folder (default output/ablation[_quick])")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the seeds")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), help="override")
    parser.add_argument("--inits", nargs="+", choices=INITS, help="override the fusion inits")
    parser.add_argument("--results-md", type=Path, default=ROOT / "docs" / "results.md")
    parser.add_argument("--images", type=Path, default=ROOT / "docs" / "images" / "ablation")
    parser.add_argument("--report-only", action="store_true", help="report the finished runs")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.threads < 1:
        parser.error(f"--jobs and --threads must be >= 1, got {args.jobs}, {args.threads}")
    return args


def settings_of(args: argparse.Namespace):
    from tsjnet_plugin.ablation import FULL, QUICK

    settings = QUICK if args.quick else FULL
    overrides = {
        key: tuple(value)
        for key, value in (
            ("seeds", args.seeds),
            ("variants", args.variants),
            ("inits", args.inits),
        )
        if value
    }
    return dataclasses.replace(settings, **overrides)


def _run_in_worker(out_dir: Path, settings, run: tuple[str, str, int], threads: int) -> dict:
    import torch

    from tsjnet_plugin.d2.ablation import run_one

    torch.set_num_threads(threads)
    _setup_logging(out_dir)
    return run_one(out_dir, settings, *run)


def _setup_logging(out_dir: Path) -> None:
    from detectron2.utils.logger import setup_logger

    out_dir.mkdir(parents=True, exist_ok=True)
    setup_logger(output=str(out_dir / "ablation_log.txt"), name="tsjnet_plugin")
    logging.getLogger("detectron2").setLevel(logging.WARNING)
    logging.getLogger("fvcore").setLevel(logging.WARNING)


def run_all(out_dir: Path, settings, jobs: int, threads: int) -> None:
    """Run every run of ``settings`` not yet finished, ``jobs`` at a time."""
    from tsjnet_plugin.d2.ablation import prepare_data

    prepare_data(out_dir, settings)
    runs = settings.runs()
    logger.info("%d runs, %d at a time", len(runs), jobs)
    if jobs == 1:
        for index, run in enumerate(runs):
            logger.info("run %d/%d: %s", index + 1, len(runs), run)
            _run_in_worker(out_dir, settings, run, threads)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {pool.submit(_run_in_worker, out_dir, settings, r, threads): r for r in runs}
        failed = []
        for done, future in enumerate(as_completed(futures), 1):
            if future.exception() is not None:
                failed.append(futures[future])
                logger.error("run %s failed: %r", futures[future], future.exception())
            logger.info("finished %d/%d: %s", done, len(runs), futures[future])
    if failed:
        raise SystemExit(f"{len(failed)} runs failed: {failed}; see {out_dir / 'ablation_log.txt'}")


def main(argv: list[str] | None = None) -> None:
    from tsjnet_plugin.ablation import write_report

    args = parse_args(argv)
    settings = settings_of(args)
    section = "quick" if args.quick else "full"
    out_dir = args.out or ROOT / "output" / ("ablation_quick" if args.quick else "ablation")
    _setup_logging(out_dir)
    start = time.time()
    if not args.report_only:
        run_all(out_dir, settings, args.jobs, args.threads)
    try:
        table = write_report(out_dir, settings, args.results_md, args.images, section)
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    print(table)
    print(f"\nwrote {args.results_md} ({section} section), {args.images / section}")
    print(f"done in {time.time() - start:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
