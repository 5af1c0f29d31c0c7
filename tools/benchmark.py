"""Benchmark TSJNet fusion architectures side by side; results go to OUT/benchmark.{json,md}.

    python tools/benchmark.py --out output/benchmark [--archs official fast] \
        [--sizes 240x320 480x640] [--device cuda] [--amp] [--docs docs/benchmarks.md]

Reports, per architecture and input size, parameters, MACs, latency and peak memory, then each
architecture's speed-up over the first one, all measured in this one run; on CPU also the speed
of the pure-torch neighbourhood attention against NATTEN's CPU path (when natten is installed).
Each CPU latency runs in a fresh subprocess so that its peak-memory reading is its own.
``--docs FILE`` replaces the block between the ``<!-- benchmark:DEVICE:begin/end -->`` markers in
FILE with this run's tables (the markers are added at the end if missing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

import torch

from tsjnet_plugin.benchmark import (
    attention_backend_ratio,
    count_macs,
    count_parameters,
    fusion_latency,
)
from tsjnet_plugin.env import collect_env
from tsjnet_plugin.fusion import ARCHS, build_fusion_model
from tsjnet_plugin.fusion.attention import natten_available


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"size must look like 240x320, got {text!r}") from err
    return height, width


def latency_in_subprocess(
    arch: str, size: tuple[int, int], device: str, repeats: int, amp: bool, threads: int | None
) -> dict:
    cmd = [sys.executable, __file__, "--single", "--archs", arch, "--device", device]
    cmd += ["--sizes", f"{size[0]}x{size[1]}", "--repeats", str(repeats)]
    cmd += (["--amp"] if amp else []) + (["--threads", str(threads)] if threads else [])
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def markdown_tables(results: dict) -> list[str]:
    """The run's tables: one row per (arch, size), then speed-ups over the first arch."""
    archs = list(results["archs"])
    reference = archs[0]
    lines = [
        "| arch | parameters | input | GMACs | latency, batch 1 (s) | peak memory (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for arch, entry in results["archs"].items():
        for key, row in entry["sizes"].items():
            lines.append(
                f"| {arch} | {entry['parameters']:,} | {key} | {row['gmacs']:.1f} | "
                f"{row['latency_s']:.3f} | {row['peak_memory_mib']:.0f} |"
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
            ratios = [
                results["archs"][reference]["sizes"][k]["latency_s"]
                / results["archs"][arch]["sizes"][k]["latency_s"]
                for k in sizes
            ]
            lines.append(f"| {arch} | " + " | ".join(f"{r:.1f}x" for r in ratios) + " |")
    att = results.get("attention_cpu")
    if att:
        lines += [
            "",
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
    return lines


def write_docs_block(path: Path, device: str, body: list[str]) -> None:
    """Replace (or append) the generated block of ``device`` in the markdown file ``path``."""
    begin, end = f"<!-- benchmark:{device}:begin -->", f"<!-- benchmark:{device}:end -->"
    block = "\n".join([begin, *body, end])
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/benchmark"))
    parser.add_argument("--archs", nargs="+", default=["official", "fast"], choices=sorted(ARCHS))
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(240, 320), (480, 640)])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--amp", action="store_true", help="CUDA autocast (float16)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--skip-attention", action="store_true", help="no attention-path table")
    parser.add_argument("--docs", type=Path, help="markdown file to write the tables into")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.single:
        timing = fusion_latency(args.archs[0], *args.sizes[0], device, args.repeats, args.amp)
        print(json.dumps(timing))
        return

    results = {
        "device": args.device,
        "amp": args.amp,
        "threads": torch.get_num_threads(),
        "date": datetime.date.today().isoformat(),
        "env": collect_env(),
        "archs": {},
    }
    for arch in args.archs:
        entry = {"parameters": count_parameters(build_fusion_model(arch)), "sizes": {}}
        for size in args.sizes:
            key = f"{size[0]}x{size[1]}"
            print(f"[benchmark] {arch} {key} on {args.device} ...", flush=True)
            if device.type == "cpu":
                timing = latency_in_subprocess(
                    arch, size, args.device, args.repeats, args.amp, args.threads
                )
            else:
                timing = fusion_latency(arch, *size, device, args.repeats, args.amp)
            entry["sizes"][key] = {"gmacs": count_macs(arch, *size) / 1e9, **timing}
        results["archs"][arch] = entry
    if device.type == "cpu" and not args.skip_attention and natten_available():
        print("[benchmark] neighbourhood attention: torch fallback vs natten CPU ...", flush=True)
        results["attention_cpu"] = attention_backend_ratio()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(results, indent=2))
    header = (
        f"Measured {results['date']} by `tools/benchmark.py` on {args.device} "
        f"({results['threads']} threads{', AMP' if args.amp else ''}); "
        f"{args.repeats} timed runs after one warm-up, median."
    )
    body = [header, "", *markdown_tables(results)]
    (args.out / "benchmark.md").write_text("# TSJNet fusion benchmark\n\n" + "\n".join(body) + "\n")
    print("\n".join(body))
    if args.docs:
        write_docs_block(args.docs, device.type, body)
        print(f"[benchmark] updated {args.docs}")
    print(f"[benchmark] wrote {args.out / 'benchmark.json'} and {args.out / 'benchmark.md'}")


if __name__ == "__main__":
    main()
