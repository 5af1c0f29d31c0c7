"""Benchmark the TSJNet fusion network; results go to OUT/benchmark.{json,md}.

    python tools/benchmark.py --out output/benchmark [--device cuda] [--sizes 240x320 480x640]

Reports parameters, MACs, latency and peak memory per input size, and the speed of the
pure-torch neighbourhood attention against NATTEN's CPU path, all measured in this one run.
Each CPU latency runs in a fresh subprocess so that its peak-memory reading is its own.
"""

from __future__ import annotations

import argparse
import json
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
from tsjnet_plugin.fusion import build_fusion_model


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"size must look like 240x320, got {text!r}") from err
    return height, width


def latency_in_subprocess(
    arch: str, size: tuple[int, int], device: str, repeats: int, amp: bool
) -> dict:
    cmd = [sys.executable, __file__, "--single", "--arch", arch, "--device", device]
    cmd += ["--sizes", f"{size[0]}x{size[1]}", "--repeats", str(repeats)] + (
        ["--amp"] if amp else []
    )
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output/benchmark"))
    parser.add_argument("--arch", default="official")
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(240, 320), (480, 640)])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--amp", action="store_true", help="CUDA autocast (float16)")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)

    if args.single:
        print(json.dumps(fusion_latency(args.arch, *args.sizes[0], device, args.repeats, args.amp)))
        return

    results = {
        "arch": args.arch,
        "device": args.device,
        "amp": args.amp,
        "env": collect_env(),
        "parameters": count_parameters(build_fusion_model(args.arch)),
        "sizes": {},
    }
    for size in args.sizes:
        key = f"{size[0]}x{size[1]}"
        print(f"[benchmark] {args.arch} {key} on {args.device} ...", flush=True)
        if device.type == "cpu":
            timing = latency_in_subprocess(args.arch, size, args.device, args.repeats, args.amp)
        else:
            timing = fusion_latency(args.arch, *size, device, args.repeats, args.amp)
        results["sizes"][key] = {"gmacs": count_macs(args.arch, *size) / 1e9, **timing}
    print("[benchmark] neighbourhood attention: torch fallback vs natten CPU ...", flush=True)
    results["attention_cpu"] = attention_backend_ratio()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(results, indent=2))
    lines = [
        f"# TSJNet fusion benchmark ({args.arch}, {args.device}{', AMP' if args.amp else ''})",
        "",
        f"Parameters: {results['parameters']:,}",
        "",
        "| input | GMACs | latency (s) | peak memory (MiB) |",
        "|---|---|---|---|",
    ]
    for key, row in results["sizes"].items():
        lines.append(
            f"| {key} | {row['gmacs']:.1f} | {row['latency_s']:.2f} | {row['peak_memory_mib']:.0f} |"
        )
    att = results["attention_cpu"]
    lines += [
        "",
        "Neighbourhood attention on CPU, 120x160 map, dim 64, 2 heads, kernel 7 (same run):",
        f"- torch fallback forward: {att['na_torch_forward_s']:.3f} s",
        f"- natten CPU forward: {att['na_natten_cpu_forward_s']:.3f} s "
        f"({att['natten_over_torch_ratio']:.1f}x the fallback's time)",
        f"- official NAT level 0 (3 layers + downsampler), forward+backward, torch path: "
        f"{att['nat_level0_forward_backward_s']:.2f} s",
    ]
    (args.out / "benchmark.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"[benchmark] wrote {args.out / 'benchmark.json'} and {args.out / 'benchmark.md'}")


if __name__ == "__main__":
    main()
