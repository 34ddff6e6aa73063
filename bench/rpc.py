"""Round trips over the Unix socket: ``daemon.status`` on octrad versus a bare
anyio echo server (the floor for any line protocol on this machine), both in
their own process, driven by the same raw client in the same run.

    .venv/bin/python bench/rpc.py [--seconds 3]

Prints p50/p99 latency and requests per second for 1 and 8 concurrent clients,
and the ratio octrad/echo (target: single client >= 60%).  Also times
``octractl status`` against ``python -c pass``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._daemon import percentile, running_daemon  # noqa: E402

REQUEST = b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}\n'


async def echo_server(path: str) -> None:
    listener = await anyio.create_unix_listener(path)

    async def handle(stream):
        buf = b""
        async with stream:
            while True:
                try:
                    data = await stream.receive(65536)
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    await stream.send(line + b"\n")

    await listener.serve(handle)


async def client_loop(path: str, until: float, lat: list[float]) -> int:
    n = 0
    async with await anyio.connect_unix(path) as s:
        buf = b""
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            await s.send(REQUEST)
            while b"\n" not in buf:
                buf += await s.receive(65536)
            _, buf = buf.split(b"\n", 1)
            lat.append(time.perf_counter() - t0)
            n += 1
    return n


async def measure(path: str, clients: int, seconds: float) -> dict:
    lat: list[float] = []
    until = time.perf_counter() + seconds
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(client_loop, path, until, lat)
    elapsed = time.perf_counter() - start
    return {"rps": len(lat) / elapsed, "p50": percentile(lat, 50) * 1e6, "p99": percentile(lat, 99) * 1e6}


def time_command(cmd: list[str], env: dict, runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--serve-echo", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_echo:
        anyio.run(echo_server, args.serve_echo)
        return

    with tempfile.TemporaryDirectory(prefix="octb-echo-") as tmp, running_daemon() as (sock, env):
        echo_path = str(Path(tmp) / "echo.sock")
        echo = subprocess.Popen([sys.executable, __file__, "--serve-echo", echo_path])
        try:
            while not Path(echo_path).exists():
                time.sleep(0.01)
            rows = []
            for clients in (1, 8):
                e = anyio.run(measure, echo_path, clients, args.seconds)
                d = anyio.run(measure, sock, clients, args.seconds)
                rows.append((clients, d, e))
        finally:
            echo.terminate()
            echo.wait()
        print(f"{'clients':>7}  {'octrad rps':>10} {'p50 us':>8} {'p99 us':>8}   {'echo rps':>9} {'p50 us':>8} {'p99 us':>8}   ratio")
        for clients, d, e in rows:
            print(f"{clients:>7}  {d['rps']:>10.0f} {d['p50']:>8.0f} {d['p99']:>8.0f}   {e['rps']:>9.0f} {e['p50']:>8.0f} {e['p99']:>8.0f}   {d['rps'] / e['rps']:.0%}")

        py = time_command([sys.executable, "-c", "pass"], env)
        ctl = time_command([sys.executable, "-m", "octractl", "status"], env)
        ctl_json = time_command([sys.executable, "-m", "octractl", "status", "--json"], env)
        print()
        print(f"python -c pass          {py * 1000:7.1f} ms")
        print(f"octractl status         {ctl * 1000:7.1f} ms   {ctl / py:.2f}x python -c pass (target <= 3x)")
        print(f"octractl status --json  {ctl_json * 1000:7.1f} ms   {ctl_json / py:.2f}x")


if __name__ == "__main__":
    main()
