"""What a call cost: USD per million tokens (input, output) for well-known
models, matched by the longest prefix of the model name (so dated variants
like ``claude-3-5-haiku-20241022`` find their family).  Unknown models cost 0
and say so (``known=False``); a provider's config may set its own prices."""

from __future__ import annotations

#: (input, output) USD per million tokens, list prices
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-haiku": (0.25, 1.25),
    "claude-haiku-4": (1.00, 5.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "gemini-1.5-flash": (0.075, 0.30),
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-2.0-flash-lite": (0.075, 0.30),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-pro": (1.25, 10.00),
    "deepseek-chat": (0.27, 1.10),
    "deepseek-reasoner": (0.55, 2.19),
}
_ORDERED = sorted(PRICES, key=len, reverse=True)


def price_of(model: str) -> tuple[float, float] | None:
    """(input, output) per million tokens, or None when the model is unknown."""
    name = model.rsplit("/", 1)[-1].lower()  # "openai/gpt-4o" on OpenRouter, "models/gemini-..." on Gemini
    for prefix in _ORDERED:
        if name.startswith(prefix):
            return PRICES[prefix]
    return None


def cost_usd(model: str, tokens_in: int, tokens_out: int, override: tuple[float | None, float | None] = (None, None)) -> float:
    known = price_of(model) or (0.0, 0.0)
    pin = override[0] if override[0] is not None else known[0]
    pout = override[1] if override[1] is not None else known[1]
    return round((tokens_in * pin + tokens_out * pout) / 1_000_000, 8)
