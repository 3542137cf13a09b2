"""Mutation score per module of custody/domain/, from the results `mutmut run` leaves in mutants/.

    python tests/mutation/report.py [--mutants DIR] [--excluded FILE] [--minimum PCT] [--survivors]

A mutant counts as killed when a test failed (or timed out) with it in place; one that survived,
or that no test reached, counts against the score. Mutants that only change the wording of a
message may be excluded: each is named, with why, in tests/mutation/excluded.txt. An exclusion
is refused (and the run fails) unless the mutant changes nothing but string literals, so a
change of behaviour can never be excluded by mistake; the list is printed with every report.
Exits 1 when a module scores below the minimum (default 90 %), or when the results are
incomplete or an exclusion is refused. Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import json
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path("custody/domain")
# mutmut's exit codes (mutmut/stats.py): a test failed, pytest crashed, or the mutant hung.
KILLED = {1, 3, 24, -24, 36, 152, 255, -9, -11}
NOT_KILLED = {0: "survived", 5: "no tests", 33: "no tests", 35: "suspicious"}


@dataclass
class ModuleScore:
    module: str
    killed: int = 0
    survivors: list[str] = field(default_factory=list)
    excluded: list[tuple[str, str, str]] = field(default_factory=list)  # name, reason, diff
    unchecked: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + len(self.survivors)

    @property
    def percent(self) -> float | None:
        return 100 * self.killed / self.total if self.total else None


def read_exclusions(path: Path) -> dict[str, str]:
    """`mutant-name  reason` per line; blank lines and lines starting with # are skipped."""
    if not path.exists():
        return {}
    exclusions: dict[str, str] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path}:{number}: {name} is excluded without a reason")
        exclusions[name] = reason.strip()
    return exclusions


def function_sources(mutated_file: Path) -> dict[str, str]:
    """Every function in a mutated file, by name (mutants and originals alike)."""
    text = mutated_file.read_text("utf-8")
    lines = text.splitlines(keepends=True)
    return {
        node.name: textwrap.dedent("".join(lines[node.lineno - 1 : node.end_lineno]))
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _tokens(source: str) -> list[tuple[int, str]]:
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    stream = tokenize.generate_tokens(io.StringIO(source).readline)
    return [(t.type, t.string) for t in stream if t.type not in skip]


def string_only_change(original: str, mutant: str) -> bool:
    """True when the two sources differ in the text of string literals and nothing else."""
    # The function names differ by construction (`x_f__mutmut_orig` / `x_f__mutmut_7`).
    a, b = _tokens(original)[2:], _tokens(mutant)[2:]
    if len(a) != len(b):
        return False
    changed = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return bool(changed) and all(x[0] == y[0] == tokenize.STRING for x, y in changed)


def diff_lines(original: str, mutant: str) -> str:
    """The lines the mutant changes (its function's name aside), as - and + lines."""
    body = [line.splitlines()[1:] for line in (original, mutant)]
    lines = difflib.unified_diff(*body, lineterm="", n=0)
    return "\n".join(
        f"      {line[0]} {line[1:].strip()}"
        for line in lines
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    )


def _natural(name: str) -> tuple[str, int]:
    """Order mutants as mutmut numbers them: ..._2 before ..._10."""
    stem, _, number = name.rpartition("_")
    return (stem, int(number)) if number.isdigit() else (name, 0)


def score(mutants: Path, exclusions: dict[str, str]) -> tuple[list[ModuleScore], list[str]]:
    problems: list[str] = []
    scores: list[ModuleScore] = []
    unused = dict(exclusions)
    for meta_path in sorted((mutants / PACKAGE).glob("*.py.meta")):
        source = meta_path.with_suffix("")  # mutants/custody/domain/x.py
        module = source.stem
        result = ModuleScore(module)
        exit_codes = json.loads(meta_path.read_text("utf-8"))["exit_code_by_key"]
        # Reading the mutated file is slow; only an exclusion needs it.
        functions = function_sources(source) if exclusions.keys() & exit_codes.keys() else {}
        for name, code in sorted(exit_codes.items(), key=lambda item: _natural(item[0])):
            unused.pop(name, None)
            if code is None:
                result.unchecked.append(name)
                continue
            if name in exclusions:
                function = name.rsplit(".", 1)[1]
                original = functions.get(function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
                mutant = functions.get(function)
                if original is None or mutant is None:
                    problems.append(f"excluded mutant {name} is not in {source}")
                elif not string_only_change(original, mutant):
                    problems.append(
                        f"excluded mutant {name} changes more than a string literal; it may not "
                        f"be excluded:\n{diff_lines(original, mutant)}"
                    )
                elif code in KILLED:
                    problems.append(f"excluded mutant {name} is killed: remove its exclusion")
                else:
                    result.excluded.append((name, exclusions[name], diff_lines(original, mutant)))
                    continue
            if code in KILLED:
                result.killed += 1
            else:
                result.survivors.append(f"{name} ({NOT_KILLED.get(code, f'exit {code}')})")
        if result.unchecked:
            problems.append(f"{module}: {len(result.unchecked)} mutants were not checked")
        scores.append(result)
    problems += [f"excluded mutant {name} does not exist" for name in sorted(unused)]
    return scores, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--excluded", type=Path, default=Path(__file__).with_name("excluded.txt"))
    parser.add_argument("--minimum", type=float, default=90.0)
    parser.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    args = parser.parse_args(argv)

    if not (args.mutants / PACKAGE).is_dir():
        print(f"No mutation results in {args.mutants / PACKAGE}: run mutmut first.")
        return 1
    scores, problems = score(args.mutants, read_exclusions(args.excluded))

    excluded = [(s.module, e) for s in scores for e in s.excluded]
    if excluded:
        print(f"Excluded from the score: {len(excluded)} mutants that change only words")
        for _module, (name, reason, diff) in excluded:
            print(f"  {name}\n    why: {reason}\n{diff}")
        print()

    if args.survivors:
        for s in scores:
            for name in s.survivors:
                print(f"  survivor {name}")
        print()

    header = f"{'module':<28} {'killed':>6} / {'total':<5} {'score':>7} {'survivors':>9}"
    header += f" {'excluded':>8}"
    print(header)
    print("-" * len(header))
    below = []
    totals = ModuleScore("all modules")
    for s in [*scores, totals]:
        if s is totals:
            print("-" * len(header))
        percent = "-" if s.percent is None else f"{s.percent:6.1f}%"
        print(
            f"{s.module:<28} {s.killed:>6} / {s.total:<5} {percent:>7} "
            f"{len(s.survivors):>9} {len(s.excluded):>8}"
        )
        if s is not totals:
            totals.killed += s.killed
            totals.survivors += s.survivors
            totals.excluded += s.excluded
            if s.percent is not None and s.percent < args.minimum:
                below.append(s.module)
    print()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if below:
        print(f"Below {args.minimum:g} % of mutants killed: {', '.join(below)}")
    if below or problems:
        return 1
    print(f"Every module kills at least {args.minimum:g} % of its mutants.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
