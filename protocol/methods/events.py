"""Event subscriptions; events then arrive as ``event`` notifications."""

from __future__ import annotations

from typing import Union

from ._base import EmptyResult, Method, Params, Result


class SubscribeParams(Params):
    task_id: Union[str, None] = None
    since_seq: Union[int, None] = None


class SubscribeResult(Result):
    subscription: str
    last_seq: int


class UnsubscribeParams(Params):
    subscription: str


METHODS = {
    "events.subscribe": Method(
        SubscribeParams,
        SubscribeResult,
        "Stream events (all, or one task's). With since_seq, every stored event after it comes first, then live ones.",
    ),
    "events.unsubscribe": Method(UnsubscribeParams, EmptyResult, "Stop a subscription."),
}
