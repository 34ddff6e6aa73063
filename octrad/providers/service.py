"""``daemon.llm``: the one way the daemon asks an AI anything.

:meth:`LLMService.ask` resolves the provider, its credentials and the model's
quirks (:mod:`.models`), reserves the call's estimate against the budgets,
waits for a slot under the shared limit, makes the call (streamed where the
provider can, retrying transient failures), and validates the answer against
the caller's type.  What goes wrong is handled here, once for every kind:

- an invalid answer is retried with the error and a bounded excerpt of it
  (``MAX_ATTEMPTS`` in all), never with a growing conversation;
- an answer cut at the output limit is retried once with a larger limit (up
  to the model's), then fails naming the step, model and limit;
- an answer over the size cap is retried like an invalid one;
- a server that refuses the structured-output request steps down
  (json_schema strict -> not strict -> json_object -> schema in the prompt),
  and what worked is remembered per provider and model;
- a prompt too long for the model's context fails at once, naming the sizes;
- the whole step is bounded in time (``step_timeout_s``).

Every exchange is recorded: a row in ``llm_calls`` (tokens of failed and
cancelled exchanges too, where known), usage added to the agent, an
``llm.call`` event, and ``agent.log`` progress (text so far, retries and why).
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
from .budget import Budgets, Reservation
from .gemini_generate import GeminiGenerate
from .models import STRUCTURED_MODES, ModelSpec, cost_usd, estimate_tokens, spec_for
from .ollama_chat import OllamaChat
from .openai_chat import OpenAIChat
from .parse import InvalidAnswer, correction, decode_answer, excerpt, storable
from .registry import Registry
from .replay import Replayer
from .schema import SchemaError, answer_schema
from .transport import ClientPool, ProviderFailure, Progress, RetryPolicy, exchange
from .types import KINDS, Answer, CallSite, Completion, CompletionRequest, Message, ProviderConfig, Usage

log = logging.getLogger(__name__)
T = TypeVar("T")

ADAPTERS = {a.kind: a for a in (OpenAIChat(), AnthropicMessages(), GeminiGenerate(), OllamaChat())}
#: invalid answers tolerated per call (the first plus corrections)
MAX_ATTEMPTS = 3
#: one step (every attempt and retry of one ask) is bounded by this unless configured
STEP_TIMEOUT_S = 1200.0
#: streamed text is published in pieces of about this size (or this often)
LOG_CHUNK_CHARS = 400
LOG_CHUNK_SECONDS = 0.5
#: when the caller did not ask to see the text, only progress is published, this often
PROGRESS_SECONDS = 2.0
#: ollama: context sizes are asked for in steps of this many tokens
NUM_CTX_STEP = 2048


class _LogChunker:
    """Streamed text to ``agent.log`` events, each saying how many tokens the answer
    has so far: with ``publish_text`` a few sizeable pieces of the text (never one per
    token), else only a progress line every :data:`PROGRESS_SECONDS`."""

    def __init__(self, bus: Any, site: CallSite, attempt: int, publish_text: bool):
        self.bus, self.site, self.attempt = bus, site, attempt
        self.publish_text = publish_text
        self.buf: list[str] = []
        self.size = 0
        self.chars = 0
        self.last = time.monotonic()

    async def add(self, text: str) -> None:
        self.chars += len(text)
        if not self.publish_text:
            if time.monotonic() - self.last >= PROGRESS_SECONDS:
                self.last = time.monotonic()
                await self._publish(f"[receiving the answer: about {self._tokens()} tokens so far]", progress=True)
            return
        self.buf.append(text)
        self.size += len(text)
        if self.size >= LOG_CHUNK_CHARS or time.monotonic() - self.last >= LOG_CHUNK_SECONDS:
            await self.flush()

    def _tokens(self) -> int:
        return self.chars // 3 + 1 if self.chars else 0

    async def note(self, text: str, **data: Any) -> None:
        await self.flush()
        await self._publish(text, note=True, **data)

    async def flush(self) -> None:
        if self.buf:
            text, self.buf, self.size = "".join(self.buf), [], 0
            if self.publish_text:
                await self._publish(text)
        self.last = time.monotonic()

    async def _publish(self, text: str, note: bool = False, **extra: Any) -> None:
        data = {
            "source": "llm", "role": self.site.role, "step": self.site.step, "attempt": self.attempt, "text": text,
            "tokens_so_far": self._tokens(), **extra,
        }
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
        #: (provider, model) -> the structured-output mode a server was found to accept
        self.modes: dict[tuple[str, str], str] = {}

    async def start(self) -> None:
        await self.registry.load()
        rows = await self.db.fetchall("SELECT provider, model, mode FROM structured_modes")
        self.modes = {(r["provider"], r["model"]): r["mode"] for r in rows if r["mode"] in STRUCTURED_MODES}
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
    def prepare(
        self, cfg: ProviderConfig, msgs: list[Message], answer_type: Any, *, model: str | None,
        temperature: float, max_tokens: int | None, stream: bool | None,
    ) -> tuple[CompletionRequest, ModelSpec]:
        """The request as it will be sent first, and the model's spec."""
        try:
            schema_name, schema = answer_schema(answer_type)
        except SchemaError as exc:
            raise RpcError.of("invalid_params", str(exc)) from None
        name = model or cfg.model
        spec = spec_for(name, cfg.overrides, cfg.models) if cfg.kind != "replay" else ModelSpec()
        if spec.temperature_rule == "any":
            temp: float | None = min(max(temperature, 0.0), spec.temperature_max)
        else:
            temp = None  # the model takes only its default, or none at all
        out = min(max_tokens or spec.default_output_tokens, spec.max_output_tokens)
        # the provider's own setting wins; else what its server was found to accept (kept in the database)
        mode = cfg.structured or self.modes.get((cfg.name, name)) or spec.structured
        req = CompletionRequest(
            messages=msgs, schema=schema, schema_name=schema_name, model=name, temperature=temp, max_tokens=out,
            stream=(cfg.kind in KINDS) if stream is None else stream,
            structured=mode if mode in STRUCTURED_MODES else "json_schema", token_field=spec.token_field,
        )
        if cfg.kind == "ollama":
            req = self._sized_for_ollama(req, spec)
        return req, spec

    @staticmethod
    def _sized_for_ollama(req: CompletionRequest, spec: ModelSpec) -> CompletionRequest:
        prompt = _prompt_tokens(req)
        bound = spec.context_tokens
        if prompt + 256 > bound:
            raise RpcError.of(
                "provider_error",
                f"the prompt (about {prompt} tokens) does not fit model {req.model}'s context bound of {bound} tokens "
                "(context_tokens in the provider's config.toml table raises it, if the model allows)",
                model=req.model, prompt_tokens=prompt, context_tokens=bound,
            )
        need = prompt + req.max_tokens
        num_ctx = min(bound, max(NUM_CTX_STEP, -(-need // NUM_CTX_STEP) * NUM_CTX_STEP))
        return msgspec.structs.replace(req, num_ctx=num_ctx, max_tokens=min(req.max_tokens, num_ctx - prompt))

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
        stream: bool | None = None,
    ) -> Answer[T]:
        """Ask for one ``answer_type``; ``stream=None`` streams wherever the provider can."""
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
        if name == "replay":
            cfg = ProviderConfig(name="replay", kind="replay", model=model or "")
        else:
            cfg = self.registry.resolve(name)
        req, spec = self.prepare(
            cfg, msgs, answer_type, model=model, temperature=settings.temperature if temperature is None else temperature,
            max_tokens=max_tokens, stream=stream,
        )
        limit_s = site.meta.get("step_timeout_s") or cfg.step_timeout_s or STEP_TIMEOUT_S
        started = time.perf_counter()
        state = _State(show_text=stream is True)
        try:
            with anyio.fail_after(limit_s):
                return await self._attempts(cfg, req, spec, site, answer_type, settings, state, started)
        except TimeoutError:
            raise RpcError.of(
                "provider_error",
                redact(
                    f"step {site.step or '?'} ({site.role or 'call'}): provider {cfg.name!r} (model {req.model}) gave no valid "
                    f"answer within the step's limit of {limit_s:g}s ({state.attempt} attempt(s)); last problem: "
                    f"{state.last_error or 'the answer was still coming'}"
                ),
                provider=cfg.name, model=req.model, step=site.step, timeout_s=limit_s,
            ) from None

    async def _attempts(
        self, cfg: ProviderConfig, req: CompletionRequest, spec: ModelSpec, site: CallSite, answer_type: Any,
        settings: Any, state: "_State", started: float,
    ) -> Answer:
        base = list(req.messages)
        total = Usage()
        grown = False
        invalid = 0
        where = f"step {site.step or '?'} ({site.role or 'call'})"
        while True:
            state.attempt += 1
            attempt = state.attempt
            res = Reservation(None, max_tokens=req.max_tokens)
            if cfg.kind != "replay":
                res = await self.budgets.reserve(
                    site.task_id, site.meta, settings, prompt_tokens=_prompt_tokens(req), max_tokens=req.max_tokens, spec=spec,
                )
            sent = req if res.max_tokens >= req.max_tokens else msgspec.structs.replace(req, max_tokens=res.max_tokens)
            try:
                completion, usage, latency_ms = await self._complete(cfg, sent, spec, site, attempt, res, state.show_text)
            except ProviderFailure as exc:
                if exc.kind == "structured_rejected" and cfg.kind == "openai":
                    lower = _lower_mode(req.structured)
                    if lower is not None:
                        await self._step_down(cfg, req, site, attempt, lower, exc.message)
                        req = msgspec.structs.replace(req, structured=lower)
                        state.attempt -= 1  # the same attempt, asked another way
                        continue
                if exc.kind == "too_large":
                    invalid += 1
                    state.last_error = exc.message
                    if invalid >= self.max_attempts:
                        raise self._gave_up(cfg, req, state) from None
                    await self._note(site, attempt, f"[{cfg.name}: {exc.message}; asking again ({invalid + 1} of {self.max_attempts})]")
                    req = msgspec.structs.replace(req, messages=[*base, Message("user", correction(
                        f"{exc.message}. Keep the answer well under that size.",
                    ))])
                    continue
                raise self._failure(cfg, sent, spec, site, exc) from None
            total = total + usage
            if completion.finish == "length":
                limit = sent.max_tokens
                state.last_error = f"the answer was cut off at the output limit of {limit} tokens"
                await self._record(cfg, sent, site, attempt, completion, usage, latency_ms, error=f"truncated: {state.last_error}")
                if not grown and limit < spec.max_output_tokens:
                    grown = True
                    bigger = min(spec.max_output_tokens, max(limit * 4, limit + 1024))
                    await self._note(site, attempt, f"[{cfg.name}: {state.last_error}; asking again with a limit of {bigger}]")
                    req = msgspec.structs.replace(req, max_tokens=bigger)
                    continue
                raise RpcError.of(
                    "provider_error",
                    redact(
                        f"{where}: the answer of provider {cfg.name!r} (model {req.model}) was cut off at the output limit "
                        f"of {limit} tokens (the model's limit is {spec.max_output_tokens}); ask for less per call, "
                        "or raise max_output_tokens in the provider's config.toml table if the model allows more"
                    ),
                    provider=cfg.name, model=req.model, step=site.step, max_tokens=limit, reason="truncated",
                )
            try:
                value = decode_answer(completion.text, answer_type, req.schema)
            except InvalidAnswer as exc:
                invalid += 1
                state.last_error = str(exc)
                await self._record(cfg, sent, site, attempt, completion, usage, latency_ms, error=f"invalid answer: {state.last_error}")
                if invalid >= self.max_attempts:
                    raise self._gave_up(cfg, req, state) from None
                await self._note(site, attempt, f"[{cfg.name}: invalid answer; asking again ({invalid + 1} of {self.max_attempts}): {state.last_error[:200]}]")
                turns = [Message("assistant", excerpt(completion.text))] if completion.text.strip() else []
                req = msgspec.structs.replace(req, messages=[*base, *turns, Message("user", correction(state.last_error))])
                continue
            await self._record(cfg, sent, site, attempt, completion, usage, latency_ms, error=None)
            return Answer(
                value=value,
                text=completion.text,
                usage=total,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                model=completion.model or req.model,
                provider=cfg.name,
                attempts=attempt,
            )

    def _gave_up(self, cfg: ProviderConfig, req: CompletionRequest, state: "_State") -> RpcError:
        return RpcError.of(
            "provider_error",
            redact(
                f"provider {cfg.name!r} (model {req.model}) gave no valid {req.schema_name} in {self.max_attempts} attempts; "
                f"last problem: {state.last_error}"
            ),
            provider=cfg.name, model=req.model, attempts=self.max_attempts,
        )

    def _failure(self, cfg: ProviderConfig, req: CompletionRequest, spec: ModelSpec, site: CallSite, exc: ProviderFailure) -> RpcError:
        where = f"step {site.step or '?'} ({site.role or 'call'})"
        if exc.kind == "context_overflow":
            msg = (
                f"{where}: the prompt does not fit the context of model {req.model} (provider {cfg.name!r}): about "
                f"{_prompt_tokens(req)} prompt tokens + {req.max_tokens} output tokens"
                + (f", the model's context is {spec.context_tokens} tokens" if spec.family or "context_tokens" in cfg.overrides else "")
                + f"; the provider said: {exc.message}. Not retried unchanged: shorten the input, lower the output "
                "limit or use a model with a larger context"
            )
            return RpcError.of(
                "provider_error", redact(msg), provider=cfg.name, model=req.model, step=site.step, status=exc.status,
                reason="context_overflow", prompt_tokens=_prompt_tokens(req), max_tokens=req.max_tokens,
            )
        msg = f"provider {cfg.name!r} ({cfg.kind}, model {req.model}): {exc.message}"
        if exc.kind == "structured_rejected":
            msg += " (the server refused every structured-output mode)"
        return RpcError.of("provider_error", redact(msg), provider=cfg.name, model=req.model, status=exc.status, reason=exc.kind)

    async def _step_down(self, cfg: ProviderConfig, req: CompletionRequest, site: CallSite, attempt: int, lower: str, why: str) -> None:
        self.modes[(cfg.name, req.model)] = lower
        await self.db.execute(
            "INSERT INTO structured_modes(provider, model, mode, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(provider, model) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at",
            (cfg.name, req.model, lower, time.time()),
        )
        text = (
            f"provider {cfg.name!r} (model {req.model}) refused structured output as {req.structured} ({why}); "
            f"using {lower} from now on for this provider and model"
        )
        log.warning("%s", redact(text))
        await self._note(site, attempt, redact(f"[{text}]"))

    async def _note(self, site: CallSite, attempt: int, text: str) -> None:
        await _LogChunker(self.bus, site, attempt, False).note(text)

    async def _complete(
        self, cfg: ProviderConfig, req: CompletionRequest, spec: ModelSpec, site: CallSite, attempt: int, res: Reservation,
        show_text: bool = False,
    ) -> tuple[Completion, Usage, float]:
        """One answer (transport retries included) and its usage; a failed or cancelled
        exchange is recorded (with the tokens seen, where known) and raised."""
        t0 = time.perf_counter()
        if cfg.kind == "replay":
            rec = await self.replayer.next(site, attempt)
            return Completion(text=rec.response or "", model=rec.model), Usage(), round((time.perf_counter() - t0) * 1000, 3)
        chunker = _LogChunker(self.bus, site, attempt, publish_text=show_text)
        progress = Progress()
        tries = self.policy.max_retries + 1

        async def on_retry(failure: ProviderFailure, wait: float, retry: int) -> None:
            await chunker.note(f"[{cfg.name}: {failure.message}; retry {retry} of {tries - 1} in {wait:.1f}s]", retry=retry)

        failed: str | None = None
        partial = Usage()
        try:
            async with self.limit:
                t0 = time.perf_counter()
                completion = await exchange(
                    self.pool, ADAPTERS[cfg.kind], cfg, req, policy=self.policy,
                    on_text=chunker.add, on_retry=on_retry, progress=progress,
                )
            await chunker.flush()
            usage = self._usage(spec, completion) + self._partial(spec, req, progress, current=False)
            self.budgets.settle(res, usage.tokens_in, usage.tokens_out, usage.cost_usd)
            return completion, usage, round((time.perf_counter() - t0) * 1000, 3)
        except ProviderFailure as exc:
            failed = redact(f"provider {cfg.name!r} ({cfg.kind}, model {req.model}): {exc.message}")
            partial = self._partial(spec, req, progress, current=True)
            raise
        except anyio.get_cancelled_exc_class():
            failed = "cancelled"
            partial = self._partial(spec, req, progress, current=True)
            raise
        finally:
            if failed is not None:
                self.budgets.settle(res, partial.tokens_in, partial.tokens_out, partial.cost_usd)
                latency = round((time.perf_counter() - t0) * 1000, 3)
                await self._record(cfg, req, site, attempt, None, partial, latency, error=failed)

    @staticmethod
    def _usage(spec: ModelSpec, c: Completion) -> Usage:
        return Usage(
            c.tokens_in, c.tokens_out, cost_usd(spec, c.tokens_in, c.tokens_out, c.tokens_cached, c.tokens_cache_write),
            c.tokens_cached, c.tokens_cache_write,
        )

    @staticmethod
    def _partial(spec: ModelSpec, req: CompletionRequest, progress: Progress, *, current: bool) -> Usage:
        """The tokens of tries that did not finish (and of the current one, if ``current``):
        what the stream reported or showed; nothing for a try whose answer had not begun
        (then they are not known)."""
        tries = [*progress.abandoned]
        if current and (progress.chars_out or progress.tokens_out):
            tries.append((progress.tokens_in, progress.tokens_out, progress.chars_out))
        tin = sum(t_in or _prompt_tokens(req) for t_in, _, _ in tries)
        tout = sum(max(t_out, chars // 3 + 1 if chars else 0) for _, t_out, chars in tries)
        return Usage(tin, tout, cost_usd(spec, tin, tout))

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
        model = (completion.model if completion and completion.model else None) or req.model
        request = {
            "provider": cfg.name, "kind": cfg.kind, "model": req.model, "temperature": req.temperature,
            "max_tokens": req.max_tokens, "stream": req.stream, "schema_name": req.schema_name,
            "structured": req.structured,
            "messages": [{"role": m.role, "content": storable(m.content), **({"cache": True} if m.cache else {})} for m in req.messages],
        }
        now = time.time()
        err = redact(error) if error else None
        async with self.db.transaction() as w:
            await w.execute(
                "INSERT INTO llm_calls(task_id, agent_id, role, step, attempt, provider, model, request, response, "
                "tokens_in, tokens_out, tokens_cached, tokens_cache_write, cost_usd, latency_ms, error, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    site.task_id, site.agent_id, site.role, site.step, attempt, cfg.name, model,
                    msgspec.json.encode(redact_obj(request)).decode(),
                    redact(storable(completion.text)) if completion is not None else None,
                    usage.tokens_in, usage.tokens_out, usage.tokens_cached, usage.tokens_cache_write,
                    usage.cost_usd, latency_ms, storable(err) if err else None, now,
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
            "tokens_cached": usage.tokens_cached, "cost_usd": usage.cost_usd, "latency_ms": latency_ms, "ok": error is None,
        }
        if err:
            data["error"] = storable(err)
        await self.bus.publish("llm.call", data, task_id=site.task_id, agent_id=site.agent_id)

    # -- usage and the test call ----------------------------------------------
    async def task_usage(self, task_id: str) -> dict[str, Any]:
        """``{calls, tokens_in, tokens_out, tokens_cached, cost_usd}`` of a task, for ``task.get``
        (``tokens_cached``: prompt tokens the provider served from its cache, part of ``tokens_in``)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*), COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), COALESCE(SUM(cost_usd), 0), "
            "COALESCE(SUM(tokens_cached), 0) FROM llm_calls WHERE task_id = ?",
            (task_id,),
        )
        return {"calls": int(row[0]), "tokens_in": int(row[1]), "tokens_out": int(row[2]), "tokens_cached": int(row[4]),
                "cost_usd": round(float(row[3]), 8)}

    async def test(self, name: str, model: str | None = None) -> dict[str, Any]:
        """Ask the way a task asks: the Boss's real Plan schema, in the provider's real
        structured-output mode, so a schema the provider rejects shows here, in its own words."""
        from ..pipeline.answers import Plan

        cfg = self.registry.resolve(name)
        answer = await self.ask(
            CallSite(role="providers.test", step="test"),
            [
                Message("system", "You plan software projects. Answer with one JSON object that matches the schema."),
                Message("user", "Plan the smallest possible project: a Python command-line program that prints hello. "
                                "One manager, one file; keep every text short."),
            ],
            Plan,
            provider=name,
            model=model,
        )
        plan = answer.value
        return {
            "name": cfg.name, "kind": cfg.kind, "model": answer.model, "latency_ms": answer.latency_ms,
            "answer": f"a valid Plan: {len(plan.managers)} manager(s), stack {plan.tech_stack or '(none)'!r}",
            "tokens_in": answer.usage.tokens_in, "tokens_out": answer.usage.tokens_out, "attempts": answer.attempts,
        }


class _State:
    """What ``ask`` knows across attempts (also when the step's time runs out)."""

    def __init__(self, show_text: bool = False) -> None:
        self.attempt = 0
        self.last_error = ""
        #: the caller asked for streaming: publish the text itself, not only progress
        self.show_text = show_text


def _lower_mode(mode: str) -> str | None:
    i = STRUCTURED_MODES.index(mode) if mode in STRUCTURED_MODES else 0
    return STRUCTURED_MODES[i + 1] if i + 1 < len(STRUCTURED_MODES) else None


def _prompt_tokens(req: CompletionRequest) -> int:
    """An estimate of the prompt (schema included, as most providers count it)."""
    return sum(estimate_tokens(m.content) + 4 for m in req.messages) + estimate_tokens(msgspec.json.encode(req.schema).decode())
