"""Final state after converge, idempotence and the side effects (rotation, hygiene run)."""
import json

import pytest

DASHBOARD_KEYS = ('model_provider = "OpenAI"', 'model = "gpt-5.5"', '[model_providers.OpenAI]')


@pytest.mark.parametrize('user', ['alice', 'bob'])
def test_auth_json_private_and_owned(host, user):
    auth = host.file('/home/%s/.codex/auth.json' % user)
    assert auth.is_file and auth.user == user and auth.group == user and auth.mode == 0o600
    data = json.loads(auth.content_string)
    assert data['auth_mode'] == 'apikey' and data['OPENAI_API_KEY'].strip() == data['OPENAI_API_KEY']


def test_new_codex_home_is_private(host):
    home = host.file('/home/bob/.codex')
    assert home.is_directory and home.user == 'bob' and home.group == 'bob' and home.mode == 0o700
    config = host.file('/home/bob/.codex/config.toml')
    assert config.user == 'bob' and config.mode == 0o600


def test_existing_home_mode_left_alone(host):
    assert host.file('/home/alice/.codex').mode == 0o755


def test_symlinked_config_stays_a_link_and_keeps_its_mode(host):
    link = host.file('/home/alice/.codex/config.toml')
    assert link.is_symlink and link.linked_to == '/home/alice/dotfiles/codex-config.toml'
    real = host.file('/home/alice/dotfiles/codex-config.toml')
    assert real.is_file and real.user == 'alice' and real.mode == 0o640


def test_user_content_preserved_and_block_merged(host):
    text = host.file('/home/alice/dotfiles/codex-config.toml').content_string
    assert text.startswith("# alice's Codex settings -- hand written, keep my comments!\n\n")
    assert 'approval_policy = "on-request"  # I like to be asked\n' in text
    assert '[tui]\nnotifications = true   # ping me\n' in text
    assert '[features]\ngoals = true\nweb_search_request = true\n' in text
    assert text.count('[features]') == 1
    for needle in DASHBOARD_KEYS:
        assert text.count(needle) == 1
    assert text.index('model_provider = ') < text.index('[')  # top-level keys before any table


def test_backups_are_as_private_as_the_original(host):
    listing = host.run('ls -1 /home/alice/.codex /home/alice/dotfiles').stdout.split()
    auth_backups = [n for n in listing if n.startswith('auth.json.') and n.endswith('~')]
    assert auth_backups
    for name in auth_backups:
        backup = host.file('/home/alice/.codex/' + name)
        assert backup.mode == 0o600 and backup.user == 'alice'
    for name in [n for n in listing if n.startswith('codex-config.toml.') and n.endswith('~')]:
        assert host.file('/home/alice/dotfiles/' + name).mode == 0o640


def test_no_temp_files_left(host):
    out = host.run('find /home/alice /home/bob /etc/codex -name ".*.tmp"').stdout
    assert out.strip() == ''


def test_system_layer_readable_by_everyone(host):
    home = host.file('/etc/codex')
    assert home.is_directory and home.user == 'root' and home.mode == 0o755
    config = host.file('/etc/codex/config.toml')
    assert config.user == 'root' and config.mode == 0o644
    assert 'check_for_update_on_startup = false' in config.content_string
    assert not host.file('/etc/codex/auth.json').exists
    assert host.run('sudo -u bob cat /etc/codex/config.toml').rc == 0
