"""The provider layer's own cost per call: time through ``LLMService.ask``
(provider resolution, budgets, the shared limit, schema shaping, HTTP,
validation, the llm_calls row, the agent's usage, the llm.call event) minus
the fake server's own response time, measured the same way in the same run
with a bare httpx client sending the same request.

    .venv/bin/python bench/providers.py [--calls 300] [--kind openai] [--stream]

Target: added latency under 2 ms at p50.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import httpx  # noqa: E402
import msgspec  # noqa: E402

from octrad.events import EventBus  # noqa: E402
from octrad.providers import CallSite, Message  # noqa: E402
from octrad.providers.service import ADAPTERS, LLMService  # noqa: E402
from octrad.providers.types import CompletionRequest  # noqa: E402
from octrad.providers.schema import answer_schema  # noqa: E402
from octrad.secretstore import SecretStore  # noqa: E402
from octrad.settings import SettingsStore  # noqa: E402
from octrad.store import Database  # noqa: E402
from tests.fakes.providers import FakeProvider, Reply  # noqa: E402


class File(msgspec.Struct):
    path: str
    content: str


class WorkerAnswer(msgspec.Struct):
    files: list[File]
    commands: list[str] = []
    done: bool = False


ANSWER = {"files": [{"path": f"src/m{i}.py", "content": "print('hello')\n" * 20} for i in range(5)], "commands": ["pytest"], "done": True}
MESSAGES = [Message("system", "Rules: JSON only. " * 20), Message("user", "Write the module. " * 50)]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def main(calls: int, kind: str, stream: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="octra-bench-"))
    db = Database(tmp / "octra.db")
    await db.open()
    bus = EventBus(db)
    await bus.start()
    fake = FakeProvider()
    fake.responder = lambda req: Reply.json(ANSWER, piece=64)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(bus.run_writer)
            llm = LLMService(db, bus, SettingsStore(db, {}), secrets=await SecretStore.open(tmp))
            await llm.start()
            cfg = await llm.registry.set("bench", kind, "gpt-4o-mini", fake.base_url(kind), "sk-bench-key-000000")
            name, schema = answer_schema(WorkerAnswer)
            req = CompletionRequest(messages=MESSAGES, schema=schema, schema_name=name, model=cfg.model, temperature=0.2, max_tokens=1024, stream=stream)
            http = ADAPTERS[kind].build(cfg, req)
            now = time.time()
            await db.execute("INSERT INTO projects(id, name, path, created_at, updated_at) VALUES ('p','p','/tmp/p',?,?)", (now, now))
            await db.execute("INSERT INTO tasks(id, project_id, description, status, created_at, updated_at) VALUES ('t','p','d','building',?,?)", (now, now))
            await db.execute("INSERT INTO agents(id, task_id, kind, role, status, created_at, updated_at) VALUES ('a','t','worker','w','running',?,?)", (now, now))
            site = CallSite(task_id="t", agent_id="a", role="worker", step="bench")

            async with httpx.AsyncClient() as bare:

                async def baseline() -> float:
                    t0 = time.perf_counter()
                    if stream:
                        async with bare.stream("POST", http.url, headers=http.headers, json=http.body) as resp:
                            async for _ in resp.aiter_lines():
                                pass
                    else:
                        resp = await bare.post(http.url, headers=http.headers, json=http.body)
                        msgspec.json.decode(resp.content)
                    return (time.perf_counter() - t0) * 1000

                async def layered() -> float:
                    t0 = time.perf_counter()
                    await llm.ask(site, MESSAGES, WorkerAnswer, provider="bench", stream=stream)
                    return (time.perf_counter() - t0) * 1000

                for _ in range(20):  # warm up both paths (connections, caches)
                    await baseline()
                    await layered()
                base, layer = [], []
                for i in range(calls):
                    # interleaved, alternating order: both see the same machine
                    if i % 2:
                        base.append(await baseline())
                        layer.append(await layered())
                    else:
                        layer.append(await layered())
                        base.append(await baseline())
            added = [a - b for a, b in zip(layer, base)]
            await llm.aclose()
            await bus.close()
    finally:
        fake.close()
        await db.close()

    print(f"provider layer, {calls} calls, kind {kind}, {'streaming' if stream else 'JSON'}; answer {len(msgspec.json.encode(ANSWER))} bytes")
    print(f"{'':28}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    print(f"{'baseline (bare httpx)':28}{pct(base, 50):10.3f}{pct(base, 99):10.3f}{statistics.mean(base):10.3f}")
    print(f"{'through daemon.llm.ask':28}{pct(layer, 50):10.3f}{pct(layer, 99):10.3f}{statistics.mean(layer):10.3f}")
    print(f"{'added by the layer':28}{pct(layer, 50) - pct(base, 50):10.3f}{pct(layer, 99) - pct(base, 99):10.3f}{statistics.mean(added):10.3f}")
    print(f"{'added, per-pair':28}{pct(added, 50):10.3f}{pct(added, 99):10.3f}")
    print(f"target: added p50 < 2 ms -> {'met' if pct(added, 50) < 2 else 'NOT met'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--kind", default="openai", choices=sorted(ADAPTERS))
    ap.add_argument("--stream", action="store_true")
    a = ap.parse_args()
    anyio.run(main, a.calls, a.kind, a.stream)
