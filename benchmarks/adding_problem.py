"""The adding problem (Hochreiter & Schmidhuber 1997) at T = 100: a trained LSTM solves it,
a vanilla RNN with the same fair start does not. Prints the time and the result of each.

    python benchmarks/adding_problem.py                  # T = 100, LSTM and RNN, seed 0
    python benchmarks/adding_problem.py --T 50 --seeds 0 1 2 --models lstm

One BLAS thread (set through the environment before numpy is imported), so the time is that
of one core; both the wall time and the process's CPU time are printed, since a busy
shared machine stretches the first but not the second. The result is the mean squared
error on 1000 fresh sequences (train.adding_mse); always predicting the mean sum scores
2/12 ~ 0.167.
"""

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402

from lstm_teach import train  # noqa: E402

BASELINE = 2 / 12  # Var(u1 + u2) for u1, u2 ~ U(0, 1): the MSE of always predicting 1


def run(model: str, T: int, steps: int, hidden_size: int, seed: int) -> dict:
    cpu, wall = time.process_time(), time.perf_counter()
    result = train.train_adding(model, T=T, steps=steps, hidden_size=hidden_size, seed=seed,
                                progress=False)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    mse = train.adding_mse(result.params, T)
    return {"model": model, "T": T, "seed": seed, "steps": steps, "mse": mse,
            "cpu": cpu, "wall": wall}


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=100, help="sequence length (default 100)")
    parser.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--hidden", type=int, default=16, help="hidden units (default 16)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="+", default=["lstm", "rnn"], choices=["lstm", "rnn"])
    args = parser.parse_args(argv)
    print(f"adding problem, T = {args.T}, {args.steps} steps of 32 sequences, H = {args.hidden},"
          f" Adam(0.02), clipping at 1, float32, 1 BLAS thread; load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"always predicting the mean: MSE {BASELINE:.3f}")
    rows = []
    for model in args.models:
        for seed in args.seeds:
            row = run(model, args.T, args.steps, args.hidden, seed)
            rows.append(row)
            verdict = "solved" if row["mse"] < BASELINE / 10 else "not solved"
            print(f"{model:>4}  seed {seed}: test MSE {row['mse']:.4f} ({verdict}); "
                  f"{row['cpu']:.1f} s CPU, {row['wall']:.1f} s wall", flush=True)
    return rows


if __name__ == "__main__":
    main()
