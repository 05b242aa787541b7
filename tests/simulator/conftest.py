"""Fixtures for the simulator's tests: a strict fake appliance on a real socket, and a client session to reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from tests.simulator.fakeappliance import FakeAppliance


@pytest.fixture
def fake() -> FakeAppliance:
    """The fake appliance's state; each test shapes it (offers, barred stations) before or while stations run."""
    return FakeAppliance()


@pytest.fixture
async def server(fake: FakeAppliance, aiohttp_server: AiohttpServer) -> TestServer:
    """The fake appliance listening on loopback."""
    return await aiohttp_server(fake.app())


@pytest.fixture
def url(server: TestServer) -> str:
    """The station API's base URL."""
    return str(server.make_url("/"))


@pytest.fixture
async def session(url: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session whose relative URLs reach the fake appliance, as a fleet's does."""
    async with aiohttp.ClientSession(base_url=url) as client:
        yield client
