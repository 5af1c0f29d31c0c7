"""Generated blocks inside hand-written markdown pages (benchmarks, ablation results).

A block is the text between ``<!-- KEY:begin -->`` and ``<!-- KEY:end -->``; tools rewrite it and
leave the rest of the page as it is.
"""

from __future__ import annotations

import re

__all__ = ["replace_block"]


def replace_block(text: str, key: str, body: str) -> str:
    """``text`` with the block ``key`` (e.g. ``"benchmark:cpu"``) replaced by ``body``; the block
    is appended, markers included, when ``text`` has none."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip() + ("\n\n" if text.strip() else "") + block + "\n"
