# -*- coding: utf-8 -*-
"""Fixtures of the Windows host side tests: the script's C# compiled and runnable with Mono."""

from __future__ import annotations

import pytest

from windows_ps1 import Rules, mono_tools


@pytest.fixture(scope='session')
def rules(tmp_path_factory):
    """The C# rules of _codex_config_windows.ps1, compiled with Mono (Debian package mono-mcs)."""
    if mono_tools() is None:
        pytest.skip('Mono is not installed (apt-get install mono-mcs): the C# of the Windows script '
                    'cannot be compiled or run here')
    compiled = Rules(str(tmp_path_factory.mktemp('codex-windows-rules')))
    yield compiled
    compiled.close()
