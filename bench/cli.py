"""How fast `portico` answers, against the bare cost of importing typer (issue 27).

Each round runs, one after the other, in a clean environment and an empty directory:

1. `python -c "import typer"`: the floor, the interpreter and the CLI library;
2. `portico --help` and `portico db --help`: the command tree and nothing else.
   Target: each within 2x the floor;
3. `portico config check`: the tree, the settings loader and logging, with nothing
   configured (no database is touched). Target: within 3x the floor.

The rounds interleave the commands, and each ratio is taken between medians over all
rounds, so the drift of a shared machine hits both sides of a ratio alike.

    .venv/bin/python bench/cli.py [--rounds N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
PORTICO = str(Path(PYTHON).with_name("portico"))
COMMANDS: dict[str, list[str]] = {
    "import typer": [PYTHON, "-c", "import typer"],
    "portico --help": [PORTICO, "--help"],
    "portico db --help": [PORTICO, "db", "--help"],
    "portico config check": [PORTICO, "config", "check"],
}
FLOOR = "import typer"
TARGETS = {"portico --help": 2.0, "portico db --help": 2.0, "portico config check": 3.0}


def timed(command: list[str], env: dict[str, str], cwd: str) -> float:
    """Seconds one run takes, start to exit; a failing command stops the bench."""
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    """Measure every command over the rounds; print the ratios; exit 1 on a missed target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cwd:
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        env["DATA_DIR"] = str(Path(cwd) / "data")
        for command in COMMANDS.values():  # warm the page cache and the bytecode
            timed(command, env, cwd)
        samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(args.rounds):
            for name, command in COMMANDS.items():
                samples[name].append(timed(command, env, cwd))
    medians = {name: statistics.median(times) for name, times in samples.items()}
    floor = medians[FLOOR]
    print(f"cli: medians over {args.rounds} rounds")
    for name, seconds in medians.items():
        print(f"  {name:<22} {seconds * 1000:7.0f} ms  {seconds / floor:5.2f}x {FLOOR}")
    missed = False
    for name, target in TARGETS.items():
        ratio = medians[name] / floor
        verdict = "PASS" if ratio <= target else "MISS"
        missed = missed or ratio > target
        print(f"{verdict}  {name} {ratio:.2f}x <= {target:.0f}x `python -c 'import typer'`")
    if missed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
