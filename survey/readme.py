"""Keep the README's reference tables equal to the code (``python -m survey.readme``).

The column and mistake tables are generated from ``dataset.schema`` and ``core.mistakes``, the
single sources of truth; a test fails when the README drifts from them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from survey.core.mistakes import reference_table_markdown
from survey.dataset.schema import column_reference_markdown

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = {
    "columns": column_reference_markdown,
    "mistakes": reference_table_markdown,
}


def render(text: str) -> str:
    for name, generate in BLOCKS.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        head, found, rest = text.partition(begin)
        if not found:
            raise ValueError(f"README has no {begin} marker")
        _, _, tail = rest.partition(end)
        text = f"{head}{begin}\n{generate()}\n{end}{tail}"
    return text


def main() -> int:
    text = README.read_text()
    updated = render(text)
    if updated != text:
        README.write_text(updated)
        print(f"updated {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
