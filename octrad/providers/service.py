"""``daemon.llm``: the one way the daemon asks an AI anything.

:meth:`LLMService.ask` resolves the provider and its credentials, checks the
budgets, waits for a slot under the shared limit, makes the call (retrying
transient failures), validates the answer against the caller's type (feeding
the validation error back to the model a bounded number of times), and
records every attempt: a row in ``llm_calls``, usage added to the agent, an
``llm.call`` event, and ``agent.log`` events for streamed text.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence, TypeVar

import anyio
import msgspec

from octra_protocol.errors import RpcError

from ..redact import redact, redact_obj
from ..store import Database
from .anthropic_messages import AnthropicMessages
from .budget import Budgets
from .gemini_generate import GeminiGenerate
from .ollama_chat import OllamaChat
from .openai_chat import OpenAIChat
from .parse import InvalidAnswer, correction, decode_answer
from .prices import cost_usd
from .registry import Registry
from .replay import Replayer
from .schema import SchemaError, answer_schema
from .transport import ClientPool, ProviderFailure, RetryPolicy, exchange
from .types import Answer, CallSite, Completion, CompletionRequest, Message, ProviderConfig, Usage

log = logging.getLogger(__name__)
T = TypeVar("T")

ADAPTERS = {a.kind: a for a in (OpenAIChat(), AnthropicMessages(), GeminiGenerate(), OllamaChat())}
#: answers tried per call (the first plus corrections after invalid answers)
MAX_ATTEMPTS = 3
#: streamed text is published in pieces of about this size (or this often)
LOG_CHUNK_CHARS = 400
LOG_CHUNK_SECONDS = 0.5


class Pong(msgspec.Struct):
    """The answer of ``providers.test``."""

    answer: str


class _LogChunker:
    """Streamed text to ``agent.log`` events: a few sizeable pieces, never one per token."""

    def __init__(self, bus: Any, site: CallSite, attempt: int):
        self.bus, self.site, self.attempt = bus, site, attempt
        self.buf: list[str] = []
        self.size = 0
        self.last = time.monotonic()

    async def add(self, text: str) -> None:
        self.buf.append(text)
        self.size += len(text)
        if self.size >= LOG_CHUNK_CHARS or time.monotonic() - self.last >= LOG_CHUNK_SECONDS:
            await self.flush()

    async def note(self, text: str) -> None:
        await self.flush()
        await self._publish(text, note=True)

    async def flush(self) -> None:
        if self.buf:
            text, self.buf, self.size = "".join(self.buf), [], 0
            await self._publish(text)
        self.last = time.monotonic()

    async def _publish(self, text: str, note: bool = False) -> None:
        data = {"source": "llm", "role": self.site.role, "step": self.site.step, "attempt": self.attempt, "text": text}
        if note:
            data["note"] = True
        await self.bus.publish("agent.log", data, task_id=self.site.task_id, agent_id=self.site.agent_id)


class LLMService:
    """See the module docstring; created as ``daemon.llm`` by ``octrad.api.providers``."""

    def __init__(
        self,
        db: Database,
        bus: Any,
        settings: Any,
        *,
        file_providers: dict[str, dict[str, Any]] | None = None,
        default_provider: str = "",
        policy: RetryPolicy | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        secrets: Any = None,
    ):
        self.db = db
        self.bus = bus
        self.settings = settings
        self.registry = Registry(db, file_providers or {}, default_provider, secrets)
        self.budgets = Budgets(db)
        self.replayer = Replayer(db)
        self.pool = ClientPool()
        self.policy = policy or RetryPolicy()
        self.max_attempts = max_attempts
        #: the shared limit on parallel calls (setting max_parallel_llm_calls)
        self.limit = anyio.CapacityLimiter(4)

    async def start(self) -> None:
        await self.registry.load()
        await self._sync_limit()
        self.pool.warm()

    async def aclose(self) -> None:
        await self.pool.aclose()

    def default_provider(self) -> str:
        return self.registry.default_name()

    async def _sync_limit(self) -> Any:
        s = await self.settings.get()
        if self.limit.total_tokens != s.max_parallel_llm_calls:
            self.limit.total_tokens = s.max_parallel_llm_calls
        return s

    # -- the call -----------------------------------------------------------
    async def ask(
        self,
        site: CallSite,
        messages: Sequence[Message | dict[str, Any]],
        answer_type: type[T],
        *,
        provider: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stream: bool = False,
    ) -> Answer[T]:
        settings = await self._sync_limit()
        name = provider or self.default_provider()
        if name == "offline":
            raise RpcError.of(
                "provider_error",
                "the offline provider is not an AI: it cannot answer prompts (the pipeline runs offline tasks itself)",
                provider="offline",
            )
        try:
            msgs = [m if isinstance(m, Message) else msgspec.convert(m, Message) for m in messages]
        except msgspec.ValidationError as exc:
            raise RpcError.of("invalid_params", f"bad message for the provider: {exc}") from None
        try:
            schema_name, schema = answer_schema(answer_type)
        except SchemaError as exc:
            raise RpcError.of("invalid_params", str(exc)) from None
        if name == "replay":
            cfg = ProviderConfig(name="replay", kind="replay", model=model or "")
        else:
            cfg = self.registry.resolve(name)
        req = CompletionRequest(
            messages=msgs,
            schema=schema,
            schema_name=schema_name,
            model=model or cfg.model,
            temperature=settings.temperature if temperature is None else temperature,
            max_tokens=max_tokens,
            stream=stream,
        )
        total = Usage()
        started = time.perf_counter()
        last_error = ""
        for attempt in range(1, self.max_attempts + 1):
            if cfg.kind != "replay":
                await self.budgets.reserve(site.task_id, site.meta, settings)
            completion, latency_ms = await self._complete(cfg, req, site, attempt)
            usage = Usage(
                completion.tokens_in,
                completion.tokens_out,
                0.0 if cfg.kind == "replay" else cost_usd(req.model, completion.tokens_in, completion.tokens_out, (cfg.price_in, cfg.price_out)),
            )
            total = Usage(total.tokens_in + usage.tokens_in, total.tokens_out + usage.tokens_out, total.cost_usd + usage.cost_usd)
            try:
                value = decode_answer(completion.text, answer_type, schema)
            except InvalidAnswer as exc:
                last_error = str(exc)
                await self._record(cfg, req, site, attempt, completion, usage, latency_ms, error=f"invalid answer: {last_error}")
                req = msgspec.structs.replace(
                    req,
                    messages=[*req.messages, Message("assistant", completion.text), Message("user", correction(last_error))],
                )
                continue
            await self._record(cfg, req, site, attempt, completion, usage, latency_ms, error=None)
            return Answer(
                value=value,
                text=completion.text,
                usage=total,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                model=completion.model or req.model,
                provider=cfg.name,
                attempts=attempt,
            )
        raise RpcError.of(
            "provider_error",
            redact(
                f"provider {cfg.name!r} (model {req.model}) gave no valid {schema_name} in {self.max_attempts} attempts; "
                f"last problem: {last_error}"
            ),
            provider=cfg.name, model=req.model, attempts=self.max_attempts,
        )

    async def _complete(self, cfg: ProviderConfig, req: CompletionRequest, site: CallSite, attempt: int) -> tuple[Completion, float]:
        """One answer (transport retries included), or a recorded failure raised as provider_error."""
        t0 = time.perf_counter()
        if cfg.kind == "replay":
            rec = await self.replayer.next(site, attempt)
            return Completion(text=rec.response or "", model=rec.model), round((time.perf_counter() - t0) * 1000, 3)
        chunker = _LogChunker(self.bus, site, attempt) if req.stream else None

        async def on_retry(failure: ProviderFailure, wait: float) -> None:
            if chunker is not None:
                await chunker.note(f"[{cfg.name}: {failure.message}; retrying in {wait:.1f}s]")

        failed: str | None = None
        try:
            async with self.limit:
                t0 = time.perf_counter()
                completion = await exchange(
                    self.pool, ADAPTERS[cfg.kind], cfg, req, policy=self.policy,
                    on_text=chunker.add if chunker is not None else None, on_retry=on_retry,
                )
            if chunker is not None:
                await chunker.flush()
            return completion, round((time.perf_counter() - t0) * 1000, 3)
        except ProviderFailure as exc:
            failed = redact(f"provider {cfg.name!r} ({cfg.kind}, model {req.model}): {exc.message}")
            raise RpcError.of("provider_error", failed, provider=cfg.name, model=req.model, status=exc.status) from None
        except anyio.get_cancelled_exc_class():
            failed = "cancelled"
            raise
        finally:
            if failed is not None:
                latency = round((time.perf_counter() - t0) * 1000, 3)
                await self._record(cfg, req, site, attempt, None, Usage(), latency, error=failed)

    async def _record(
        self, cfg: ProviderConfig, req: CompletionRequest, site: CallSite, attempt: int,
        completion: Completion | None, usage: Usage, latency_ms: float, *, error: str | None,
    ) -> None:
        """One attempt into llm_calls (and the agent's usage), then an llm.call event.

        Shielded: a call that was made is recorded even when the caller is
        cancelled meanwhile (usage and budgets stay true), and a write is
        never cut between BEGIN and COMMIT.
        """
        with anyio.CancelScope(shield=True):
            await self._record_now(cfg, req, site, attempt, completion, usage, latency_ms, error=error)

    async def _record_now(
        self, cfg: ProviderConfig, req: CompletionRequest, site: CallSite, attempt: int,
        completion: Completion | None, usage: Usage, latency_ms: float, *, error: str | None,
    ) -> None:
        if cfg.kind != "replay":
            self.budgets.settle(site.task_id, usage.tokens_in, usage.tokens_out, usage.cost_usd)
        model = (completion.model if completion and completion.model else None) or req.model
        request = {
            "provider": cfg.name, "kind": cfg.kind, "model": req.model, "temperature": req.temperature,
            "max_tokens": req.max_tokens, "stream": req.stream, "schema_name": req.schema_name,
            "messages": [{"role": m.role, "content": m.content} for m in req.messages],
        }
        now = time.time()
        err = redact(error) if error else None
        async with self.db.transaction() as w:
            await w.execute(
                "INSERT INTO llm_calls(task_id, agent_id, role, step, attempt, provider, model, request, response, "
                "tokens_in, tokens_out, cost_usd, latency_ms, error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    site.task_id, site.agent_id, site.role, site.step, attempt, cfg.name, model,
                    msgspec.json.encode(redact_obj(request)).decode(),
                    redact(completion.text) if completion is not None else None,
                    usage.tokens_in, usage.tokens_out, usage.cost_usd, latency_ms, err, now,
                ),
            )
            if site.agent_id:
                await w.execute(
                    "UPDATE agents SET calls = calls + 1, tokens_in = tokens_in + ?, tokens_out = tokens_out + ?, "
                    "cost_usd = cost_usd + ?, updated_at = ? WHERE id = ?",
                    (usage.tokens_in, usage.tokens_out, usage.cost_usd, now, site.agent_id),
                )
        data = {
            "role": site.role, "step": site.step, "provider": cfg.name, "model": model, "attempt": attempt,
            "tokens_in": usage.tokens_in, "tokens_out": usage.tokens_out, "tokens": usage.tokens_in + usage.tokens_out,
            "cost_usd": usage.cost_usd, "latency_ms": latency_ms, "ok": error is None,
        }
        if err:
            data["error"] = err
        await self.bus.publish("llm.call", data, task_id=site.task_id, agent_id=site.agent_id)

    # -- usage and the test call ----------------------------------------------
    async def task_usage(self, task_id: str) -> dict[str, Any]:
        """``{calls, tokens_in, tokens_out, cost_usd}`` of a task, for ``task.get``."""
        row = await self.db.fetchone(
            "SELECT COUNT(*), COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), COALESCE(SUM(cost_usd), 0) "
            "FROM llm_calls WHERE task_id = ?",
            (task_id,),
        )
        return {"calls": int(row[0]), "tokens_in": int(row[1]), "tokens_out": int(row[2]), "cost_usd": round(float(row[3]), 8)}

    async def test(self, name: str, model: str | None = None) -> dict[str, Any]:
        """One tiny structured call: is the provider reachable, with this key and model?"""
        cfg = self.registry.resolve(name)
        answer = await self.ask(
            CallSite(role="providers.test", step="test"),
            [
                Message("system", "You are a connectivity check. Answer with JSON only."),
                Message("user", 'Reply with the JSON object {"answer": "pong"}.'),
            ],
            Pong,
            provider=name,
            model=model,
            max_tokens=256,
        )
        return {
            "name": cfg.name, "kind": cfg.kind, "model": answer.model, "latency_ms": answer.latency_ms,
            "answer": answer.value.answer, "tokens_in": answer.usage.tokens_in, "tokens_out": answer.usage.tokens_out,
            "attempts": answer.attempts,
        }
