"""Time lstm_teach.fast against torch.nn.LSTM and the reference: forward plus backward.

    python benchmarks/run.py            # the table of issue 5, on 1 and then 2 threads (~2 min)
    python benchmarks/run.py --save     # the same, and write it into benchmarks/RESULTS.md
    python benchmarks/run.py --repeats 5 --rounds 1 --threads 1

Every implementation runs in its own subprocess, with the BLAS and OpenMP thread counts fixed
through the environment before numpy or torch is imported: in one process, numpy's OpenBLAS
and torch's OpenMP pools compete for the same cores and distort both timings. Each case is
warmed up twice, then timed `repeats` times (at least 5) and the median taken; every worker
runs `rounds` times in alternating order and the best median is kept, so that a burst of
other work on a shared machine does not decide a ratio. Ratios are taken between
subprocesses of the same run, on the same machine, minutes apart at most.

What is timed is one training step's LSTM work: hs = forward(xs) and the gradients of all
weights for a given dE/dhs. lstm_backward also returns dE/dxs, one more product
dZ (T B, 4H) @ wx (4H, I); torch is given inputs without requires_grad, so it skips that
product, and the table's ratios are slightly unfair to fast (the "extras" table measures the
product alone). Flops counted: 2 T B 4H (2I + 3H) ("flops done", without the input
gradient) and the issue's 3 x 2 T B (I+H) 4H (with it); both are printed.

    python benchmarks/run.py --extras   # dxs and dhT/dcT costs; stacks and the GRU vs torch
"""

import argparse
import ctypes
import json
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHAPES = [(100, 32, 64, 128), (100, 64, 256, 256)]
SMALL = (50, 1, 32, 64)
THROUGHPUT_SHAPE = (100, 64, 256, 256)
RATIO_TARGET = {"float32": 1.0, "float64": 0.65}
THROUGHPUT_TARGET = 0.85
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# ----------------------------------------------------------------- worker side (subprocess)

def _median_time(fn, repeats: int) -> float:
    fn()
    fn()  # warm-up: first-touch memory, BLAS buffers, torch's kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _numpy_case(impl: str, T, B, I, H, dtype: str, repeats: int) -> float:
    import numpy as np

    import lstm_teach as lt
    module = lt.fast if impl == "fast" else lt.sequence
    rng = np.random.default_rng(0)
    p = lt.init_params(I, H, seed=0, dtype=dtype)
    xs = rng.standard_normal((T, B, I)).astype(dtype)
    dhs = rng.standard_normal((T, B, H)).astype(dtype)

    def step():
        _, cache = module.lstm_forward(xs, p)
        module.lstm_backward(dhs, cache)

    return _median_time(step, repeats)


def _torch_case(T, B, I, H, dtype: str, repeats: int) -> float:
    import torch

    torch_dtype = getattr(torch, dtype)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(I, H).to(torch_dtype)
    xs = torch.randn(T, B, I, dtype=torch_dtype)  # no requires_grad: no input gradient
    dhs = torch.randn(T, B, H, dtype=torch_dtype)

    def step():
        lstm.zero_grad(set_to_none=True)
        hs, _ = lstm(xs)
        hs.backward(dhs)

    return _median_time(step, repeats)


EXTRA_SHAPE = (100, 32, 64, 128)
STACKS = [(2, False), (1, True)]  # (num_layers, bidirectional)


def _extras_numpy(repeats: int) -> dict:
    """fast's cost of dxs and of dhT/dcT; fast stacks; the (reference) GRU; in seconds."""
    out = {}
    for dtype in ("float32", "float64"):
        out.update(_extras_numpy_dtype(dtype, repeats))
    return out


def _extras_numpy_dtype(dtype: str, repeats: int) -> dict:
    import numpy as np

    import lstm_teach as lt
    T, B, I, H = EXTRA_SHAPE
    rng = np.random.default_rng(0)
    out = {}
    p = lt.init_params(I, H, dtype=dtype)
    xs = rng.standard_normal((T, B, I)).astype(dtype)
    dhs = rng.standard_normal((T, B, H)).astype(dtype)
    dhT = rng.standard_normal((B, H)).astype(dtype)
    _, cache = lt.fast.lstm_forward(xs, p)
    dz = rng.standard_normal((T * B, 4 * H)).astype(dtype)
    out[f"backward {dtype}"] = _median_time(lambda: lt.fast.lstm_backward(dhs, cache), repeats)
    out[f"backward dhT dcT {dtype}"] = _median_time(
        lambda: lt.fast.lstm_backward(dhs, cache, dhT=dhT, dcT=dhT), repeats)
    out[f"dxs product {dtype}"] = _median_time(lambda: dz @ cache.wx, repeats)
    for L, bi in STACKS:
        layers = lt.init_stack(I, H, L, bi, dtype=dtype)
        d = rng.standard_normal((T, B, (2 if bi else 1) * H)).astype(dtype)

        def step(layers=layers, d=d):
            _, c = lt.stack_forward(xs, layers, backend=lt.fast)
            lt.stack_backward(d, c)

        out[f"stack L{L} bi{int(bi)} {dtype}"] = _median_time(step, repeats)
    g = lt.gru.init_gru_params(I, H, dtype=dtype)

    def gru_step():
        _, c = lt.gru.gru_forward(xs, g)
        lt.gru.gru_backward(dhs, c)

    out[f"gru {dtype}"] = _median_time(gru_step, repeats)
    return out


def _extras_torch(repeats: int) -> dict:
    out = {}
    for dtype in ("float32", "float64"):
        out.update(_extras_torch_dtype(dtype, repeats))
    return out


def _extras_torch_dtype(dtype: str, repeats: int) -> dict:
    import torch

    T, B, I, H = EXTRA_SHAPE
    out = {}
    tdt = getattr(torch, dtype)
    torch.manual_seed(0)
    xs = torch.randn(T, B, I, dtype=tdt)
    modules = {f"stack L{L} bi{int(bi)} {dtype}": torch.nn.LSTM(I, H, L, bidirectional=bi)
               for L, bi in STACKS}
    modules[f"gru {dtype}"] = torch.nn.GRU(I, H)
    modules[f"lstm {dtype}"] = torch.nn.LSTM(I, H)
    for name, module in modules.items():
        module = module.to(tdt)
        width = 2 * H if getattr(module, "bidirectional", False) else H
        d = torch.randn(T, B, width, dtype=tdt)

        def step(module=module, d=d):
            module.zero_grad(set_to_none=True)
            hs, _ = module(xs)
            hs.backward(d)

        out[name] = _median_time(step, repeats)
    xg = xs.clone().requires_grad_(True)  # the same LSTM, now with the input gradient
    lstm = modules[f"lstm {dtype}"].to(tdt)

    def with_dx():
        lstm.zero_grad(set_to_none=True)
        xg.grad = None
        hs, _ = lstm(xg)
        hs.backward(torch.ones_like(hs))

    out[f"lstm with dx {dtype}"] = _median_time(with_dx, repeats)
    return out


def extras_table(threads: int, repeats: int) -> list:
    numpy_side = run_worker("extras-numpy", threads, repeats)["extras"]
    torch_side = run_worker("extras-torch", threads, repeats)["extras"]
    T, B, I, H = EXTRA_SHAPE
    lines = [f"### dxs, dhT/dcT, stacks and the GRU ({threads} thread{'s' * (threads > 1)}, "
             f"(T, B, I, H) = {EXTRA_SHAPE})", "",
             "| what | dtype | lstm_teach ms | torch ms | ratio |", "|---|---|---:|---:|---:|"]
    for dtype in ("float32", "float64"):
        bwd, prod = numpy_side[f"backward {dtype}"], numpy_side[f"dxs product {dtype}"]
        lines.append(f"| fast backward (with dxs) | {dtype} | {bwd * 1e3:.2f} | | |")
        lines.append(f"| of which the dxs product dZ @ wx alone | {dtype} | {prod * 1e3:.2f} | | "
                     f"{100 * prod / bwd:.0f} % of the backward |")
        with_final = numpy_side[f"backward dhT dcT {dtype}"]
        lines.append(f"| fast backward with dhT, dcT given | {dtype} | {with_final * 1e3:.2f} | "
                     f"| {with_final / bwd:.2f} x without |")
        t_lstm, t_dx = torch_side[f"lstm {dtype}"], torch_side[f"lstm with dx {dtype}"]
        lines.append(f"| torch.nn.LSTM fwd + bwd, without / with the input gradient | {dtype} "
                     f"| | {t_lstm * 1e3:.2f} / {t_dx * 1e3:.2f} | {t_dx / t_lstm:.2f} x |")
        for L, bi in STACKS:
            key = f"stack L{L} bi{int(bi)} {dtype}"
            a, b = numpy_side[key], torch_side[key]
            lines.append(f"| stack, {L} layer(s){', bidirectional' if bi else ''}, fast backend "
                         f"| {dtype} | {a * 1e3:.1f} | {b * 1e3:.1f} | {a / b:.2f} |")
        a, b = numpy_side[f"gru {dtype}"], torch_side[f"gru {dtype}"]
        lines.append(f"| GRU (lstm_teach.gru: the reference, there is no fast GRU) | {dtype} | "
                     f"{a * 1e3:.1f} | {b * 1e3:.1f} | {a / b:.2f} |")
    return lines + [""]


def _matmul_case(dtype: str, repeats: int) -> float:
    """numpy's best matrix-product throughput (flop/s) over a few large shapes."""
    import numpy as np

    rng = np.random.default_rng(0)
    best = 0.0
    # (T B, I+H) @ (I+H, 4H): the shape of the LSTM's big products; and a square one.
    for m, k, n in ((6400, 512, 1024), (2048, 2048, 2048)):
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        best = max(best, 2 * m * k * n / _median_time(lambda a=a, b=b: a @ b, repeats))
    return best


def _blas_threads_reported() -> str:
    """The thread count numpy's OpenBLAS reports about itself, read through ctypes."""
    try:
        maps = pathlib.Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown"
    libs = sorted({line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()
                   and line.split()[-1].startswith("/")})
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(lib, name):
                return str(getattr(lib, name)())
    return "unknown"


def worker(impl: str, threads: int, repeats: int) -> None:
    sys.path.insert(0, str(ROOT))
    results = []
    if impl.startswith("extras"):
        if impl == "extras-torch":
            import torch

            torch.set_num_threads(threads)
            print(json.dumps({"extras": _extras_torch(repeats), "results": []}))
        else:
            print(json.dumps({"extras": _extras_numpy(repeats), "results": []}))
        return
    if impl == "torch":
        import torch

        torch.set_num_threads(threads)
        info = {"torch_threads": torch.get_num_threads()}
        for shape in SHAPES + [SMALL]:
            for dtype in ("float32", "float64"):
                results.append([shape, dtype, _torch_case(*shape, dtype, repeats)])
    elif impl == "matmul":
        import numpy  # noqa: F401  (loads OpenBLAS, so that its thread count can be read)

        info = {"blas_threads": _blas_threads_reported()}
        for dtype in ("float32", "float64"):
            results.append([None, dtype, _matmul_case(dtype, repeats)])
    else:
        import numpy  # noqa: F401

        info = {"blas_threads": _blas_threads_reported()}
        shapes = SHAPES + [SMALL] if impl == "fast" else [SMALL]  # the reference is slow
        for shape in shapes:
            for dtype in ("float32", "float64"):
                results.append([shape, dtype, _numpy_case(impl, *shape, dtype, repeats)])
    print(json.dumps({"info": info, "results": results}))


# ----------------------------------------------------------------- parent side

def run_worker(impl: str, threads: int, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for var in THREAD_VARS:
        env[var] = str(threads)
    out = subprocess.run(
        [sys.executable, __file__, "--worker", impl, "--threads", str(threads),
         "--repeats", str(repeats)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    data["times"] = {(tuple(s) if s else None, d): t for s, d, t in data["results"]}
    return data


def flops_done(T, B, I, H) -> int:
    """Forward (x and h products), dW_x, dW_h and dh_(t-1): no input gradient."""
    return 2 * T * B * 4 * H * (2 * I + 3 * H)


def flops_issue(T, B, I, H) -> int:
    """The count the issue names: 3 x 2 T B (I+H) 4H (forward, weight and input gradients)."""
    return 3 * 2 * T * B * (I + H) * 4 * H


def machine_lines() -> list:
    import numpy as np

    cpu = platform.processor() or "unknown"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas.get('name')} {blas.get('version')}"
        openblas_config = np.show_config(mode="dicts")["Build Dependencies"]["blas"].get(
            "openblas configuration", "")
        if openblas_config:
            blas += f" ({' '.join(openblas_config.split())})"
    except Exception:  # numpy < 1.25 has no mode="dicts"
        blas = "unknown"
    try:
        torch_info = subprocess.run(
            [sys.executable, "-c", "import torch; print(torch.__version__); "
             "print(torch.__config__.show())"], capture_output=True, text=True, check=True,
            env=dict(os.environ, OMP_NUM_THREADS="1")).stdout
        version = torch_info.splitlines()[0]
        kinds = re.findall(r"BLAS_INFO=(\w+)", torch_info)
        dnn = re.search(r"(oneDNN|MKL-DNN) v([\d.]+)", torch_info)
        torch_line = (f"torch {version}, BLAS {kinds[0] if kinds else '?'}"
                      + (f", {dnn.group(1)} {dnn.group(2)}" if dnn else ""))
    except Exception as exc:
        torch_line = f"torch not available ({type(exc).__name__})"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [
        f"machine: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}; load average before the run {load} (other work on the cores "
        "slows the 2-thread rows most)",
        f"python {platform.python_version()}, numpy {np.__version__}, BLAS {blas}",
        torch_line,
    ]


def run_rounds(threads: int, repeats: int, rounds: int) -> dict:
    """Each worker `rounds` times, in alternating order; per case the best round is kept.

    The machine may be shared: a burst of other work during one round slows whatever runs
    then. A round's figure is already a median; keeping the lowest median time (the highest
    throughput) of the rounds drops a disturbed round without mixing in lucky single runs.
    """
    impls = ["fast", "torch", "reference", "matmul"]
    best = {}
    for r in range(rounds):
        for impl in impls if r % 2 == 0 else impls[::-1]:
            data = run_worker(impl, threads, repeats)
            if impl not in best:
                best[impl] = data
                continue
            keep = max if impl == "matmul" else min  # matmul reports flop/s, the others s
            for key, value in data["times"].items():
                best[impl]["times"][key] = keep(best[impl]["times"][key], value)
    return best


def table(threads: int, repeats: int, rounds: int) -> list:
    runs = run_rounds(threads, repeats, rounds)
    fast, torch, ref, mm = (runs[k] for k in ("fast", "torch", "reference", "matmul"))
    lines = [
        f"### {threads} thread{'s' if threads > 1 else ''}",
        "",
        f"{', '.join(f'{v}={threads}' for v in THREAD_VARS)}; torch.set_num_threads({threads}) "
        f"(torch reports {torch['info']['torch_threads']}); numpy's OpenBLAS reports "
        f"{fast['info']['blas_threads']} thread(s). Median of {repeats} runs after 2 warm-ups, "
        f"best of {rounds} rounds.",
        "",
        "| T, B, I, H | dtype | fast ms | torch ms | fast / torch | target | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for shape in SHAPES:
        for dtype in ("float32", "float64"):
            tf, tt = fast["times"][shape, dtype], torch["times"][shape, dtype]
            ratio, target = tf / tt, RATIO_TARGET[dtype]
            lines.append(f"| {shape} | {dtype} | {tf * 1e3:.1f} | {tt * 1e3:.1f} | "
                         f"{ratio:.2f} | <= {target} | {'yes' if ratio <= target else 'NO'} |")
    lines += ["", "| T, B, I, H | dtype | fast ms | reference ms | torch ms | fast / reference "
              "| target | met |", "|---|---|---:|---:|---:|---:|---|---|"]
    for dtype in ("float32", "float64"):
        tf, tr = fast["times"][SMALL, dtype], ref["times"][SMALL, dtype]
        tt = torch["times"][SMALL, dtype]
        lines.append(f"| {SMALL} | {dtype} | {tf * 1e3:.2f} | {tr * 1e3:.2f} | {tt * 1e3:.2f} | "
                     f"{tf / tr:.2f} | <= 1.0 | {'yes' if tf <= tr else 'NO'} |")
    shape = THROUGHPUT_SHAPE
    tf = fast["times"][shape, "float32"]
    peak = mm["times"][None, "float32"]
    issue_rate, done_rate = flops_issue(*shape) / tf, flops_done(*shape) / tf
    torch_rate = flops_done(*shape) / torch["times"][shape, "float32"]
    peak64, torch64 = mm["times"][None, "float64"], torch["times"][shape, "float64"]
    floor64 = flops_done(*shape) / peak64
    lines += [
        "",
        "| float32 throughput at (100, 64, 256, 256) | GFLOP/s | of numpy's matmul peak | target |",
        "|---|---:|---:|---|",
        f"| numpy matrix product (best of two large shapes) | {peak / 1e9:.1f} | 100 % | |",
        f"| fast, issue's count 3 x 2TB(I+H)4H | {issue_rate / 1e9:.1f} | "
        f"{100 * issue_rate / peak:.0f} % | >= {100 * THROUGHPUT_TARGET:.0f} % "
        f"({'met' if issue_rate >= THROUGHPUT_TARGET * peak else 'NOT met'}) |",
        f"| fast, flops done 2TB4H(2I+3H) | {done_rate / 1e9:.1f} | "
        f"{100 * done_rate / peak:.0f} % | (for comparison) |",
        f"| torch.nn.LSTM, flops done | {torch_rate / 1e9:.1f} | "
        f"{100 * torch_rate / peak:.0f} % | |",
        f"| BLAS floor: flops done at numpy's peak | {peak / 1e9:.1f} | "
        f"{flops_done(*shape) / peak * 1e3:.0f} ms | |",
        "",
        f"float64 matrix-product peak: {peak64 / 1e9:.1f} GFLOP/s; BLAS floor at {shape} float64: "
        f"{floor64 * 1e3:.0f} ms against torch's {torch64 * 1e3:.0f} ms "
        f"(ratio {floor64 / torch64:.2f}"
        " if every product ran at peak and the element-wise work took no time).",
        "",
    ]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of every worker, alternating; the best median is kept")
    parser.add_argument("--save", action="store_true",
                        help="also write the table into benchmarks/RESULTS.md")
    parser.add_argument("--extras", action="store_true",
                        help="time dxs, dhT/dcT, stacks and the GRU instead (with --save: "
                             "written between the extras markers of RESULTS.md)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 5:
        parser.error("--repeats must be at least 5")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.worker:
        worker(args.worker, args.threads[0], args.repeats)
        return 0
    if args.extras:
        lines = []
        for threads in args.threads:
            lines += extras_table(threads, args.repeats)
        print("\n".join(lines))
        if args.save:
            save(lines, "extras")
        return 0
    lines = ["## lstm_teach.fast against torch.nn.LSTM: forward + backward", ""]
    lines += [f"- {line}" for line in machine_lines()] + [""]
    print("\n".join(lines), flush=True)
    for threads in args.threads:
        block = table(threads, args.repeats, args.rounds)
        print("\n".join(block), flush=True)
        lines += block
    if args.save:
        save(lines)
    return 0


def save(lines: list, marker: str = "table") -> None:
    """Put the table between the markers of benchmarks/RESULTS.md, keeping the notes around it."""
    path = ROOT / "benchmarks" / "RESULTS.md"
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{start}\n{end}\n"
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    path.write_text(before + start + "\n" + "\n".join(lines) + "\n" + end + after)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
