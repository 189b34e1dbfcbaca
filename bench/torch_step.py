"""Plain MLP optimizer step in PyTorch on CPU, the reference for bench/train-speed.ts.

Usage: python3 bench/torch_step.py --hidden 512 --depth 3 --batch 128 --steps 200 --threads 1
Prints one JSON line: {"ms_per_step": ..., "threads": ..., "torch": ...}.
With --serve it stays up: each line N on stdin runs N steps and answers one such JSON line,
so the caller can interleave PyTorch with its own measurements.
"""
import sys
import argparse
import json
import time

import torch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--inputs", type=int, default=784)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="0: torch default")
    p.add_argument("--serve", action="store_true", help="answer step counts read from stdin")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layers = []
    width = a.inputs
    for _ in range(a.depth):
        layers += [torch.nn.Linear(width, a.hidden), torch.nn.ReLU()]
        width = a.hidden
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, a.classes))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(a.batch, a.inputs)
    y = torch.randint(0, a.classes, (a.batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def measure(steps: int) -> None:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        ms = (time.perf_counter() - t0) * 1000 / steps
        print(json.dumps({"ms_per_step": ms, "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)

    for _ in range(a.warmup):
        step()
    if not a.serve:
        measure(a.steps)
        return
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            measure(max(1, int(line)))


if __name__ == "__main__":
    main()
