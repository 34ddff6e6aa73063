"""AI providers: one interface over OpenAI-compatible, Anthropic, Gemini,
Ollama and replay (DESIGN.md section 6).

The contract others code against is ``daemon.llm`` (an :class:`LLMService`,
created by ``octrad.api.providers.setup``)::

    from octrad.providers import CallSite, Message

    site = CallSite(task_id=t, agent_id=a, role="boss", step="plan", meta=task_meta)
    answer = await daemon.llm.ask(site, [Message("system", rules), Message("user", shared, cache=True),
                                         Message("user", varying)], Plan,
                                  provider=None, model=None, temperature=None, max_tokens=None, stream=None)
    answer.value        # a Plan (decoded and validated)
    answer.text         # the raw JSON text
    answer.usage        # Usage(tokens_in, tokens_out, cost_usd), summed over attempts
    answer.latency_ms, answer.model, answer.provider, answer.attempts

- ``messages``: :class:`Message` objects or ``{"role", "content", "cache"?}`` dicts.
  ``cache=True`` marks the message that ends the prompt's shared prefix (the
  same across a task's calls: rules, task, plan, guide, skills); Anthropic
  gets a cache breakpoint there, and cached tokens are recorded and priced
  on their own for every provider.
- ``temperature``/``max_tokens``: None takes the setting / the model table's
  default output limit; the model table (:mod:`.models`) decides what is
  sent (no temperature to reasoning models, Anthropic's 0..1, the token
  field).  ``stream=None`` streams wherever the provider can.
- The answer type is a msgspec Struct (bounds as ``msgspec.Meta``); its JSON
  Schema goes to the provider the native way (docs/spec/provider-schemas),
  and a bad answer is retried with the error and a bounded excerpt fed back
  (``MAX_ATTEMPTS``), then ``provider_error``.  A truncated answer is retried
  once with a larger output limit; a context overflow fails at once.
- Every attempt is a row in ``llm_calls``, usage is added to the ``agents``
  row of ``agent_id``, an ``llm.call`` event is published; with ``stream``
  the text arrives as ``agent.log`` events in sizeable pieces.
- Budgets ``max_llm_calls``, ``max_tokens``, ``max_cost_usd`` (``site.meta``
  first, else settings) are reserved before each attempt (prompt estimate +
  output limit), settled after:
  ``RpcError.of("budget_exceeded")`` (-32005).  ``site.meta["step_timeout_s"]``
  (or the provider's ``step_timeout_s``) bounds one whole ask.  Failures after retries:
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
