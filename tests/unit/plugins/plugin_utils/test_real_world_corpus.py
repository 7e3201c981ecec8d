# -*- coding: utf-8 -*-
"""The merge engine on a corpus of realistic Codex config.toml files, judged by tomllib and by the
real Codex CLI.

Every file under fixtures/real_world/ is merged with the dashboard block (as the provider setup page
shows it) and, separately, with the block plus ``settings`` overrides. The pure checks always run;
the ``codex doctor --json`` checks run when a Codex CLI is available: ``CODEX_JUDGE_BIN``, else the
one scripts/units.sh installs into .cache/codex-judge, else ``codex`` on PATH. They skip only when
there is none. Doctor never leaves loopback: every merged provider points at 127.0.0.1:9 (nothing
listens there) and all proxy variables point there too.
"""
from __future__ import annotations

import concurrent.futures
import glob
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import tomllib

import pytest

from corpus import read_fixture
from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import merge_config, validate_config

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'fixtures', 'real_world')
REPO_ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
JUDGE_VERSION = os.environ.get('CODEX_TEST_VERSION', '0.169.0')

# The block exactly as the dashboard shows it (tests/unit/fixtures/dashboard-block.toml, copied
# verbatim from the provider's set-up page).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'dashboard-block.toml'),
          encoding='utf-8') as _block_file:
    DASHBOARD_BLOCK = _block_file.read()
LOOPBACK = 'http://127.0.0.1:9'
# mode -> (block, settings, model, base_url Codex must use)
MODES = {
    'block': (DASHBOARD_BLOCK.replace('https://api.4096bytes.com', LOOPBACK), None, 'gpt-5.5', LOOPBACK),
    'settings': (DASHBOARD_BLOCK, {
        'model': 'gpt-5.5-fleet',
        'model_providers': {'OpenAI': {'base_url': LOOPBACK + '/v1', 'stream_max_retries': 3}},
        'cli_auth_credentials_store': 'file',
        'check_for_update_on_startup': False,
        'features': {'goals': True},
    }, 'gpt-5.5-fleet', LOOPBACK + '/v1'),
}
# Keys of the dashboard block that Codex 0.169.0 reports as ignored (seen with codex doctor --json: "unrecognized configuration settings").
DASHBOARD_IGNORED = 3
# Unknown keys the user file itself has (Codex reports them before and after the merge).
OWN_IGNORED = {'18-unicode.toml': 1}

_PASTE = ('model_provider', 'model', 'review_model', 'model_reasoning_effort', 'disable_response_storage',
          'network_access', 'windows_wsl_setup_acknowledged')
# The stray copies an earlier paste below a table left behind (and only those) are removed.
LEFTOVERS = {
    '11-old-paste-after-features.toml': [('features', k) for k in _PASTE],
    '12-old-paste-after-projects.toml': [('projects', '/home/alice/work', k) for k in _PASTE],
    '13-old-paste-after-sandbox.toml': [('sandbox_workspace_write', k) for k in _PASTE],
    '26-mcp-env-after-paste.toml': [('mcp_servers', 'x', 'env', k) for k in
                                    ('model_provider', 'model', 'disable_response_storage',
                                     'windows_wsl_setup_acknowledged')],
}

FILES = sorted(os.path.basename(path) for path in glob.glob(os.path.join(CORPUS, '*.toml')))


def desired(mode):
    block, settings = MODES[mode][:2]
    data = tomllib.loads(block)
    for key, value in (settings or {}).items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                if isinstance(subvalue, dict):
                    data[key] = dict(data.get(key, {}))
                    data[key][sub] = dict(data[key].get(sub, {}), **subvalue)
                else:
                    data.setdefault(key, {})[sub] = subvalue
        else:
            data[key] = value
    return data


def deep_merge(base, overlay):
    out = dict(base)
    for key, value in overlay.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def without(data, paths):
    out = _copy(data)
    for path in paths:
        node = out
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return out


def _copy(data):
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def leaves(data, prefix=()):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from leaves(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def lookup(data, path):
    for key in path:
        data = data[key]
    return data


def merged(name, mode):
    block, settings = MODES[mode][:2]
    return merge_config(read_fixture(name), block, settings)


CASES = [pytest.param(name, mode, id='%s-%s' % (name[:-5], mode)) for name in FILES for mode in MODES]


def test_corpus_is_there():
    assert len(FILES) >= 25
    assert read_fixture('14-crlf.toml').count('\r\n') == read_fixture('14-crlf.toml').count('\n') > 3
    assert read_fixture('15-bom-tabs-trailing-ws.toml').startswith('\ufeff#')


@pytest.mark.parametrize('name, mode', CASES)
def test_merge_of_real_world_file(name, mode):
    original = read_fixture(name)
    result = merged(name, mode)
    body = result.text[1:] if result.text.startswith('\ufeff') else result.text
    data = tomllib.loads(body)                                   # parses; duplicates would not
    want = desired(mode)
    for path, value in leaves(want):                              # block/settings values present
        assert lookup(data, path) == value, path

    before = tomllib.loads(original.lstrip('\ufeff'))
    gone = LEFTOVERS.get(name, [])
    assert data == deep_merge(without(before, gone), want)        # nothing else changed meaning
    assert sorted(result.removed_leftovers) == sorted(
        '.'.join('"%s"' % k if '/' in k else k for k in path) for path in gone)

    again = merge_config(result.text, *MODES[mode][:2])            # idempotent to the byte
    assert again.text == result.text and again.changed is False

    # no top-level key ended up in a table: every top-level key is still (or now) top-level, and no
    # table gained a key that the task sets at the top level
    top = {k for k, v in want.items() if not isinstance(v, dict)}
    assert {k for k, v in before.items() if not isinstance(v, dict)} | top <= {
        k for k, v in data.items() if not isinstance(v, dict)}
    for path, dummy in leaves(data):
        if len(path) > 1 and path[-1] in top:
            assert lookup(before, path) is not None

    headers = [line.strip() for line in body.splitlines() if line.strip().startswith('[') and not line.strip().startswith('[[')]
    assert len(headers) == len(set(headers)), 'a table header appears twice'

    # line endings and BOM are kept
    if original.startswith('\ufeff'):
        assert result.text.startswith('\ufeff')
    if '\r\n' in original:
        assert result.text.count('\n') == result.text.count('\r\n')
    else:
        assert '\r' not in result.text

    # untouched lines keep their bytes, in order
    named = {key for path, dummy in leaves(want) for key in path} | {path[-1] for path in gone}
    kept = [line for line in original.lstrip('\ufeff').splitlines() if _key_of(line) not in named]
    out_lines = body.splitlines()
    position = 0
    for line in kept:
        assert line in out_lines[position:], 'lost or reordered: %r' % line
        position = out_lines.index(line, position) + 1

    validate_config(data, want)                                   # the action's validation passes


def _key_of(line):
    match = re.match(r'\s*("[^"]*"|\'[^\']*\'|[A-Za-z0-9_.-]+)\s*=', line)
    if not match:
        return None
    return match.group(1).strip('"\'').split('.')[-1]


def test_leftovers_are_only_where_a_paste_left_them():
    for name in FILES:
        if name not in LEFTOVERS:
            assert merged(name, 'block').removed_leftovers == [], name


# --- the real Codex CLI --------------------------------------------------------------------------


def judge_binary():
    candidates = [os.environ.get('CODEX_JUDGE_BIN'),
                  os.path.join(REPO_ROOT, '.cache', 'codex-judge', 'node_modules', '.bin', 'codex'),
                  shutil.which('codex')]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return _native(candidate)
    return None


def _native(wrapper):
    """The platform binary behind npm's node wrapper: the same Codex without a node start per run
    (a third of the judge's CPU time). The wrapper itself when there is no single such binary."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(wrapper)))   # .../node_modules/@openai/codex
    found = glob.glob(os.path.join(os.path.dirname(package), 'codex-*', 'vendor', '*', 'bin', 'codex'))
    if len(found) == 1 and os.access(found[0], os.X_OK):
        return found[0]
    return wrapper


def _loopback_env(home):
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith('_PROXY')
           and not k.startswith(('OPENAI_', 'CODEX_'))}
    for var in ('HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY'):
        env[var] = env[var.lower()] = LOOPBACK
    env['NO_PROXY'] = env['no_proxy'] = '127.0.0.1,localhost'
    env['CODEX_HOME'] = home
    return env


def run_doctor(binary, text):
    home = tempfile.mkdtemp(prefix='codex-judge-', dir=os.environ.get('CODEX_JUDGE_TMP', '/var/tmp'))
    try:
        os.chmod(home, 0o700)
        with open(os.path.join(home, 'config.toml'), 'w', encoding='utf-8', newline='') as handle:
            handle.write(text)
        fd = os.open(os.path.join(home, 'auth.json'), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            # what `codex login --with-api-key` writes (this test judges config.toml, not auth.json)
            handle.write(json.dumps({'auth_mode': 'apikey', 'OPENAI_API_KEY': secrets.token_urlsafe(32)}).encode())
        proc = subprocess.run([binary, 'doctor', '--json'], env=_loopback_env(home), cwd=home,
                              capture_output=True, text=True, timeout=120, check=False)
        try:
            return json.loads(proc.stdout)['checks']
        except (ValueError, KeyError):
            raise AssertionError('codex doctor gave no JSON report (rc %s): %s' % (proc.returncode, proc.stderr[-2000:]))
    finally:
        shutil.rmtree(home, ignore_errors=True)


_OURS = '[model_providers.OpenAI]\nname = "OpenAI"\nbase_url = "%s"\n' % LOOPBACK
# Offboarding cases beyond the corpus: (existing, block) -> the absent result must load, on Codex's
# default provider. The control is what absent wrote before the provider rule: Codex must refuse it,
# or the judge could not tell.
_ABSENT_CASES = {
    'profile-on-removed-provider': (
        'model_provider = "OpenAI"\n' + _OURS + '\n[profiles.p]\nmodel_provider = "OpenAI"\nmodel = "y"\n',
        _OURS),
    'provider-losing-base-url-only': (
        'model_provider = "OpenAI"\n' + _OURS + 'stream_max_retries = 2\n',
        '[model_providers.OpenAI]\nbase_url = "%s"\n' % LOOPBACK),
}
SCENARIOS = dict((name, merge_config(existing, block, state='absent').text)
                 for name, (existing, block) in _ABSENT_CASES.items())
CONTROL = '[model_providers.OpenAI]\nrequest_max_retries = 6\n'
SCENARIOS['control-nameless-provider'] = CONTROL


def offboarded(name, mode):
    """The merged file after ``state: absent`` with the same block and settings (offboarding)."""
    block, settings = MODES[mode][:2]
    return merge_config(merged(name, mode).text, block, settings, 'absent')


@pytest.fixture(scope='module')
def judged():
    """Every merged and every offboarded file, each distinct text judged once, all in one pool."""
    binary = judge_binary()
    if binary is None:
        pytest.skip('no Codex CLI to judge with (set CODEX_JUDGE_BIN or run scripts/units.sh)')
    home = tempfile.mkdtemp(prefix='codex-judge-', dir=os.environ.get('CODEX_JUDGE_TMP', '/var/tmp'))
    try:  # in a home of its own: Codex writes scratch files into CODEX_HOME even for --version
        version = subprocess.run([binary, '--version'], capture_output=True, text=True, check=False,
                                 env=_loopback_env(home)).stdout.strip()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if version != 'codex-cli %s' % JUDGE_VERSION:
        pytest.skip('%s is %r, the judge must be codex-cli %s' % (binary, version, JUDGE_VERSION))
    jobs = dict((('scenario', name), text) for name, text in SCENARIOS.items())
    for name in FILES:
        for mode in MODES:
            jobs[('present', name, mode)] = merged(name, mode).text
            jobs[('absent', name, mode)] = offboarded(name, mode).text
    texts = sorted(set(jobs.values()))
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:  # each run mostly waits
        reports = dict(zip(texts, pool.map(lambda text: run_doctor(binary, text), texts)))
    return {case: reports[text] for case, text in jobs.items()}


@pytest.mark.parametrize('name, mode', CASES)
def test_real_codex_loads_the_merged_file(judged, name, mode):
    checks = judged[('present', name, mode)]
    load = checks['config.load']
    details = load['details']
    assert load['status'] in ('ok', 'warning'), (load['summary'], details.get('error'))
    assert details.get('config.toml parse') == 'ok'
    assert details.get('model') == MODES[mode][2]
    assert details.get('model provider') == 'OpenAI'
    warning = details.get('startup warning') or ''
    match = re.search(r'ignoring (\d+) unrecognized configuration setting', warning)
    ignored = int(match.group(1)) if match else 0
    assert ignored == DASHBOARD_IGNORED + OWN_IGNORED.get(name, 0), warning
    assert 'parse' not in warning.lower() and 'invalid' not in warning.lower(), warning
    # the provider Codex would call is the merged one (nothing listens there: connect fails)
    reach = json.dumps(checks['network.provider_reachability']['details'])
    assert MODES[mode][3] + '/' in reach, reach
    auth = checks['auth.credentials']
    assert auth['status'] == 'ok' and auth['details'].get('stored auth mode') == 'api_key', auth


@pytest.mark.parametrize('name, mode', CASES)
def test_real_codex_loads_the_offboarded_file(judged, name, mode):
    """present then absent: Codex starts, on its own default provider, and nothing of ours is left."""
    checks = judged[('absent', name, mode)]
    load = checks['config.load']
    details = load['details']
    assert load['status'] in ('ok', 'warning'), (load['summary'], details.get('error'))
    assert details.get('config.toml parse') == 'ok'
    assert details.get('model provider') == 'openai', details   # Codex's default: ours is gone
    warning = details.get('startup warning') or ''
    match = re.search(r'ignoring (\d+) unrecognized configuration setting', warning)
    ignored = int(match.group(1)) if match else 0
    assert ignored == OWN_IGNORED.get(name, 0), warning            # the dashboard's ignored keys went too
    assert 'parse' not in warning.lower() and 'invalid' not in warning.lower(), warning
    reach = json.dumps(checks['network.provider_reachability']['details'])
    assert LOOPBACK not in reach, reach


@pytest.mark.parametrize('name', sorted(_ABSENT_CASES))
def test_real_codex_loads_offboarding_scenarios(judged, name):
    load = judged[('scenario', name)]['config.load']
    assert load['status'] in ('ok', 'warning'), (load['summary'], load['details'].get('error'))
    assert load['details'].get('model provider') == 'openai'


def test_the_judge_refuses_a_nameless_provider(judged):
    assert judged[('scenario', 'control-nameless-provider')]['config.load']['status'] == 'fail'
