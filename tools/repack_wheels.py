"""Rebuild wheels of installed distributions from their installed files, for a machine without a
package registry (tools/gpu_check_prepare.sh carries them to a GPU machine).

    python tools/repack_wheels.py --out .gpu_wheels --import tsjnet_plugin.d2 detectron2.engine \
        --exclude torch torchvision detectron2

Finds the distributions whose top-level modules the ``--import`` modules load (the import
closure, measured by importing them in this interpreter) and writes one wheel per distribution:
the files its ``RECORD`` lists inside site-packages, its executables in ``bin`` as the wheel's
scripts (e.g. ninja's binary; Python console scripts are left out, pip regenerates them from
``entry_points.txt``; so is ``__pycache__``), its ``WHEEL`` tags and a new ``RECORD``.
Prints one JSON line per wheel (name, file, bytes).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import importlib.metadata as md
import json
import re
import stat
import sys
import zipfile
from pathlib import Path

SKIPPED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def import_closure(modules: list[str]) -> set[str]:
    """Canonical names of the distributions that provide the modules loaded by ``modules``."""
    already = set(sys.modules)
    for module in modules:
        importlib.import_module(module)
    providers = md.packages_distributions()
    tops = {name.split(".")[0] for name in set(sys.modules) - already}
    return {canonical(d) for top in tops for d in providers.get(top, [])}


def wheel_tags(dist: md.Distribution) -> str:
    """The compressed tag set of the wheel file name, from the ``Tag:`` lines of ``WHEEL``."""
    text = dist.read_text("WHEEL")
    if not text:
        raise ValueError(f"{dist.metadata['Name']} was not installed from a wheel (no WHEEL file)")
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    parts = [sorted({tag.split("-")[i] for tag in tags}) for i in range(3)]
    return "-".join(".".join(p) for p in parts)


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(dist: md.Distribution, out: Path) -> Path:
    """Write the wheel of the installed ``dist`` into ``out``; returns its path."""
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    path = out / f"{name}-{dist.version}-{wheel_tags(dist)}.whl"
    records = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        record_name = None
        for item in dist.files or []:
            arcname = item.as_posix()
            if "__pycache__" in item.parts:
                continue
            if arcname.startswith(".."):
                if item.parent.name != "bin" or not Path(dist.locate_file(item)).is_file():
                    continue
                if Path(dist.locate_file(item)).read_bytes()[:2] == b"#!":
                    continue  # a console script: pip writes its own
                arcname = f"{name}-{dist.version}.data/scripts/{item.name}"
            if item.parent.name.endswith(".dist-info") and item.name in SKIPPED_METADATA:
                record_name = record_name or f"{item.parent.as_posix()}/RECORD"
                continue
            source = Path(dist.locate_file(item))
            if not source.is_file():
                continue
            data = source.read_bytes()
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | (source.stat().st_mode & 0o777)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
            records.append(f"{arcname},{_digest(data)},{len(data)}")
        if record_name is None:
            raise ValueError(f"{dist.metadata['Name']}: no RECORD among its installed files")
        records.append(f"{record_name},,")
        archive.writestr(record_name, "\n".join(records) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--import", dest="modules", nargs="+", default=[], metavar="MODULE")
    parser.add_argument("--dists", nargs="*", default=[], help="distributions to add by name")
    parser.add_argument("--exclude", nargs="*", default=[], help="names or prefixes ending in *")
    args = parser.parse_args(argv)
    names = import_closure(args.modules) | {canonical(d) for d in args.dists}
    excluded = [canonical(e) for e in args.exclude]

    def is_excluded(name: str) -> bool:
        return any(name.startswith(e[:-1]) if e.endswith("*") else name == e for e in excluded)

    args.out.mkdir(parents=True, exist_ok=True)
    for name in sorted(n for n in names if not is_excluded(n)):
        try:
            dist = md.distribution(name)
            wheel = repack(dist, args.out)
        except (md.PackageNotFoundError, ValueError) as err:
            print(f"repack_wheels.py: skipped {name}: {err}", file=sys.stderr)
            continue
        print(json.dumps({"name": name, "file": wheel.name, "bytes": wheel.stat().st_size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
