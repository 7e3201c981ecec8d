# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What bytes4096.codex.codex_config must change, decided from the read trip (internal).

Pure functions: no connection, no I/O. One planner per thing on the host (:func:`plan_home`,
:func:`plan_config`, :func:`plan_auth`), each fed the task's options, the part of the read response
it is about, and the attribute strategy of the host OS (``_codex_plan_attrs``). :func:`plan`
combines them into the write request of ``module_utils/_codex_protocol`` and the values the task
returns. Refusals raise :class:`PlanError` or the merge engine's ``TomlMergeError``.
"""

from __future__ import annotations

import inspect

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import PROTOCOL_VERSION
from ansible_collections.bytes4096.codex.plugins.plugin_utils._codex_plan_attrs import PlanError
from ansible_collections.bytes4096.codex.plugins.plugin_utils._codex_plan_diff import auth_diff, config_diff
from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    desired_data, merge_config, normalize_api_key, validate_config,
)

# The merge engine removes other credential sources from the managed provider table on request.
MERGE_STRIPS_CREDENTIALS = 'strip_credentials' in inspect.signature(merge_config).parameters


def _where(error):
    if error.get('line') is None:
        return ''
    return ', line %s, column %s' % (error['line'], error['column'])


def _refuse_unsafe(info, what):
    """What the host reports but would not open (or should not have): refused before planning."""
    path = info['path']
    if not info.get('exists'):
        return
    if info.get('type') is None and info.get('is_link'):
        raise PlanError('%s is a link the host side refused to follow; nothing was written' % path)
    if info.get('type') not in (None, what):
        raise PlanError('%s exists but is not a %s; nothing was written'
                        % (path, 'directory' if what == 'directory' else 'regular file'))
    if what == 'file' and (info.get('nlink') or 1) > 1:
        raise PlanError('%s has %d hard links; refusing to write a file shared with another name; '
                        'nothing was written' % (path, info['nlink']))


def plan_home(home, attrs, needs_home):
    """The Codex home: created when a file must be written into it, its mode tightened when loose."""
    _refuse_unsafe(home, 'directory')
    repair = attrs.home(home)[0] if home.get('exists') else None
    create = not home.get('exists') and needs_home
    if create and home.get('parent_exists') is False:
        raise PlanError('the parent directory of %s does not exist; nothing was written' % home['path'])
    return {'create': create, 'repaired': [repair] if repair else []}


def plan_config(args, config, attrs, key):
    """config.toml: merged text (or None), mode, backup, warnings and the diff entry."""
    path = config['path']
    _refuse_unsafe(config, 'file')
    if config.get('error'):
        raise PlanError('%s%s: %s; nothing was written' % (path, _where(config['error']), config['error']['msg']))
    state = args.get('state') or 'present'
    strip = key is not None and state == 'present'
    extra = {'strip_credentials': True} if strip and MERGE_STRIPS_CREDENTIALS else {}
    text = config.get('text') if config.get('exists') else None
    merged = merge_config(text, args.get('block'), args.get('settings'), state, source=path, **extra)

    warnings = []
    if merged.removed_leftovers:
        warnings.append('%s: removed %s: copies of top-level keys that an earlier paste below a table '
                        'header left in that table (Codex ignores or refuses them); the task sets them at '
                        'the top level' % (path, ', '.join(merged.removed_leftovers)))
    removed_credentials = list(getattr(merged, 'removed_credentials', None) or [])
    if removed_credentials:
        warnings.append('%s: removing %s: another credential source in the provider table would make Codex '
                        'ignore the key this task writes to auth.json' % (path, ', '.join(removed_credentials)))
    removed_with_provider = list(getattr(merged, 'removed_with_provider', None) or [])
    if removed_with_provider:
        warnings.append('%s: removing %s with the provider table that loses its name/base_url (Codex refuses '
                        'a provider without them); a backup of config.toml keeps them'
                        % (path, ', '.join(removed_with_provider)))
    desired = desired_data(args.get('block'), args.get('settings'))
    if state == 'present' and desired:
        # deploying a file Codex refuses as a whole is no success: strict turns those into errors
        # (a key-only run, such as a rotation, only warns: it does not own the rest of the file)
        warnings.extend(validate_config(merged.data, desired, source=path, strict=True))
    elif state == 'present':
        warnings.extend(validate_config(merged.data, desired, source=path))
    else:
        # offboarding judges only what stays (an old block's own values must not block its removal),
        # and is never blocked by what the user's file already held
        warnings.extend(validate_config(merged.data, None, source=path))

    write = merged.changed and (config.get('exists') or merged.text != '')
    new_text = merged.text
    if write and not config.get('exists'):
        new_text = attrs.new_file_text(new_text)
    repair, ids_drift = attrs.config(config)
    return {
        'path': path, 'write': bool(write), 'text': new_text if write else None,
        'expect_sha256': config.get('sha256') if config.get('exists') else None,
        'backup': bool(args.get('backup') or (write and removed_with_provider)),
        'attr_change': bool(config.get('exists') and (repair or ids_drift)),
        'repaired': [repair] if repair else [],
        'warnings': warnings, 'removed_credentials': removed_credentials,
        'removed_with_provider': removed_with_provider,
        'diff': config_diff(path, text, new_text) if write else None,
    }


_CREDENTIALS_LEFT = {'ok': 'chatgpt', 'unparseable': 'unreadable'}


def _auth_after(auth, op):
    """(auth_mode, credentials, file deleted) that auth.json will have after ``op``."""
    if op == 'set':
        return 'apikey', 'apikey', False
    if op != 'remove':
        return auth.get('auth_mode'), auth.get('credentials'), False
    if not auth.get('valid'):
        return None, 'none', True  # force=true deletes a broken file
    drop_mode = auth.get('auth_mode') == 'apikey'  # goes with the key
    left = [name for name in auth.get('fields') or [] if not (name == 'auth_mode' and drop_mode)]
    mode = None if drop_mode else auth.get('auth_mode')
    return mode, _CREDENTIALS_LEFT.get(auth.get('tokens'), 'none'), not left


def plan_auth(args, auth, attrs, key):
    """auth.json: set or remove the key, or only repair its mode; the fingerprints before and after."""
    state = args.get('state') or 'present'
    if auth is None:
        return {'op': None, 'request': None, 'changed': False, 'repaired': [], 'warnings': [],
                'previous_fp': None, 'after_fp': None, 'path': None, 'diff': None,
                'auth_mode': None, 'credentials': None, 'deleted': False}
    path = auth['path']
    _refuse_unsafe(auth, 'file')
    warnings = []
    exists, valid = bool(auth.get('exists')), bool(auth.get('valid'))
    if exists and not valid:
        if not args.get('force'):
            raise PlanError('%s%s: %s; nothing was written (force=true replaces it after a private backup)'
                            % (path, _where(auth.get('error') or {}), (auth.get('error') or {}).get('msg', 'not valid')))
        warnings.append('%s is not valid JSON; it is replaced (a private backup is kept)' % path)
    previous_fp = auth.get('key_fingerprint') if exists and valid else None
    new_fp = key_fingerprint(key)

    op = None
    if state == 'present' and key is not None:
        if (not exists or not valid or previous_fp != new_fp or auth.get('auth_mode') != 'apikey'
                or auth.get('tokens') == 'unparseable'):
            op = 'set'
        if exists and valid and auth.get('tokens') == 'unparseable':
            warnings.append('%s: the ChatGPT login ("tokens") is not one Codex can parse, so Codex could not read '
                            'auth.json at all; it is removed and kept in a private backup' % path)
    elif state == 'absent' and exists:
        if not valid:
            op = 'remove'
        elif (auth.get('key_present') or auth.get('auth_mode') == 'apikey') and (key is None or previous_fp == new_fp):
            op = 'remove'

    repair, ids_drift = attrs.auth(auth)
    after_fp = new_fp if op == 'set' else (None if op == 'remove' else previous_fp)
    auth_mode, credentials, deleted = _auth_after(auth, op)
    request = None
    if op or repair or ids_drift:
        request = {'op': op, 'only_fingerprint': new_fp if state == 'absent' and key is not None else None,
                   'force': bool(args.get('force')), 'backup': bool(args.get('backup'))}
    return {
        'op': op, 'request': request, 'changed': bool(op or repair or ids_drift),
        'repaired': [repair] if repair else [], 'warnings': warnings,
        'previous_fp': previous_fp, 'after_fp': after_fp, 'path': path,
        'auth_mode': auth_mode, 'credentials': credentials, 'deleted': deleted,
        'diff': auth_diff(path, previous_fp, after_fp) if op else None,
    }


def plan_leftovers(read, state):
    """(temp files, key backups) to remove: temp files of an interrupted write always go, key
    backups when offboarding."""
    home_path = read['home']['path']
    sep = '\\' if '\\' in home_path and '/' not in home_path else '/'
    temps, key_backups = [], []
    for item in read.get('leftovers') or []:
        path = home_path.rstrip(sep) + sep + item['name']
        if item['kind'] == 'temp':
            temps.append(path)
        elif item['kind'] == 'auth_backup' and state == 'absent':
            key_backups.append(path)
    return temps, key_backups


def plan(args, read, attrs):
    """Decide the write trip from the task ``args`` and the ``read`` response.

    Returns a dict: ``request`` (a write request, or None when nothing changes), ``secret`` (the key
    when it must travel, else None), ``diff``, ``warnings`` and the predicted return values.
    """
    attrs.bind(read)
    key = args.get('api_key')
    if key is not None:
        key = normalize_api_key(key)
    state = args.get('state') or 'present'

    config = plan_config(args, read['config'], attrs, key)
    auth = plan_auth(args, read.get('auth'), attrs, key)
    home = plan_home(read['home'], attrs, needs_home=config['write'] or auth['op'] == 'set')
    temps, key_backups = plan_leftovers(read, state)
    removed = temps + key_backups + ([auth['path']] if auth['deleted'] else [])

    repaired = home['repaired'] + config['repaired'] + auth['repaired']
    known = set(line.split(': ', 1)[0] for line in repaired)
    for loose in read.get('loose_modes') or []:
        if loose['path'] not in known:
            repaired.append('%s: %s -> %s' % (loose['path'], loose['mode'], loose['wanted']))

    config_changed = config['write'] or config['attr_change']
    auth_changed = auth['changed'] or bool(key_backups)
    changed = bool(config_changed or auth_changed or home['create'] or repaired or removed)
    touched = []
    if home['create']:
        touched.append(read['home']['path'])
    if config_changed:
        touched.append(config['path'])
    if auth['changed']:
        touched.append(auth['path'])
    attrs.check_writer(touched)

    request = None
    if changed:
        request = {
            'protocol': PROTOCOL_VERSION, 'codex_home': read['home']['path'],
            'owner': args.get('owner'), 'group': args.get('group'), 'state': state,
            'lock_timeout': int(args.get('lock_timeout') or 30), 'create_home': home['create'],
            'config_mode': attrs.request_config_mode(),
            'config': {'text': config['text'], 'expect_sha256': config['expect_sha256'],
                       'backup': config['backup']},
            'auth': auth['request'],
            'purge_key_backups': state == 'absent',
        }
    diff = [entry for entry in (config['diff'], auth['diff']) if entry]
    return {
        'request': request, 'secret': key if auth['op'] == 'set' else None, 'diff': diff,
        'warnings': config['warnings'] + auth['warnings'],
        'result': {
            'changed': changed, 'config_changed': bool(config_changed), 'auth_changed': bool(auth_changed),
            'key_fingerprint': auth['after_fp'], 'previous_key_fingerprint': auth['previous_fp'],
            'auth_mode': auth['auth_mode'], 'credentials': auth['credentials'],
            'repaired': repaired, 'removed_files': removed,
            'loose_modes': [dict(item) for item in read.get('loose_modes') or []],
            'codex_home': read['home']['path'], 'config_path': config['path'], 'auth_path': auth['path'],
        },
    }
