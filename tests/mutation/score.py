"""Score mutmut's last run (``mutants/``) over the mutant names given, as ``make mutation`` asks.

Prints killed / total per function group and overall, and every survivor with its diff. A
survivor is accepted only when ``equivalent.tsv`` names its function and its mutated line with
the reason no test can tell it apart; entries are keyed by the mutated line, not by mutmut's
number, which shifts whenever the function changes. Exit 1 when an unexplained survivor (or a
mutant with no test, or one that timed out) remains.
"""

from __future__ import annotations

import collections
import fnmatch
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

EQUIVALENT = Path(__file__).with_name("equivalent.tsv")
#: mutmut's exit codes (mutmut/stats.py): 1 and 3 killed, 0 survived, 5 and 33 no tests,
#: 36, 24, -24, 152 and 255 timeout, 37 caught by the type checker (not used here).
KILLED = {1, 3}
SURVIVED = {0}


@dataclass(frozen=True)
class Equivalent:
    function: str  # mutmut's mangled function name, without the __mutmut_N suffix
    line: str  # the mutated line, stripped, as `mutmut show` prints it after "+"
    reason: str


def read_equivalents(path: Path = EQUIVALENT) -> list[Equivalent]:
    """Tab-separated rows: function, mutated line, reason; '#' starts a comment line."""
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split("\t")
        if len(fields) != 3 or not all(f.strip() for f in fields):
            raise SystemExit(f"{path}:{number}: want function<TAB>mutated line<TAB>reason")
        rows.append(Equivalent(fields[0].strip(), fields[1].strip(), fields[2].strip()))
    return rows


def exit_codes(root: Path = Path("mutants")) -> dict[str, int | None]:
    """Every mutant's recorded exit code (None: not run) from mutmut's ``*.meta`` files."""
    codes: dict[str, int | None] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return codes


def function_of(mutant: str) -> str:
    return re.sub(r"__mutmut_\d+$", "", mutant)


def mutated_lines(mutant: str) -> list[str]:
    """The '+' lines of ``mutmut show``'s diff, stripped."""
    diff = subprocess.run([sys.executable, "-m", "mutmut", "show", mutant], check=True,
                          capture_output=True, text=True).stdout
    return [line[1:].strip() for line in diff.splitlines()
            if line.startswith("+") and not line.startswith("+++")]


def main(patterns: list[str]) -> int:
    codes = {name: code for name, code in exit_codes().items()
             if any(fnmatch.fnmatch(name, p) for p in patterns)}
    if not codes:
        print("no mutants match", patterns)
        return 1
    equivalents = read_equivalents()
    used: set[Equivalent] = set()
    by_group: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    unexplained: list[str] = []
    for name, code in sorted(codes.items()):
        group = name.split(".x")[0]
        if code in KILLED:
            by_group[group]["killed"] += 1
            continue
        if code in SURVIVED:
            lines = mutated_lines(name)
            match = next((e for e in equivalents if e.function == function_of(name)
                          and e.line in lines), None)
            if match is not None:
                used.add(match)
                by_group[group]["equivalent"] += 1
                continue
            by_group[group]["survived"] += 1
            unexplained.append(f"survived: {name}: +{' / +'.join(lines)}")
        else:
            by_group[group]["other"] += 1
            unexplained.append(f"not killed (exit code {code}): {name}")
    total = collections.Counter[str]()
    for group, counts in sorted(by_group.items()):
        total.update(counts)
        print(_line(group, counts))
    print(_line("all", total))
    for entry in equivalents:
        scored = any(fnmatch.fnmatch(f"{entry.function}__mutmut_1", p) for p in patterns)
        if scored and entry not in used:
            print(f"stale equivalent.tsv entry (no such survivor now): {entry.function}: "
                  f"{entry.line}")
    for text in unexplained:
        print(text)
    return 1 if unexplained else 0


def _line(group: str, counts: collections.Counter[str]) -> str:
    n = sum(counts.values())
    killed = counts["killed"]
    real = n - counts["equivalent"]
    return (f"{group}: {n} mutants, {killed} killed ({100 * killed / n:.1f} %), "
            f"{counts['equivalent']} equivalent, {counts['survived']} survived, "
            f"{counts['other']} other; killed of non-equivalent: "
            f"{100 * killed / real if real else 100:.1f} %")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
