"""Faults around `canary run`'s evidence log (docs/evidence.md): a run killed at any
moment, a full disk, a folder it may not write, several runs at once. Whatever happens,
`canary evidence verify` still says ok (what an interrupted run left is only a note), the
log holds exactly the runs that committed, nothing twice, and the next run works.

The CLI is `CANARY_BIN` (else target/debug/canary). The small filesystems and read-only
folders live in a private mount namespace (`unshare`), entered with `nsenter`; the commit
steps are hit exactly with `strace`'s fault injection."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import CANARY_BIN, copy_sample

NOW = "2026-01-31T12:00:00Z"
# A small KPI keeps each run cheap (0.2 to 0.4 s with the debug binary): a hundred kills take about a minute.
RUN = ("run", "revenue", "--grain", "month", "--format", "csv")
COMPUTE = ("compute", "revenue", "--grain", "month", "--format", "csv")
SEED = int(os.environ.get("CANARY_FAULT_SEED", "12"))
KILLS = 100
TIMEOUT = 60  # seconds: a command still running then is a hang
RECORDED = re.compile(r"recorded run (\S+) as record (\d+) ")
ENV = {**os.environ, "NO_COLOR": "1", "CANARY_NOW": NOW}


# --- Running the CLI ------------------------------------------------------------------------


def canary(project: Path, *args: str, prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """`canary -p PROJECT ARGS`, optionally inside `prefix` (nsenter, setpriv, strace)."""
    cmd = [*prefix, CANARY_BIN, "-p", str(project), *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False, env=ENV, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hang: `{' '.join(cmd)}` still running after {TIMEOUT} s (stderr: {e.stderr!r})")


def start_run(project: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CANARY_BIN, "-p", str(project), *RUN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def finish(p: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"hang: `canary run` (pid {p.pid}) still running after {TIMEOUT} s; stderr: {err!r}")
    return p.returncode, out, err


def recorded(stderr: str) -> tuple[str, int]:
    """The run id and record number a successful run reports on stderr."""
    m = RECORDED.search(stderr)
    assert m, f"a run that exited 0 did not say what it recorded: {stderr!r}"
    return m.group(1), int(m.group(2))


def verified(project: Path, prefix: Sequence[str] = ()) -> tuple[bool, str]:
    """Whether `evidence verify` exits 0, and what it printed."""
    v = canary(project, "evidence", "verify", prefix=prefix)
    text = v.stdout + v.stderr
    assert v.returncode in (0, 1), f"`evidence verify` exited {v.returncode}: {text}"
    assert "panicked" not in text and "internal error" not in text, text
    return v.returncode == 0 and text.startswith("ok: "), text


def assert_clear_error(r: subprocess.CompletedProcess[str], *reasons: str) -> None:
    """A failed run: exit 1 or 2, one of `reasons` in its message, no panic, nothing published."""
    assert r.returncode in (1, 2), f"exit {r.returncode}, expected a clear error: {r.stderr!r}"
    assert "panicked" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert r.stderr.startswith("error: "), r.stderr
    assert any(reason in r.stderr for reason in reasons), f"no reason among {reasons} in {r.stderr!r}"
    assert ".canary/evidence" in r.stderr, f"the error does not name the evidence path: {r.stderr!r}"
    assert r.stdout == "", "a failed run printed a result"


# --- Reading the evidence folder --------------------------------------------------------------


def evidence(project: Path) -> Path:
    return project / ".canary" / "evidence"


def head(ev: Path) -> tuple[int, str] | None:
    try:
        h = json.loads((ev / "HEAD").read_text())
    except FileNotFoundError:
        return None
    return h["seq"], h["hash"]


def snapshot(ev: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under the evidence folder, with what changes when it is written again."""
    out = {}
    for path in ev.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            st = path.lstat()
            if not path.is_dir():
                out[path.relative_to(ev).as_posix()] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


# What an interrupted run can leave, in the order a run writes it: the result, the spec
# objects, the record, then the head's temporary file (`HEAD` itself is the commit).
STEPS = ("result (temporary)", "result", "spec object", "record (temporary)", "record past HEAD", "HEAD (temporary)")


def furthest_step(written: set[str]) -> str:
    def step(rel: str) -> int:
        folder, _, name = rel.rpartition("/")
        temporary = name.startswith(".tmp-")
        if folder == "runs":
            return 0 if temporary else 1
        if folder == "objects":
            return 2
        if folder == "log":
            return 3 if temporary else 4
        return 5

    return STEPS[max(step(rel) for rel in written)]


def check_log(ev: Path, completed: dict[str, int], count: int) -> list[dict[str, object]]:
    """The log after a clean run: records 1..count exactly, chained, each run once, every
    successful run at the record it reported with its result file, nothing else on disk."""
    assert head(ev) is not None and head(ev)[0] == count, f"HEAD {head(ev)}, expected record {count}"
    names = sorted(p.name for p in (ev / "log").iterdir())
    assert names == [f"{seq:08}.json" for seq in range(1, count + 1)], f"log files: {names}"
    records = [json.loads((ev / "log" / name).read_text()) for name in names]
    prev = "0" * 64
    for seq, r in enumerate(records, 1):
        assert (r["seq"], r["prev"]) == (seq, prev), f"record {seq}: seq {r['seq']}, prev {r['prev']}"
        prev = r["hash"]
    assert head(ev) == (count, prev)
    ids = [r["run_id"] for r in records]
    assert len(set(ids)) == len(ids), "a run is recorded twice"
    for run_id, seq in completed.items():
        assert ids[seq - 1] == run_id, f"run {run_id} (exited 0) is not record {seq}: lost"
    runs = sorted(p.name for p in (ev / "runs").iterdir())
    assert runs == sorted(f"{i}.parquet" for i in ids), "result files and records disagree"
    assert not [p for p in ev.rglob(".tmp-*")], "temporary files left after a clean run"
    return records


def reference(project: Path) -> str:
    """What `run` must print: `compute` of the same query (which writes no evidence)."""
    r = canary(project, *COMPUTE)
    assert r.returncode == 0, r.stderr
    return r.stdout


# --- SIGKILL at random points ------------------------------------------------------------------


@dataclass
class Kill:
    index: int
    delay: float
    phase: str  # "before", "during", "after" (HEAD moved), or "completed" (exited 0 first)
    left: str = ""  # the furthest step an interrupted run wrote
    written: list[str] = field(default_factory=list)


def test_sigkill_at_random_points(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """At least 100 SIGKILLs of `canary run` at seeded random delays over the whole run
    (0 to 1.1 times an uninterrupted run), half of them near the commit, at the end.

    After every kill: `verify` exits 0, and the log holds exactly the runs that exited 0
    plus those killed after their `HEAD` was written (HEAD compared before and after)."""
    started = time.monotonic()
    project = copy_sample(tmp_path / "p")
    ev = evidence(project)
    expected = reference(project)
    rng = random.Random(SEED)

    # An uninterrupted run's duration, and when its commit happens (HEAD's mtime).
    completed: dict[str, int] = {}
    durations, commits = [], []
    for _ in range(5):
        t0, wall = time.monotonic(), time.time_ns()
        rc, out, err = finish(start_run(project))
        durations.append(time.monotonic() - t0)
        assert rc == 0, err
        assert out == expected
        run_id, seq = recorded(err)
        completed[run_id] = seq
        commits.append(((ev / "HEAD").stat().st_mtime_ns - wall) / 1e9)
    duration = statistics.median(durations)
    horizon = 1.1 * duration
    # Where the end-weighted delays go: around the commit, following where kills land (a
    # kill before any write moves it later, one after the commit earlier).
    target = statistics.median(commits)
    width, step = max(0.01, 0.05 * duration), max(0.002, 0.01 * duration)

    kills: list[Kill] = []
    failures: list[str] = []
    after_head = 0
    iteration = 0
    broken = False  # whether verify failed after the previous kill
    while sum(k.phase != "completed" for k in kills) < KILLS:
        iteration += 1
        assert iteration <= 3 * KILLS, "too many runs finished before their kill"
        end_weighted = rng.random() < 0.5
        if end_weighted:
            delay = min(horizon, max(0.0, rng.uniform(target - width, target + width)))
        else:
            delay = rng.uniform(0.0, horizon)
        before_head, before = head(ev), snapshot(ev)

        t0 = time.monotonic()
        p = start_run(project)
        time.sleep(max(0.0, delay - (time.monotonic() - t0)))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        rc, out, err = finish(p)

        after_head_now, after = head(ev), snapshot(ev)
        written = sorted(rel for rel, st in after.items() if before.get(rel) != st and rel != "HEAD")
        kill = Kill(iteration, delay, "before", written=written)
        what = f"seed {SEED}, iteration {iteration}, delay {delay * 1000:.1f} ms"
        if rc == 0:
            kill.phase = "completed"
            run_id, seq = recorded(err)
            completed[run_id] = seq
            if out != expected:
                failures.append(f"{what}: a completed run printed {out!r}")
        elif rc == -signal.SIGKILL:
            if after_head_now != before_head:
                kill.phase = "after"
                after_head += 1
            elif written:
                kill.phase, kill.left = "during", furthest_step(set(written))
        else:
            failures.append(f"{what}: the run exited {rc} instead of being killed: {err.strip()}")
        kills.append(kill)
        if end_weighted and kill.phase in ("before", "after", "completed"):
            target += step if kill.phase == "before" else -step

        ok, text = verified(project)
        if not ok:
            state = {"before": "before any evidence file was written", "during": f"during the writes (at {kill.left})"}
            failures.append(
                f"{what}, killed {state.get(kill.phase, kill.phase)}; written: {written}; verify: {text.strip()}"
                + (
                    " (the state the previous run left: this one was killed before removing it)"
                    if broken and not written
                    else ""
                )
            )
        broken = not ok
        count = len(completed) + after_head
        seq_now = after_head_now[0] if after_head_now else 0
        if seq_now != count:
            failures.append(f"{what}: HEAD is record {seq_now}, expected {count} (completed + committed)")

    killed = [k for k in kills if k.phase != "completed"]
    phases = collections.Counter(k.phase for k in killed)
    left = collections.Counter(k.left for k in killed if k.phase == "during")
    with capsys.disabled():
        print(
            f"\nSIGKILL (seed {SEED}): {len(killed)} kills in {iteration} runs "
            f"({len(kills) - len(killed)} finished first); "
            f"uninterrupted run {duration * 1000:.0f} ms, commit at ~{statistics.median(commits) * 1000:.0f} ms\n"
            f"  before any evidence file was written: {phases['before']}\n"
            f"  during the writes (files left): {phases['during']}"
            f" ({', '.join(f'{n} at {s}' for s, n in sorted(left.items(), key=lambda i: STEPS.index(i[0])))})\n"
            f"  after HEAD moved: {phases['after']}\n"
            f"  log: {len(completed) + after_head} records = {len(completed)} completed + {after_head} "
            f"killed after their commit; {time.monotonic() - started:.1f} s"
        )
    # One more run, uninterrupted: it works and leaves a clean log.
    rc, out, err = finish(start_run(project))
    assert rc == 0, f"the run after the kills failed: {err}"
    run_id, seq = recorded(err)
    completed[run_id] = seq
    ok, text = verified(project)
    assert ok, text
    assert "note" not in text, f"leftovers after a clean run: {text}"
    check_log(ev, completed, len(completed) + after_head)

    assert len(killed) >= KILLS
    assert not failures, f"{len(failures)} faults broke the log:\n" + "\n".join(failures[:20])


# --- SIGKILL and errors at each system call of the commit (strace) -----------------------------


def traced_commit(project: Path, strace: str, tmp_path: Path) -> tuple[dict[str, int], tuple[str, int]]:
    """How many times an uninterrupted run calls fsync and each rename (all in one thread),
    and what it recorded."""
    trace = tmp_path / "trace.txt"
    r = canary(
        project, *RUN, prefix=[strace, "-f", "-qq", "-e", "trace=fsync,rename,renameat,renameat2", "-o", str(trace)]
    )
    assert r.returncode == 0, r.stderr
    calls = [line.split(None, 1) for line in trace.read_text().splitlines() if "(" in line]
    assert len({tid for tid, _ in calls}) == 1, f"the commit's system calls come from several threads: {calls}"
    return dict(collections.Counter(call.split("(")[0] for _, call in calls)), recorded(r.stderr)


def test_kill_or_fail_at_each_commit_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Each fsync and rename of the commit (result, record, HEAD, and their folders), in
    turn: SIGKILL on entering it, or make it fail (EIO). `verify` exits 0 after each; a run
    that fails says so clearly and commits nothing; a killed run is in the log exactly
    when its HEAD was written."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is needed to stop a run at each step of its commit (Debian package `strace`)")
    project = copy_sample(tmp_path / "p")
    ev = evidence(project)
    first = canary(project, *RUN)  # writes the spec objects: later runs write none
    assert first.returncode == 0, first.stderr
    completed = dict([recorded(first.stderr)])
    counts, traced = traced_commit(project, strace, tmp_path)
    completed.update([traced])
    assert counts.get("fsync", 0) >= 3 and sum(n for c, n in counts.items() if c.startswith("rename")) >= 3, counts

    committed = 0
    failures, outcomes = [], []
    for call, n in sorted(counts.items()):
        for when in range(1, n + 1):
            for action in ("signal=KILL", "error=EIO"):
                before = head(ev)
                inject = [strace, "-f", "-qq", "-o", "/dev/null", "-e", f"trace={call}"]
                r = canary(project, *RUN, prefix=[*inject, "-e", f"inject={call}:{action}:when={when}"])
                after = head(ev)
                what = f"{action} at {call} #{when}"
                if r.returncode == 0:
                    completed.update([recorded(r.stderr)])
                    outcomes.append(f"{what}: completed")
                elif action == "signal=KILL":
                    if r.returncode not in (-signal.SIGKILL, 128 + signal.SIGKILL):
                        failures.append(f"{what}: exit {r.returncode}: {r.stderr.strip()}")
                    committed += after != before
                    outcomes.append(f"{what}: killed {'after' if after != before else 'before'} HEAD")
                else:
                    try:
                        assert_clear_error(r, "Input/output error")
                    except AssertionError as e:
                        failures.append(f"{what}: {e}")
                    if after != before:
                        failures.append(f"{what}: the run failed (exit {r.returncode}) yet its record is committed")
                    outcomes.append(f"{what}: failed")
                ok, text = verified(project)
                if not ok:
                    left = sorted(snapshot(ev))
                    failures.append(f"{what}: verify fails: {text.strip()} (on disk: {left})")

    r = canary(project, *RUN)
    assert r.returncode == 0, r.stderr
    completed.update([recorded(r.stderr)])
    ok, text = verified(project)
    assert ok and "note" not in text, text
    check_log(ev, completed, len(completed) + committed)
    with capsys.disabled():
        print(f"\ncommit steps ({counts}):\n  " + "\n  ".join(outcomes))
    assert not failures, f"{len(failures)} commit steps broke the log:\n" + "\n".join(failures)


# --- Concurrent writers ----------------------------------------------------------------------


def test_concurrent_writers(tmp_path: Path):
    """Four `canary run` at once, several rounds: each exits 0 (the lock serializes them)
    or refuses clearly (exit 2); the log verifies and holds one record per success."""
    project = copy_sample(tmp_path / "p")
    ev = evidence(project)
    expected = reference(project)
    completed: dict[str, int] = {}
    refused = 0
    for _ in range(5):
        procs = [start_run(project) for _ in range(4)]
        for rc, out, err in [finish(p) for p in procs]:
            if rc == 0:
                run_id, seq = recorded(err)
                assert seq not in completed.values(), f"two runs report record {seq}"
                completed[run_id] = seq
                assert out == expected
            else:
                assert rc == 2 and err.startswith("error: ") and "panicked" not in err, f"exit {rc}: {err!r}"
                refused += 1
        ok, text = verified(project)
        assert ok, text
        assert head(ev)[0] == len(completed)
    assert completed, "every run was refused"
    ok, text = verified(project)
    assert "note" not in text, text
    check_log(ev, completed, len(completed))
    assert len(completed) + refused == 20


def test_concurrent_writers_one_killed(tmp_path: Path):
    """Four runs at once, one of them SIGKILLed at a random moment (before it holds the lock,
    while it holds it, or after): the others all succeed, the log verifies, and it holds the
    successes plus the killed run only when its HEAD was written."""
    project = copy_sample(tmp_path / "p")
    ev = evidence(project)
    expected = reference(project)
    rng = random.Random(SEED)
    t0 = time.monotonic()
    assert canary(project, *RUN).returncode == 0
    duration = time.monotonic() - t0
    completed: dict[str, int] = {}
    kills = 0
    for round_ in range(6):
        procs = [start_run(project) for _ in range(4)]
        victim = rng.randrange(4)
        time.sleep(rng.uniform(0, 4.4 * duration))
        if procs[victim].poll() is None:
            procs[victim].send_signal(signal.SIGKILL)
        for i, (rc, out, err) in enumerate(finish(p) for p in procs):
            if rc == 0:
                run_id, seq = recorded(err)
                completed[run_id] = seq
                assert out == expected
            elif i == victim and rc == -signal.SIGKILL:
                kills += 1
            else:
                pytest.fail(f"round {round_}: run {i} exited {rc} beside a killed run: {err!r}")
        ok, text = verified(project)
        assert ok, f"round {round_}: {text}"
    r = canary(project, *RUN)
    assert r.returncode == 0, r.stderr
    ok, text = verified(project)
    assert ok and "note" not in text, text
    records = json.loads((ev / "HEAD").read_text())["seq"]
    committed_by_killed = records - 2 - len(completed)
    assert 0 <= committed_by_killed <= kills, f"{records} records for {len(completed) + 2} successes"
    completed.update([recorded(r.stderr)])
    check_log(ev, completed, records)


def test_verify_while_runs_commit(tmp_path: Path):
    """`evidence verify` while runs commit (two writers, 24 runs): a reader sees the log
    before or after a commit, never a failure of a log that is fine."""
    project = copy_sample(tmp_path / "p")
    assert canary(project, *RUN).returncode == 0
    writers = [start_run(project) for _ in range(2)]
    started, verifies, reports = 2, 0, []
    while writers:
        for w in [w for w in writers if w.poll() is not None]:
            rc, _, err = finish(w)
            assert rc == 0, err
            writers.remove(w)
            if started < 24:
                writers.append(start_run(project))
                started += 1
        ok, text = verified(project)
        verifies += 1
        if not ok:
            reports.append(text.strip())
    ok, text = verified(project)
    assert ok and "note" not in text, text
    assert not reports, f"{len(reports)} of {verifies} verifies failed while runs committed:\n" + "\n".join(reports[:5])


# --- Private mount namespaces: a small disk, a read-only folder --------------------------------


@dataclass
class Namespace:
    """A private mount namespace held open by a sleeping process; commands enter it."""

    pid: int
    user: bool

    @property
    def prefix(self) -> list[str]:
        user = ["-U", "--preserve-credentials"] if self.user else []
        return ["nsenter", "-t", str(self.pid), *user, "-m"]

    def sh(self, script: str) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([*self.prefix, "sh", "-c", script], capture_output=True, text=True, check=False)
        assert r.returncode == 0, f"`{script}` in the namespace: {r.stderr}"
        return r

    def path(self, p: Path) -> Path:
        """`p` as the namespace sees it."""
        return Path(f"/proc/{self.pid}/root{p}")


@contextlib.contextmanager
def private_mounts(probe: Path) -> Iterator[Namespace]:
    """A mount namespace of our own: `unshare -rm` (user and mount namespaces, no root
    needed), else, as root, `unshare -m`. Fails, saying why, when neither works."""
    missing = [tool for tool in ("unshare", "nsenter", "mount") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"no private mount namespace here: {', '.join(missing)} (util-linux) not found")
    tried = []
    for user in (True, False):
        if not user and os.geteuid() != 0:
            tried.append("unshare -m: needs root")
            continue
        flag = "-rm" if user else "-m"
        holder = subprocess.Popen(
            ["unshare", flag, "sleep", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            for _ in range(500):
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{holder.pid}/comm").read_text().strip() == "sleep":
                        break
                if holder.poll() is not None:
                    break
                time.sleep(0.01)
            if holder.poll() is not None:
                tried.append(f"unshare {flag}: {holder.stderr.read().strip() if holder.stderr else ''}")
                continue
            ns = Namespace(holder.pid, user)
            probe.mkdir(parents=True, exist_ok=True)
            r = subprocess.run(
                [*ns.prefix, "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                capture_output=True,
                text=True,
                check=False,
            )
            if r.returncode != 0:
                tried.append(f"unshare {flag}, then mount -t tmpfs: {r.stderr.strip()}")
                continue
            yield ns
            return
        finally:
            holder.kill()
            holder.wait()
    pytest.fail("no private mount namespace for a small filesystem or a read-only folder here: " + "; ".join(tried))


PAGE = 4096


def test_full_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The project's .canary on a small tmpfs, filled up to leave 0, 1, 2, … pages free, so
    that each write of the run in turn is the one that does not fit: the run fails with a
    clear "No space left on device" and commits nothing, the log still verifies, and once
    space is freed the next run works."""
    project = copy_sample(tmp_path / "p")
    canary_dir = project / ".canary"
    canary_dir.mkdir()
    with private_mounts(tmp_path / "probe") as ns:
        ns.sh(f"mount -t tmpfs -o size=256k tmpfs '{canary_dir}'")
        ev = ns.path(evidence(project))
        filler = canary_dir / "filler"
        completed: dict[str, int] = {}
        failed, outcomes, failures = [], [], []
        for free in range(8):
            r = canary(project, *RUN, prefix=ns.prefix)
            assert r.returncode == 0, f"with space freed again: {r.stderr}"
            completed.update([recorded(r.stderr)])
            ok, text = verified(project, ns.prefix)
            assert ok and "note" not in text, text
            before = head(ev)
            # Fill the disk, then give back `free` pages.
            ns.sh(f"cat /dev/zero > '{filler}' 2>/dev/null; truncate -s -{free * PAGE} '{filler}'")
            r = canary(project, *RUN, prefix=ns.prefix)
            if r.returncode == 0:
                completed.update([recorded(r.stderr)])
                outcomes.append(f"{free} pages free: the run worked")
            else:
                failed.append(free)
                outcomes.append(f"{free} pages free: {r.stderr.strip()}")
                try:
                    assert_clear_error(r, "No space left on device")
                    assert head(ev) == before, "the run failed, yet HEAD moved"
                except AssertionError as e:
                    failures.append(f"{free} pages free: {e}")
            ok, text = verified(project, ns.prefix)
            if not ok:
                left = sorted(snapshot(ev))
                failures.append(
                    f"{free} pages free, {r.stderr.strip() or 'worked'}; verify: {text.strip()}; on disk: {left}"
                )
            ns.sh(f"rm '{filler}'")
        r = canary(project, *RUN, prefix=ns.prefix)
        assert r.returncode == 0, r.stderr
        completed.update([recorded(r.stderr)])
        ok, text = verified(project, ns.prefix)
        assert ok and "note" not in text, text
        check_log(ev, completed, len(completed))
    with capsys.disabled():
        print("\nfull disk:\n  " + "\n  ".join(outcomes))
    assert failed[:1] == [0], f"a full disk did not fail a run (failed with {failed} pages free)"
    assert not failures, f"{len(failures)} full disks broke the log:\n" + "\n".join(failures)


# --- Permission denied ----------------------------------------------------------------------


def drop_dac() -> list[str]:
    """A prefix that makes root obey file modes (without CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH); nothing for another user."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("as root, setpriv (util-linux) is needed to make a folder's mode deny a write")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


@pytest.mark.parametrize("folder", ["runs", "log", "."])
@pytest.mark.parametrize("how", ["mode", "read-only mount"])
def test_permission_denied(tmp_path: Path, how: str, folder: str):
    """A folder of the log the run may not write (mode 0555, or a read-only bind mount):
    a clear error, the log still verifies, and the next run after restoring works."""
    project = copy_sample(tmp_path / "p")
    ev = evidence(project)
    r = canary(project, *RUN)
    assert r.returncode == 0, r.stderr
    completed = dict([recorded(r.stderr)])
    target = (ev / folder).resolve()
    with contextlib.ExitStack() as stack:
        if how == "mode":
            prefix = drop_dac()
            target.chmod(0o555)
            stack.callback(target.chmod, 0o755)
            reasons: tuple[str, ...] = ("Permission denied",)
        else:
            ns = stack.enter_context(private_mounts(tmp_path / "probe"))
            ns.sh(f"mount --bind '{target}' '{target}' && mount -o remount,bind,ro '{target}'")
            if folder == ".":  # the folder itself only (where HEAD is), as with its mode
                for sub in ("log", "runs", "objects"):
                    ns.sh(
                        f"mount --bind '{target / sub}' '{target / sub}' && mount -o remount,bind,rw '{target / sub}'"
                    )
            prefix = ns.prefix
            reasons = ("Read-only file system", "Permission denied")
        r = canary(project, *RUN, prefix=prefix)
        assert_clear_error(r, *reasons)
        assert head(ev)[0] == 1, "the run failed, yet HEAD moved"
        ok, text = verified(project, prefix)
        assert ok, f"after a run refused to write {folder}/: {r.stderr}\n{text}"
    r = canary(project, *RUN)
    assert r.returncode == 0, r.stderr
    completed.update([recorded(r.stderr)])
    ok, text = verified(project)
    assert ok and "note" not in text, text
    check_log(ev, completed, 2)
