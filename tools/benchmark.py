"""Benchmark TSJNet fusion architectures side by side; results go to OUT/benchmark.{json,md}.

    python tools/benchmark.py --out output/benchmark [--archs official fast] \
        [--sizes 240x320 480x640] [--device cuda] [--precisions float32 bfloat16] \
        [--backends torch flex] [--train-archs official] [--train-size 480x640] \
        [--train-batch 2] [--with-cp off on] [--docs docs/benchmarks.md]
    python tools/benchmark.py --from-json output/benchmark/benchmark.json --docs docs/benchmarks.md

Reports, all measured in this one run:
- per architecture and input size: parameters, MACs, inference latency and peak memory (first
  precision and backend), and each architecture's speed-up over the first one;
- with several precisions or backends: inference latency and memory of every combination, and
  each backend's speed over the torch path;
- a training-step table (forward with auxiliary outputs, fusion loss, backward, Adam) per
  backend, precision and ``with_cp`` (activation checkpointing): time, peak memory, and the
  time and memory of ``with_cp`` relative to the same run without it;
- on CPU, the speed of the pure-torch neighbourhood attention against NATTEN's CPU path (when
  natten is installed).
Each CPU measurement runs in a fresh subprocess so that its peak-memory reading is its own; a
CUDA measurement that fails (out of memory, a kernel that does not compile) is reported in its
row and the run goes on. ``--docs FILE`` replaces the block between the
``<!-- benchmark:DEVICE:begin/end -->`` markers in FILE (DEVICE: cpu or cuda) with this run's
tables (the markers are added at the end if missing); ``--from-json`` writes the tables of an
earlier run's ``benchmark.json`` instead of measuring (e.g. one made on a GPU machine).
``--demo-report DIR --docs FILE`` writes the ``demo`` block from the report of ``make demo``
(``DIR/results.json`` and ``DIR/fusion_metrics.json``, default ``output/demo/report``).

    python tools/benchmark.py --demo-report output/demo/report --docs docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

import torch

from tsjnet_plugin.benchmark import (
    PRECISIONS,
    attention_backend_ratio,
    count_macs,
    count_parameters,
    run_job,
)
from tsjnet_plugin.env import collect_env
from tsjnet_plugin.fusion import ARCHS, build_fusion_model
from tsjnet_plugin.fusion.attention import BACKENDS, natten_available
from tsjnet_plugin.markdown_blocks import replace_block

CP_CHOICES = {"off": False, "on": True}


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"size must look like 240x320, got {text!r}") from err
    return height, width


def size_key(height: int, width: int) -> str:
    return f"{height}x{width}"


def measure(job: dict, device: torch.device, threads: int | None) -> dict:
    """Run one job: on CPU in a fresh subprocess (its own peak memory), on GPU in this process.

    A job that fails returns ``{"error": "..."}`` (one line) instead of its measurements.
    """
    if device.type == "cpu":
        cmd = [sys.executable, __file__, "--job", json.dumps(job), "--device", str(device)]
        cmd += ["--threads", str(threads)] if threads else []
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode:
            lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
            return {"error": lines[-1]}
        return json.loads(result.stdout.strip().splitlines()[-1])
    try:
        return run_job(job, device)
    except Exception as err:  # a failing configuration is a result of the benchmark
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return {"error": f"{type(err).__name__}: {message}"[:200]}
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()


def memory_column(device: str) -> tuple[str, float]:
    """Header unit and MiB divisor of the memory columns: MiB on CPU, GiB on GPU."""
    return ("GiB", 1024.0) if device.startswith("cuda") else ("MiB", 1.0)


def fmt_memory(row: dict, divisor: float) -> str:
    value = row["peak_memory_mib"] / divisor
    return f"{value:.1f}" if divisor > 1 else f"{value:.0f}"


def arch_tables(results: dict) -> list[str]:
    """Parameters, MACs and latency per (arch, size), then speed-ups over the first arch."""
    archs = list(results["archs"])
    if not archs:
        return []
    unit, divisor = memory_column(results["device"])
    reference = archs[0]
    lines = [
        f"| arch | parameters | input | GMACs | latency, batch 1 (s) | peak memory ({unit}) |",
        "|---|---|---|---|---|---|",
    ]
    for arch, entry in results["archs"].items():
        for key, row in entry["sizes"].items():
            timing = (
                f"{row['latency_s']:.3f} | {fmt_memory(row, divisor)}"
                if "error" not in row
                else f"{row['error']} | -"
            )
            lines.append(
                f"| {arch} | {entry['parameters']:,} | {key} | {row['gmacs']:.1f} | {timing} |"
            )
    if len(archs) > 1:
        sizes = list(results["archs"][reference]["sizes"])
        lines += [
            "",
            f"Speed-up over `{reference}` (its latency / the arch's latency, same run):",
            "",
            "| arch | " + " | ".join(sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        for arch in archs[1:]:
            cells = []
            for key in sizes:
                ours, theirs = results["archs"][reference]["sizes"][key], results["archs"][arch]
                theirs = theirs["sizes"][key]
                ok = "latency_s" in ours and "latency_s" in theirs
                cells.append(f"{ours['latency_s'] / theirs['latency_s']:.1f}x" if ok else "-")
            lines.append(f"| {arch} | " + " | ".join(cells) + " |")
    return lines


def inference_table(results: dict) -> list[str]:
    """Every (arch, size, precision, backend) inference row, with its speed over torch."""
    rows = results.get("inference", [])
    combos = {(r["precision"], r["backend"]) for r in rows}
    if len(combos) < 2:
        return []
    unit, divisor = memory_column(results["device"])
    torch_latency = {
        (r["arch"], r["size"], r["precision"]): r["latency_s"]
        for r in rows
        if r["backend"] == "torch" and "latency_s" in r
    }
    lines = [
        "Inference, batch 1, per precision and attention backend (speed: the torch path's "
        "latency / this latency, same run):",
        "",
        f"| arch | input | precision | backend | latency (ms) | peak memory ({unit}) | speed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        head = f"| {r['arch']} | {r['size']} | {r['precision']} | {r['backend']} |"
        if "error" in r:
            lines.append(f"{head} {r['error']} | - | - |")
            continue
        reference = torch_latency.get((r["arch"], r["size"], r["precision"]))
        speed = f"{reference / r['latency_s']:.2f}x" if reference else "-"
        lines.append(f"{head} {1000 * r['latency_s']:.0f} | {fmt_memory(r, divisor)} | {speed} |")
    return lines


def training_table(results: dict) -> list[str]:
    """Every training-step row, with with_cp's time and memory relative to the same run without."""
    rows = results.get("training", [])
    if not rows:
        return []
    unit, divisor = memory_column(results["device"])

    def key(r: dict) -> tuple:
        return r["arch"], r["size"], r["batch"], r["precision"], r["backend"]

    plain = {key(r): r for r in rows if not r["with_cp"] and "step_s" in r}
    lines = [
        "Training step (forward with auxiliary outputs, fusion loss, backward, Adam update; "
        "with_cp: activation checkpointing, relative to the same row without it, same run):",
        "",
        f"| arch | input | batch | precision | backend | with_cp | step (s) | peak memory ({unit}) "
        "| time vs no cp | memory vs no cp |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        head = (
            f"| {r['arch']} | {r['size']} | {r['batch']} | {r['precision']} | {r['backend']} "
            f"| {'on' if r['with_cp'] else 'off'} |"
        )
        if "error" in r:
            lines.append(f"{head} {r['error']} | - | - | - |")
            continue
        base = plain.get(key(r)) if r["with_cp"] else None
        time_ratio = f"{r['step_s'] / base['step_s']:.2f}x" if base else "-"
        memory_ratio = f"{r['peak_memory_mib'] / base['peak_memory_mib']:.2f}x" if base else "-"
        lines.append(
            f"{head} {r['step_s']:.3f} | {fmt_memory(r, divisor)} | {time_ratio} | {memory_ratio} |"
        )
    return lines


def attention_table(results: dict) -> list[str]:
    att = results.get("attention_cpu")
    if not att:
        return []
    return [
        "Neighbourhood attention on CPU, 120x160 map, dim 64, 2 heads, kernel 7 (same run):",
        "",
        "| path | time |",
        "|---|---|",
        f"| torch fallback, forward | {att['na_torch_forward_s']:.3f} s |",
        f"| NATTEN CPU path, forward | {att['na_natten_cpu_forward_s']:.3f} s "
        f"({att['natten_over_torch_ratio']:.1f}x the fallback's time) |",
        "| torch fallback, official NAT level 0 (3 layers + downsampler), forward + backward "
        f"| {att['nat_level0_forward_backward_s']:.2f} s |",
    ]


def markdown_tables(results: dict) -> list[str]:
    """The run's tables, separated by blank lines."""
    lines: list[str] = []
    for table in (
        arch_tables(results),
        inference_table(results),
        training_table(results),
        attention_table(results),
    ):
        if table:
            lines += ([""] if lines else []) + table
    return lines


def header(results: dict) -> str:
    """One line naming the date, the device and how times were taken."""
    env = results.get("env", {})
    if results["device"].startswith("cuda"):
        where = f"{env.get('GPUs', 'GPU')}, torch {env.get('torch', '?')}"
    else:
        where = f"{results['threads']} threads"
    first = results.get("first_combo")
    scope = f"; the first table: {first[0]}, backend {first[1]}" if first else ""
    return (
        f"Measured {results['date']} by `tools/benchmark.py` on {results['device']} ({where}); "
        f"{results['repeats']} timed runs after one warm-up, median{scope}."
    )


DEMO_TASK_METRICS = (("bbox", "AP"), ("bbox", "AP50"), ("sem_seg", "mIoU"))
DEMO_FUSION_METRICS = ("EN", "SD", "SF", "AG", "SCD", "VIF", "Qabf", "SSIM")


def demo_tables(report: Path) -> list[str]:
    """The task scores and the mean fusion metrics per method of a ``make demo`` report."""
    try:
        tasks = json.loads((report / "results.json").read_text())
        fusion = json.loads((report / "fusion_metrics.json").read_text())
        scores = [f"{task} {name} {tasks[task][name]:.1f}" for task, name in DEMO_TASK_METRICS]
        pairs = len(next(iter(fusion.values()))["per_image"])
        rows = [
            f"| {method} | "
            + " | ".join(f"{result['mean'][name]:.2f}" for name in DEMO_FUSION_METRICS)
            + " |"
            for method, result in fusion.items()
        ]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, StopIteration) as err:
        print(f"benchmark.py: error: --demo-report {report}: not a `make demo` report ({err!r})",
              file=sys.stderr)  # fmt: skip
        sys.exit(2)
    return [
        f"Written by `tools/benchmark.py --demo-report {report}` from `make demo`'s report: "
        + ", ".join(scores)
        + f"; mean fusion metrics over its {pairs} fused sample pairs:",
        "",
        "| method | " + " | ".join(DEMO_FUSION_METRICS) + " |",
        "|---|" + "---|" * len(DEMO_FUSION_METRICS),
        *rows,
    ]


def write_docs_block(path: Path, device: str, body: list[str]) -> None:
    """Replace (or append) the generated block of ``device`` in the markdown file ``path``."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    path.write_text(replace_block(text, f"benchmark:{device}", "\n".join(body)))


def read_results(path: Path) -> dict:
    """An earlier run's ``benchmark.json``; a clear one-line error (exit 2) if it is not one."""
    try:
        results = json.loads(path.read_text())
        missing = {"device", "date", "repeats", "archs"} - set(results)
    except (OSError, json.JSONDecodeError, TypeError) as err:
        missing, results = {f"a readable JSON object ({err})"}, {}
    if missing:
        print(f"benchmark.py: error: --from-json {path}: not a benchmark.json, "
              f"lacks {sorted(missing)}", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/benchmark"))
    parser.add_argument("--archs", nargs="*", default=["official", "fast"], choices=sorted(ARCHS))
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(240, 320), (480, 640)])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=sorted(PRECISIONS),
        help="autocast dtypes (default: float32 on CPU; float32 bfloat16 on GPU)",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        help="attention backends (default: torch on CPU; torch flex on GPU)",
    )
    parser.add_argument(
        "--train-archs",
        nargs="*",
        choices=sorted(ARCHS),
        help="archs of the training-step table (default: official on GPU, fast on CPU; "
        "none: no table)",
    )
    parser.add_argument(
        "--train-size",
        type=parse_size,
        help="input of the training-step table (default: 480x640 on GPU, 240x320 on CPU)",
    )
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument(
        "--with-cp", nargs="+", choices=sorted(CP_CHOICES), default=["off", "on"], dest="with_cp"
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--skip-attention", action="store_true", help="no attention-path table")
    parser.add_argument("--docs", type=Path, help="markdown file to write the tables into")
    parser.add_argument(
        "--from-json", type=Path, help="write the tables of this benchmark.json; measure nothing"
    )
    parser.add_argument(
        "--demo-report",
        type=Path,
        help="write the `make demo` block from this report; measure nothing",
    )
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    on_gpu = torch.device(args.device).type == "cuda"
    if args.precisions is None:
        args.precisions = ["float32", "bfloat16"] if on_gpu else ["float32"]
    if args.backends is None:
        args.backends = ["torch", "flex"] if on_gpu else ["torch"]
    if args.train_archs is None:
        args.train_archs = ["official"] if on_gpu else ["fast"]
    if args.train_size is None:
        args.train_size = (480, 640) if on_gpu else (240, 320)
    if args.demo_report and not args.docs:
        parser.error("--demo-report needs --docs FILE to write into")
    if on_gpu and not torch.cuda.is_available() and not args.from_json:
        parser.error(f"--device {args.device}: CUDA is not available here")
    return args


def run_benchmark(args: argparse.Namespace) -> dict:
    """Measure everything ``args`` asks for; the results dict written to ``benchmark.json``."""
    device = torch.device(args.device)
    results = {
        "device": args.device,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "date": datetime.date.today().isoformat(),
        "env": collect_env(),
        "first_combo": [args.precisions[0], args.backends[0]],
        "archs": {},
        "inference": [],
        "training": [],
    }
    for arch in args.archs:
        entry = {"parameters": count_parameters(build_fusion_model(arch)), "sizes": {}}
        for size in args.sizes:
            key = size_key(*size)
            for precision in args.precisions:
                for backend in args.backends:
                    print(f"[benchmark] {arch} {key} {precision} {backend}", flush=True)
                    job = dict(kind="inference", arch=arch, height=size[0], width=size[1])
                    job.update(repeats=args.repeats, precision=precision, backend=backend)
                    timing = measure(job, device, args.threads)
                    results["inference"].append(
                        dict(arch=arch, size=key, precision=precision, backend=backend, **timing)
                    )
                    if (precision, backend) == tuple(results["first_combo"]):
                        gmacs = count_macs(arch, *size) / 1e9
                        entry["sizes"][key] = {"gmacs": gmacs, **timing}
        results["archs"][arch] = entry
    key = size_key(*args.train_size)
    for arch in args.train_archs:
        for precision in args.precisions:
            for backend in args.backends:
                for cp in args.with_cp:
                    print(f"[benchmark] train {arch} {key} {precision} {backend} cp {cp}")
                    job = dict(kind="train", arch=arch, height=args.train_size[0])
                    job.update(width=args.train_size[1], batch=args.train_batch)
                    job.update(repeats=args.repeats, precision=precision, backend=backend)
                    timing = measure(dict(job, with_cp=CP_CHOICES[cp]), device, args.threads)
                    results["training"].append(
                        dict(
                            arch=arch,
                            size=key,
                            batch=args.train_batch,
                            precision=precision,
                            backend=backend,
                            with_cp=CP_CHOICES[cp],
                            **timing,
                        )
                    )
    if device.type == "cpu" and not args.skip_attention and natten_available():
        print("[benchmark] neighbourhood attention: torch fallback vs natten CPU ...", flush=True)
        results["attention_cpu"] = attention_backend_ratio()
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.job:
        print(json.dumps(run_job(json.loads(args.job), torch.device(args.device))))
        return
    if args.demo_report:
        write_docs_block(args.docs, "demo", demo_tables(args.demo_report))
        print(f"[benchmark] updated the demo block of {args.docs}")
        return
    if args.from_json:
        results = read_results(args.from_json)
    else:
        results = run_benchmark(args)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "benchmark.json").write_text(json.dumps(results, indent=2))
    body = [header(results), "", *markdown_tables(results)]
    if not args.from_json:
        text = "# TSJNet fusion benchmark\n\n" + "\n".join(body) + "\n"
        (args.out / "benchmark.md").write_text(text)
    print("\n".join(body))
    if args.docs:
        write_docs_block(args.docs, torch.device(results["device"]).type, body)
        print(f"[benchmark] updated {args.docs}")
    if not args.from_json:
        print(f"[benchmark] wrote {args.out / 'benchmark.json'} and {args.out / 'benchmark.md'}")


if __name__ == "__main__":
    main()
