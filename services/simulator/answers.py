"""How a simulated station reads the appliance's JSON answers, strictly by the station contract."""

from __future__ import annotations

from typing import Any

import aiohttp

from services.simulator.stats import StationStats


class ContractError(Exception):
    """The appliance answered something the station contract rules out."""


class TokenRefused(ContractError):
    """A 401: the appliance does not take the token sent, or wants one that was not sent."""


async def json_answer(
    response: aiohttp.ClientResponse, what: str, ok: int, stats: StationStats
) -> dict[str, Any] | None:
    """The JSON object of an `ok` answer; None for a 403 (counted as refused); ContractError for anything else."""
    if response.status == 403:
        stats.refused += 1
        return None
    if response.status != ok:
        text = (await response.text())[:300]
        error = TokenRefused if response.status == 401 else ContractError
        raise error(f"{what} answered {response.status} {response.reason}: {text}")
    try:
        body = await response.json()
    except (aiohttp.ContentTypeError, ValueError) as exc:
        raise ContractError(f"{what} answered {ok} without a JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise ContractError(f"{what} answered {ok} with JSON that is not an object")
    return body
