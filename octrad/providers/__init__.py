"""AI providers: one interface over OpenAI-compatible, Anthropic, Gemini,
Ollama and replay (DESIGN.md section 6).

The contract others code against is ``daemon.llm`` (an :class:`LLMService`,
created by ``octrad.api.providers.setup``)::

    from octrad.providers import CallSite, Message

    site = CallSite(task_id=t, agent_id=a, role="boss", step="plan", meta=task_meta)
    answer = await daemon.llm.ask(site, [Message("system", rules), Message("user", data)], Plan,
                                  provider=None, model=None, temperature=None, max_tokens=None, stream=False)
    answer.value        # a Plan (decoded and validated)
    answer.text         # the raw JSON text
    answer.usage        # Usage(tokens_in, tokens_out, cost_usd), summed over attempts
    answer.latency_ms, answer.model, answer.provider, answer.attempts

- ``messages``: :class:`Message` objects or ``{"role", "content"}`` dicts.
- The answer type is a msgspec Struct; its JSON Schema goes to the provider
  the native way, and a bad answer is retried with the error fed back
  (``MAX_ATTEMPTS``), then ``provider_error``.
- Every attempt is a row in ``llm_calls``, usage is added to the ``agents``
  row of ``agent_id``, an ``llm.call`` event is published; with ``stream``
  the text arrives as ``agent.log`` events in sizeable pieces.
- Budgets ``max_llm_calls``, ``max_tokens``, ``max_cost_usd`` (``site.meta``
  first, else settings) are checked before each attempt:
  ``RpcError.of("budget_exceeded")`` (-32005).  Failures after retries:
  ``RpcError.of("provider_error")`` (-32006), naming provider and model.
- ``provider="replay"`` answers from the recorded calls of the task
  ``site.meta["replay_from"]``, matched by (role, step, attempt).
- ``provider="offline"`` raises provider_error: the pipeline runs offline itself.
- ``daemon.llm.default_provider()``: OCTRA_PROVIDER / config ``default_provider``,
  else a configured provider (stored, config.toml, environment), else ``"offline"``.
- ``daemon.llm.limit``: the shared ``anyio.CapacityLimiter`` (setting
  ``max_parallel_llm_calls``, applied at each call).
- ``await daemon.llm.task_usage(task_id)``: ``{calls, tokens_in, tokens_out, cost_usd}`` for ``task.get``.
"""

from .types import Answer, CallSite, Message, ProviderConfig, Usage

__all__ = ["Answer", "CallSite", "Message", "ProviderConfig", "Usage", "LLMService"]


def __getattr__(name: str):
    # the service pulls in httpx; load it only when asked for
    if name == "LLMService":
        from .service import LLMService

        return LLMService
    raise AttributeError(name)
