# -*- coding: utf-8 -*-
"""Request builders for the host-side tests (protocol messages of plugins/module_utils/_codex_protocol)."""
from __future__ import annotations

import os
import stat

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import PROTOCOL_VERSION


def read_request(home, owner=None, config_mode=None, group=None):
    return {'protocol': PROTOCOL_VERSION, 'codex_home': None if home is None else str(home), 'owner': owner,
            'group': group, 'config_mode': config_mode, 'want_auth': True}


def write_request(home, owner=None, text=None, expect=None, op=None, state='present', create_home=True,
                  backup=False, force=False, only_fingerprint=None, purge=False, config_mode=None,
                  lock_timeout=5, group=None, auth=True):
    return {'protocol': PROTOCOL_VERSION, 'codex_home': str(home), 'owner': owner, 'group': group, 'state': state,
            'lock_timeout': lock_timeout, 'create_home': create_home, 'config_mode': config_mode,
            'config': {'text': text, 'expect_sha256': expect, 'backup': backup},
            'auth': {'op': op, 'only_fingerprint': only_fingerprint, 'force': force, 'backup': backup} if auth else None,
            'purge_key_backups': purge}


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def snapshot(path):
    """(content, uid, gid, mode) of a file, to prove it was not touched."""
    st = os.lstat(str(path))
    with open(str(path), 'rb') as handle:
        return handle.read(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)
