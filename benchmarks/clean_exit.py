"""Every process exits clean: survey commands back to back, two at a time, against the test
internet, counting the non-zero exits and the lines written to stderr (both must be zero).

Why a count over many processes: a native thread still running when the interpreter exits
(pyarrow reading through a Python file object, apache/arrow#34314) turned a finished scan into
SIGABRT about one run in twenty here; one process proves nothing, two hundred do. The mix is
what a user and a cron job run: ``scan`` (one process and ``--workers 2``), a resume after a
SIGKILL, ``--retry-errors``, ``report``, ``publish``, ``verify``, ``diff`` and ``check``; and
the other native users at exit: the Dask client with its local cluster (``--cluster local:2``)
and fsspec/s3fs (a toplist read from and a run written to ``s3://``, against moto's S3 server on
127.0.0.1, as tests/runs/test_store.py does; one process and on the cluster). The killed scan
of a resume is not counted (its -9 is the point); the resume that follows is.

    python -m benchmarks.clean_exit --processes 200 --lanes 2
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import importlib
import itertools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from survey.sim.generator import generate_world
from survey.sim.scenario import DNSSEC_CHECK_NAME
from survey.sim.world import RunningWorld, start_world

#: Scan options: short deadlines, no progress output (its lines go to stderr), and the name that
#: tells the scan its resolver validates (else it warns that the DNSSEC columns may not hold).
FAST = ["--timeout", "2", "--dns-timeout", "0.5", "--retries", "1", "--no-progress",
        "--rate", "50000", "--dnssec-check", DNSSEC_CHECK_NAME]
#: The kinds of process, run in this order, round robin.
KINDS = ("scan", "resume", "report", "retry-errors", "publish", "diff", "verify", "check",
         "scan-workers", "scan-cluster", "scan-s3", "scan-s3-cluster")
#: The bucket of the ``s3://`` kinds on the local S3 server.
BUCKET = "clean-exit"
PROCESS_TIMEOUT = 180.0
#: Lines a command writes to stderr by design (tests pin them): counted apart, as notices.
NOTICES = (re.compile(r"^retrying [0-9,]+ domain\(s\) with status error$"),)


@dataclass(slots=True)
class Outcome:
    """One counted process: what ran and how it ended."""

    kind: str
    argv: list[str]
    returncode: int
    stderr: str
    seconds: float

    @property
    def notices(self) -> int:
        return sum(1 for line in self.stderr.splitlines() if is_notice(line))

    @property
    def stderr_lines(self) -> int:
        """Lines on stderr that are not notices: a warning, a traceback, an abort message."""
        return sum(1 for line in self.stderr.splitlines() if line.strip() and not is_notice(line))

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and self.stderr_lines == 0


def is_notice(line: str) -> bool:
    return any(pattern.match(line) for pattern in NOTICES)


@dataclass(slots=True)
class Summary:
    processes: int = 0
    nonzero_exits: int = 0
    stderr_lines: int = 0
    notices: int = 0
    seconds: float = 0.0
    lanes: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[dict[str, object]] = field(default_factory=list)


class Fixture:
    """The world, the finished runs and the snapshot that the read-only commands use."""

    def __init__(self, running: RunningWorld, work: Path, env: dict[str, str] | None = None
                 ) -> None:
        self.running = running
        self.work = work
        #: the environment of every process (the S3 endpoint and credentials when there is one)
        self.env = env
        self.base = work / "base"
        self.other = work / "other"
        self.snapshots = work / "snapshots"
        self.snapshot: Path | None = None
        #: the toplist on the S3 server (set by ``s3_server``)
        self.toplist_url = ""
        # a domain that passes: ``check`` exits 0 for it (its exit status is the grade)
        self.domain = next(s.domain for s in running.world.scenarios if s.expect is not None
                           and s.expect.status == "enforce" and not s.expect.mistakes)
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def fresh(self, stem: str) -> Path:
        with self._lock:
            return self.work / f"{stem}-{next(self._seq)}"

    def scan(self, out: Path | str, *extra: str, toplist: str | None = None) -> list[str]:
        return [sys.executable, "-m", "survey", "scan", toplist or str(self.running.toplist),
                "-o", str(out), *self.running.scan_args(), *FAST, *extra]

    def url(self, stem: str) -> str:
        """A fresh run URL on the local S3 server."""
        return f"s3://{BUCKET}/{self.fresh(stem).name}"

    def run(self, kind: str, argv: list[str]) -> Outcome:
        return run_process(kind, argv, self.env)

    def survey(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "survey", *args]


def run_process(kind: str, argv: list[str], env: dict[str, str] | None = None) -> Outcome:
    started = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PROCESS_TIMEOUT,
                              stdin=subprocess.DEVNULL, env=env)
        code, err = done.returncode, done.stderr
    except subprocess.TimeoutExpired as exc:
        tail = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(
            exc.stderr or "")
        code, err = -1, f"timed out after {PROCESS_TIMEOUT} s\n{tail}"
    return Outcome(kind, argv, code, err, time.perf_counter() - started)


def killed_then_resumed(fx: Fixture) -> Outcome:
    """A scan SIGKILLed once its first part is written (or at once if it is quick), resumed."""
    out = fx.fresh("resume")
    proc = subprocess.Popen(fx.scan(out, "--part-rows", "50"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=fx.env)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        parts = out / "parts"
        if parts.is_dir() and any(parts.glob("*.parquet")):
            break
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return fx.run("resume", fx.scan(out))


def run_kind(kind: str, fx: Fixture) -> Outcome:
    """One counted process of ``kind`` (writing only below a fresh path of its own)."""
    if kind == "scan":
        return fx.run(kind, fx.scan(fx.fresh("scan")))
    if kind == "scan-workers":
        return fx.run(kind, fx.scan(fx.fresh("workers"), "--workers", "2"))
    if kind == "scan-cluster":
        return fx.run(kind, fx.scan(fx.fresh("cluster"), "--cluster", "local:2"))
    if kind == "scan-s3":
        return fx.run(kind, fx.scan(fx.url("s3"), toplist=fx.toplist_url))
    if kind == "scan-s3-cluster":
        return fx.run(kind, fx.scan(fx.url("s3cluster"), "--cluster", "local:2"))
    if kind == "resume":
        return killed_then_resumed(fx)
    if kind == "retry-errors":
        out = fx.fresh("retry")
        shutil.copytree(fx.base, out)
        return fx.run(kind, fx.survey("scan", "--retry-errors", str(out),
                                      *fx.running.scan_args(), *FAST))
    if kind == "report":
        return fx.run(kind, fx.survey("report", str(fx.base), "-o",
                                      str(fx.fresh("report")) + ".html"))
    if kind == "publish":
        return fx.run(kind, fx.survey("publish", str(fx.base), "--to",
                                      str(fx.fresh("published"))))
    if kind == "verify":
        assert fx.snapshot is not None
        return fx.run(kind, fx.survey("verify", str(fx.snapshot)))
    if kind == "diff":
        return fx.run(kind, fx.survey("diff", str(fx.base), str(fx.other), "-o",
                                      str(fx.fresh("diff")) + ".parquet"))
    if kind == "check":
        return fx.run(kind, fx.survey("check", fx.domain, *fx.running.scan_args(),
                                      "--timeout", "2", "--dns-timeout", "0.5"))
    raise ValueError(f"unknown kind {kind!r}")


def prepare(fx: Fixture) -> list[Outcome]:
    """The finished runs and the snapshot (three counted processes: scan, scan, publish)."""
    made = [fx.run("scan", fx.scan(fx.base)), fx.run("scan", fx.scan(fx.other))]
    made.append(fx.run("publish", fx.survey("publish", str(fx.base), "--to",
                                            str(fx.snapshots))))
    found = sorted(p for p in fx.snapshots.iterdir() if p.is_dir()) if fx.snapshots.is_dir() \
        else []
    if not all(o.clean for o in made) or not found:
        detail = "\n".join(f"{o.argv}: exit {o.returncode}\n{o.stderr}" for o in made)
        raise RuntimeError(f"could not prepare the runs the commands read:\n{detail}")
    fx.snapshot = found[0]
    return made


def summarise(outcomes: Sequence[Outcome], lanes: int, seconds: float) -> Summary:
    summary = Summary(processes=len(outcomes), lanes=lanes, seconds=round(seconds, 1))
    for o in outcomes:
        kind = summary.by_kind.setdefault(o.kind, {"processes": 0, "nonzero_exits": 0,
                                                   "stderr_lines": 0, "seconds": 0})
        kind["processes"] += 1
        kind["nonzero_exits"] += o.returncode != 0
        kind["stderr_lines"] += o.stderr_lines
        kind["seconds"] += round(o.seconds)
        summary.nonzero_exits += o.returncode != 0
        summary.stderr_lines += o.stderr_lines
        summary.notices += o.notices
        if not o.clean:
            summary.failures.append({"kind": o.kind, "argv": o.argv[2:],
                                     "returncode": o.returncode, "stderr": o.stderr[-2000:]})
    return summary


@contextlib.contextmanager
def s3_server(fx: Fixture) -> Iterator[None]:
    """moto's S3 server on 127.0.0.1 (an ephemeral port) with a bucket holding the toplist; every
    process gets its endpoint and credentials through the environment (botocore reads
    ``AWS_ENDPOINT_URL``), and stages below the work directory (``XDG_CACHE_HOME``)."""
    from moto.server import ThreadedMotoServer  # the dev extra installs it
    s3fs: Any = importlib.import_module("s3fs")  # (untyped)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        fx.env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
                  "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                  "XDG_CACHE_HOME": str(fx.work / "cache")}
        fs = s3fs.S3FileSystem(key="test", secret="test", endpoint_url=endpoint,
                          skip_instance_cache=True)
        fs.mkdir(BUCKET)
        fx.toplist_url = f"s3://{BUCKET}/{fx.running.toplist.name}"
        fs.put_file(str(fx.running.toplist), fx.toplist_url)
        yield
    finally:
        server.stop()


def run_mixed(processes: int, *, lanes: int = 2, domains: int = 400, seed: int = 17,
              work: Path | None = None) -> Summary:
    """``processes`` survey processes (the three that prepare included), ``lanes`` at a time."""
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clean-exit-")))
        running = stack.enter_context(start_world(generate_world(domains, seed), work / "world"))
        started = time.perf_counter()
        fx = Fixture(running, work)
        kinds = list(itertools.islice(itertools.cycle(KINDS), max(0, processes - 3)))
        if any(kind.startswith("scan-s3") for kind in kinds):
            stack.enter_context(s3_server(fx))
        outcomes = prepare(fx)
        with concurrent.futures.ThreadPoolExecutor(lanes) as pool:
            outcomes += pool.map(lambda kind: run_kind(kind, fx), kinds)
        return summarise(outcomes, lanes, time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--lanes", type=int, default=2, help="processes at a time")
    parser.add_argument("--domains", type=int, default=400, help="size of the test world")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    summary = run_mixed(args.processes, lanes=args.lanes, domains=args.domains, seed=args.seed)
    print(json.dumps(asdict(summary), indent=1))
    return 0 if summary.nonzero_exits == 0 and summary.stderr_lines == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
