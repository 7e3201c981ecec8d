"""Final state after converge, idempotence and the side effects (rotation, hygiene run).

The host is inspected with one remote command (a JSON report of every path of interest) so the
verifier costs one round trip, not one per assertion.
"""
import json
import re

import pytest

PATHS = [
    '/home/alice/.codex', '/home/alice/.codex/config.toml', '/home/alice/.codex/auth.json',
    '/home/alice/dotfiles/codex-config.toml', '/home/bob/.codex', '/home/bob/.codex/config.toml',
    '/home/bob/.codex/auth.json', '/etc/codex', '/etc/codex/config.toml', '/etc/codex/auth.json',
]
REPORT = r'''
import glob, grp, json, os, pwd, stat, subprocess, sys
paths = sys.argv[1:] + glob.glob('/home/alice/.codex/auth.json.*~') + glob.glob('/home/alice/dotfiles/*~')
out = {}
for p in paths:
    info = {'exists': os.path.lexists(p), 'link': os.path.islink(p)}
    if os.path.exists(p):
        st = os.stat(p)
        info.update(user=pwd.getpwuid(st.st_uid).pw_name, group=grp.getgrgid(st.st_gid).gr_name,
                    mode=stat.S_IMODE(st.st_mode), dir=os.path.isdir(p))
        if info['link']:
            info['target'] = os.readlink(p)
        if not info['dir'] and not p.endswith('auth.json') and '/auth.json.' not in p:
            info['text'] = open(p, encoding='utf-8').read()
        if p.endswith('auth.json'):
            data = json.load(open(p))
            info['auth_mode'] = data.get('auth_mode')
            key = data.get('OPENAI_API_KEY', '')
            info['key_clean'] = bool(key) and key == key.strip() and not any(c.isspace() for c in key)
    out[p] = info
out['temp_files'] = subprocess.run(['find', '/home/alice', '/home/bob', '/etc/codex', '-name', '.*.tmp'],
                                   capture_output=True, text=True).stdout.split()
out['bob_reads_system_layer'] = subprocess.run(['sudo', '-u', 'bob', 'cat', '/etc/codex/config.toml'],
                                               capture_output=True).returncode == 0
print(json.dumps(out))
'''


@pytest.fixture(scope='module')
def report(host):
    result = host.run('python3 - %s <<\'EOF\'\n%s\nEOF' % (' '.join(PATHS), REPORT))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize('user', ['alice', 'bob'])
def test_auth_json_private_and_owned(report, user):
    auth = report['/home/%s/.codex/auth.json' % user]
    assert auth['user'] == user and auth['group'] == user and auth['mode'] == 0o600
    assert auth['auth_mode'] == 'apikey' and auth['key_clean']


def test_new_codex_home_is_private(report):
    home = report['/home/bob/.codex']
    assert home['dir'] and home['user'] == 'bob' and home['group'] == 'bob' and home['mode'] == 0o700
    config = report['/home/bob/.codex/config.toml']
    assert config['user'] == 'bob' and config['mode'] == 0o600


def test_loose_existing_home_repaired(report):
    # prepare.yml left it 0755: a Codex home that holds a key is the account's alone
    assert report['/home/alice/.codex']['mode'] == 0o700


def test_symlinked_config_stays_a_link_and_keeps_its_mode(report):
    link = report['/home/alice/.codex/config.toml']
    assert link['link'] and link['target'] == '/home/alice/dotfiles/codex-config.toml'
    real = report['/home/alice/dotfiles/codex-config.toml']
    assert not real['link'] and real['user'] == 'alice' and real['mode'] == 0o640


def test_user_content_preserved_and_block_merged(report):
    text = report['/home/alice/dotfiles/codex-config.toml']['text']
    assert text.startswith("# alice's Codex settings -- hand written, keep my comments!\n\n")
    assert 'approval_policy = "on-request"  # I like to be asked\n' in text
    assert '[tui]\nnotifications = true   # ping me\n' in text
    assert '[features]\ngoals = true\nweb_search_request = true\n' in text
    assert text.count('[features]') == 1 and text.count('[model_providers.OpenAI]') == 1
    for key in ('model_provider', 'model', 'review_model', 'cli_auth_credentials_store'):
        assert len(re.findall(r'(?m)^%s = ' % key, text)) == 1, key
    assert text.index('model_provider = ') < text.index('[')  # top-level keys before any table


def test_backups_are_as_private_as_the_original(report):
    auth_backups = [p for p in report if '/auth.json.' in p]
    assert auth_backups
    for path in auth_backups:
        assert report[path]['mode'] == 0o600 and report[path]['user'] == 'alice'
    for path in [p for p in report if p.startswith('/home/alice/dotfiles/codex-config.toml.')]:
        assert report[path]['mode'] == 0o640


def test_no_temp_files_left(report):
    assert report['temp_files'] == []


def test_system_layer_readable_by_everyone(report):
    home = report['/etc/codex']
    assert home['dir'] and home['user'] == 'root' and home['mode'] == 0o755
    config = report['/etc/codex/config.toml']
    assert config['user'] == 'root' and config['mode'] == 0o644
    assert 'check_for_update_on_startup = false' in config['text']
    assert not report['/etc/codex/auth.json']['exists']
    assert report['bob_reads_system_layer']
