"""tsjnet_plugin/data imports only the standard library, numpy and PIL (no framework)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import tsjnet_plugin.data

ALLOWED = {"numpy", "PIL"}


def test_data_package_imports_no_framework():
    package = Path(tsjnet_plugin.data.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED or top in sys.stdlib_module_names, f"{path}: imports {name}"
