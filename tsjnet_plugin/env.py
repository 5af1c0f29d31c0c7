"""Environment report, like detectron2's ``collect_env``: ``python -m tsjnet_plugin.env``.

Lists the versions of the stack, whether the compiled ops of mmcv and detectron2 are present, and
which neighbourhood-attention path the fusion network will take on this machine.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import platform
import sys
from collections.abc import Callable

import torch

from .fusion.attention import natten_available, resolve_backend

__all__ = [
    "SHORT_KEYS",
    "collect_env",
    "format_env",
    "main",
]

NOT_INSTALLED = "not installed"
SHORT_KEYS = (
    "torch",
    "CUDA available",
    "natten",
    "neighbourhood attention",
    "mmcv",
    "mmcv compiled ops",
    "mmsegmentation",
    "mmdet",
    "detectron2",
    "detectron2 compiled ops",
)


def _version(module: str) -> str:
    try:
        return str(importlib.import_module(module).__version__)
    except Exception as err:  # an import that fails for any reason is reported, not raised
        return NOT_INSTALLED if isinstance(err, ModuleNotFoundError) else f"import failed: {err}"


def _probe(check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as err:
        return f"no ({type(err).__name__}: {err})"


def _mmcv_ops() -> str:
    from mmcv.ops import get_compiler_version, get_compiling_cuda_version

    return f"yes (compiler {get_compiler_version()}, CUDA {get_compiling_cuda_version()})"


def _detectron2_ops() -> str:
    from detectron2 import _C

    return f"yes (CUDA {_C.get_cuda_version()})" if torch.cuda.is_available() else "yes"


def _natten_backend() -> str:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def auto(has_rpb: bool) -> str:
        train = resolve_backend("auto", device, has_rpb, needs_grad=True)
        infer = resolve_backend("auto", device, has_rpb, needs_grad=False)
        return f"'{train}' training / '{infer}' inference"

    choice = f"auto uses {auto(True)} with RPB, {auto(False)} without"
    if not natten_available():
        return f"natten missing: no natten backend; {choice}"
    import natten

    has_cuda = torch.cuda.is_available() and bool(getattr(natten, "HAS_LIBNATTEN", False))
    kernels = "CUDA kernels" if has_cuda else "CPU path (no natten CUDA kernels here)"
    return f"{kernels}; {choice}"


def collect_env() -> dict[str, str]:
    """Name -> value pairs describing the environment (every value a string)."""
    cuda = torch.cuda.is_available()
    return {
        "sys.platform": sys.platform,
        "Python": sys.version.split()[0],
        "machine": platform.machine(),
        "numpy": _version("numpy"),
        "torch": torch.__version__,
        "torch built with CUDA": str(torch.version.cuda),
        "CUDA available": str(cuda),
        "GPUs": ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        if cuda
        else "none",
        "torchvision": _version("torchvision"),
        "natten": _version("natten"),
        "neighbourhood attention": _natten_backend(),
        "mmengine": _version("mmengine"),
        "mmcv": _version("mmcv"),
        "mmcv compiled ops": _probe(_mmcv_ops),
        "mmsegmentation": _version("mmseg"),
        "mmdet": _version("mmdet"),
        "detectron2": _version("detectron2"),
        "detectron2 compiled ops": _probe(_detectron2_ops),
        "tsjnet_plugin": importlib.metadata.version("tsjnet_plugin")
        if _has_distribution("tsjnet_plugin")
        else NOT_INSTALLED,
    }


def _has_distribution(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def format_env(info: dict[str, str]) -> str:
    """A two-column text table."""
    width = max(len(k) for k in info)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in info.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--short", action="store_true", help="one line per framework")
    args = parser.parse_args(argv)
    info = collect_env()
    if args.short:
        info = {k: info[k] for k in SHORT_KEYS}
    print(json.dumps(info, indent=2) if args.json else format_env(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
