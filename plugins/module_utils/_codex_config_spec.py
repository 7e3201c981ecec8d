# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one argument spec of bytes4096.codex.codex_config, shared by the action and the module. Internal.

``ARGUMENT_SPEC`` holds the user-facing options (the action validates a task with it);
``MODULE_ARGUMENT_SPEC`` adds the internal options the action sets on each trip.
"""

from __future__ import annotations

ARGUMENT_SPEC = dict(
    # a string, not type=path: "~" means a home on the HOST, resolved there (see _codex_protocol)
    codex_home=dict(type='str'),
    owner=dict(type='str'),
    group=dict(type='str'),
    block=dict(type='str'),
    settings=dict(type='dict'),
    api_key=dict(type='str', no_log=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    backup=dict(type='bool', default=False),
    force=dict(type='bool', default=False),
    config_mode=dict(type='raw'),
    lock_timeout=dict(type='int', default=30),
    # read answers made earlier in the run (codex_install_info's codex_homes); used by the action only
    prefetched=dict(type='list', elements='dict'),
)

MODULE_ARGUMENT_SPEC = dict(
    ARGUMENT_SPEC,
    # internal protocol with the action plugin (plugins/module_utils/_codex_protocol.py)
    _codex_phase=dict(type='str', choices=['read', 'write']),
    _codex_request=dict(type='dict'),
    _codex_secret=dict(type='str', no_log=True),
)
