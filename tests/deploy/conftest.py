"""What the install tests share: the Debian root they copy and the packages they install from."""

from __future__ import annotations

import time

import pytest

from tests.deploy.rootfs import LocalIndex, can_bootstrap, pristine_root


@pytest.fixture(scope="session")
def local_index(tmp_path_factory: pytest.TempPathFactory) -> LocalIndex:
    """This checkout's wheel and its dependencies' (built once per run)."""
    started = time.monotonic()
    index = LocalIndex(tmp_path_factory.mktemp("index"))
    index.build()
    print(f"\nlocal index: {time.monotonic() - started:.0f} s")
    return index


@pytest.fixture(scope="session")
def debian_root() -> None:
    """The pristine Debian 12 root is there (made once, then cached): copy it with `copy_root`."""
    if (why := can_bootstrap()) is not None:
        pytest.skip(why)
    started = time.monotonic()
    pristine_root()
    print(f"\nDebian 12 root: {time.monotonic() - started:.0f} s")
