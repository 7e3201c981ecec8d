# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key fingerprint shared by the controller (action plugin) and the target (module). Internal."""

from __future__ import annotations

import hashlib


def key_fingerprint(key):
    """``sha256:`` + the first 16 hex digits of sha256(key): comparable across a fleet, not reversible."""
    if key is None:
        return None
    return 'sha256:' + hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]
