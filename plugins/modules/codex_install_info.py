#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: codex_install_info
short_description: Learn a host's Codex CLI installs, per account, in one module execution
version_added: 0.1.0
description:
  - Reports, for each account in O(users), the C(codex) binary that account's PATH resolves to, its
    version, the install method it belongs to, other C(codex) binaries further down the same PATH
    (shadowed installs) and the PATH entries.
  - The version is read from the install layout when the binary belongs to one the module knows
    (without starting Node.js or Codex), and otherwise taken from C(codex --version) run as the
    account; see O(version).
  - Returns the account database entries of the inspected accounts and of O(lookup_users) in
    RV(passwd), so a play needs no separate C(getent) look-up.
  - Lists, in RV(installs), every install the known methods made. That is the official installer's
    layout per account and system-wide, npm under each account's prefix and npm's global prefix, and
    the Homebrew cask.
  - Returns the host properties the collection's roles need (RV(host)), so a play can skip fact
    gathering.
  - Read-only. Everything under an account's home is inspected, and every program an account
    controls (its login shell, its C(codex)) is run, in a child process that has dropped to the
    account's uid, gid and supplementary groups before touching anything, so the kernel applies
    the account's own rights. Root never follows a link the account placed, and a hostile
    C(~/.local/bin/codex) never runs as root.
  - Each account's inspection is bounded by O(timeout); a login shell or C(codex --version) that
    hangs is killed and reported as a warning, a whole inspection that hangs fails the task naming
    the account.
author:
  - bytes4096 platform team (@bytes4096)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: This action does not modify state.
  diff_mode:
    support: N/A
    details: This action does not modify state.
  platform:
    platforms: posix
    details: Linux and macOS. Windows hosts are surveyed by the install role's PowerShell tasks.
options:
  users:
    description:
      - Accounts (names) to inspect, each with the PATH of its login shell.
      - Empty inspects the account the module runs as.
      - Inspecting another account needs root (C(become) as root); each account is then inspected
        with its own rights.
    type: list
    elements: str
    default: []
  user_installs:
    description:
      - Look for per-account installs (official installer, npm prefix) in the homes of O(users).
      - Set V(false) when only system-wide installs matter (the role's system-wide scope).
    type: bool
    default: true
  user_bin_dir:
    description: Per-account directory of the installer's visible C(codex) link. A leading C(~) is
      the account's home.
    type: str
    default: "~/.local/bin"
  user_codex_home:
    description: Per-account install root of the official installer (C(CODEX_HOME)). A leading C(~)
      is the account's home.
    type: str
    default: "~/.codex"
  npm_user_prefix:
    description: Per-account npm prefix. A leading C(~) is the account's home.
    type: str
    default: "~/.local"
  system_bin_dir:
    description: Directory of the visible C(codex) link of a system-wide installer run.
    type: path
    default: /usr/local/bin
  system_codex_home:
    description: Install root (C(CODEX_HOME)) of a system-wide installer run.
    type: path
    default: /opt/codex
  npm_package:
    description: npm package name of the Codex CLI.
    type: str
    default: "@openai/codex"
  npm_executable:
    description:
      - npm binary whose global prefix is searched for a system-wide npm install. Empty uses C(npm)
        from the module's PATH.
    type: str
    default: ""
  npm_prefix_source:
    description:
      - How npm's global prefix (where a system-wide npm install lives) is found.
      - V(config) reads it from npm's configuration files (its builtin C(npmrc), C(/etc/npmrc),
        C(<prefix>/etc/npmrc), the module user's C(~/.npmrc)) and the location of C(node), without
        starting a process.
      - V(query) asks C(npm prefix -g), as the user the module runs as, with a throw-away cache
        directory; exact for any npm set-up, but it costs a Node.js start.
      - V(auto) takes the configured prefix when O(npm_package) is installed there (a converged host
        starts no process) and asks npm otherwise, so an install goes where npm puts it.
    type: str
    choices: [config, query, auto]
    default: config
  homebrew_cask:
    description: Name of the Homebrew cask (macOS).
    type: str
    default: codex
  version:
    description:
      - Where RV(accounts[].version), the version of the C(codex) each account's PATH resolves to,
        comes from.
      - V(auto) reads it from the install layout when the binary's real path belongs to one the
        module knows, without starting the binary; that is the npm package's C(package.json) (found by walking up
        from the real path to C(node_modules/<npm_package>)) or the official installer's release
        directory name (C(<codex_home>/packages/standalone/releases/<version>-<target>)). Any other binary
        is run as with V(run).
      - V(run) runs C(codex --version), as the account, for every binary (also checks that it runs).
      - V(skip) leaves RV(accounts[].version) empty.
      - RV(accounts[].version_source) says which source each account's version came from.
    type: str
    choices: [auto, run, skip]
    default: auto
  lookup_users:
    description:
      - Further account names whose account database entries are returned in RV(passwd), without
        inspecting their installs. A name that does not exist is returned as V(null) (it is not
        an error, unlike a missing name in O(users)).
    type: list
    elements: str
    default: []
  codex_homes:
    description:
      - Codex homes to read the way M(bytes4096.codex.codex_config) reads them on its first trip,
        returned in RV(codex_homes). Pass that to codex_config's
        O(bytes4096.codex.codex_config#module:prefetched) later in the same play, and a codex_config
        task with nothing to change makes no trip of its own.
      - Read with the same code and rights as codex_config (each home in a child process that has
        dropped to O(codex_homes[].owner), root only for root-owned locations); nothing is written.
      - A home that cannot be read is returned with its C(error); the task does not fail for it.
    type: list
    elements: dict
    default: []
    suboptions:
      codex_home:
        description: As codex_config's O(bytes4096.codex.codex_config#module:codex_home) (an absolute path, or C(~) for the owner's home).
        type: str
      owner:
        description: As codex_config's O(bytes4096.codex.codex_config#module:owner).
        type: str
      group:
        description: As codex_config's O(bytes4096.codex.codex_config#module:group).
        type: str
      config_mode:
        description: As codex_config's O(bytes4096.codex.codex_config#module:config_mode), as a four-digit octal string.
        type: str
  timeout:
    description:
      - Seconds allowed for inspecting one account (its login shell, C(codex --version) and the
        file checks together).
    type: int
    default: 30
notes:
  - The PATH of an account is what C(<login shell> -l -c env) prints when run as the account in a
    clean environment (C(HOME), C(USER), C(LOGNAME), C(SHELL) and C(PATH=/usr/local/bin:/usr/bin:/bin)).
    Accounts with a non-login shell (C(nologin), C(false)) or a shell that fails get that default
    PATH, and RV(accounts[].path_source) says so.
  - A version read from the layout (RV(accounts[].version_source=layout)) says which release the
    binary belongs to, not that it starts; use O(version=run) after changing an install.
  - Install method by the binary's real path - V(script) under C(<CODEX_HOME>/packages/standalone/),
    V(npm) under C(node_modules/<npm_package>/), V(homebrew) under a Homebrew prefix or C(Caskroom),
    V(system) under C(/usr/bin), C(/bin), C(/usr/lib) and similar OS package locations, V(unknown)
    otherwise.
seealso:
  - module: community.general.npm
  - name: Codex CLI install script
    description: The official installer whose layout this module recognises.
    link: https://github.com/openai/codex
'''

EXAMPLES = r'''
- name: Learn how Codex is installed for alice and bob
  bytes4096.codex.codex_install_info:
    users: [alice, bob]
  become: true
  register: __codex_info

- name: Fail when someone's codex is shadowed by another install
  ansible.builtin.assert:
    that: item.shadowed | length == 0
    fail_msg: "{{ item.user }}: {{ item.codex }} shadows {{ item.shadowed | map(attribute='path') | join(', ') }}"
  loop: "{{ __codex_info.accounts }}"
  loop_control:
    label: "{{ item.user }}"

- name: Only system-wide installs and the host's properties (no fact gathering needed)
  bytes4096.codex.codex_install_info:
    user_installs: false
    version: skip
  become: true
  register: __codex_host

- name: After an upgrade, check that each account's codex starts and prints the new version
  bytes4096.codex.codex_install_info:
    users: [alice, bob]
    version: run
  become: true
  register: __codex_after

- name: Survey alice and look up the accounts a later role configures (no getent trip)
  bytes4096.codex.codex_install_info:
    users: [alice]
    lookup_users: [alice, bob, root, gitlab-runner]
  become: true
  register: __codex_info

- name: Show bob's home, or that bob has no account here
  ansible.builtin.debug:
    msg: "{{ __codex_info.passwd.bob[4] if __codex_info.passwd.bob else 'no account bob' }}"

- name: Show the OS family without gather_facts
  ansible.builtin.debug:
    msg: "{{ __codex_host.host.os_family }} {{ __codex_host.host.architecture }}"
'''

RETURN = r'''
host:
  description: Properties of the host, named like the Ansible facts they replace.
  returned: success
  type: dict
  contains:
    system:
      description: Kernel name, as C(ansible_facts.system).
      type: str
      sample: Linux
    os_family:
      description: OS family, as C(ansible_facts.os_family).
      type: str
      sample: Debian
    distribution:
      description: Distribution, as C(ansible_facts.distribution).
      type: str
      sample: Debian
    distribution_version:
      description: Distribution version (C(VERSION_ID) of C(os-release); the macOS product version).
      type: str
      sample: "12"
    distribution_major_version:
      description: First component of RV(host.distribution_version).
      type: str
      sample: "12"
    architecture:
      description: Machine hardware name, as C(ansible_facts.architecture).
      type: str
      sample: x86_64
    pkg_mgr:
      description: OS package manager found on the module's PATH, as C(ansible_facts.pkg_mgr)
        (V(apt), V(dnf), V(yum), V(zypper), V(apk), V(pacman), V(homebrew)), or V(unknown).
      type: str
      sample: apt
    service_mgr:
      description: V(systemd) when systemd is PID 1, V(launchd) on macOS, otherwise the name of PID 1.
      type: str
      sample: systemd
    systemd:
      description: Whether systemd runs as PID 1.
      type: bool
      sample: true
tools:
  description: Programs the installers need, as found on the module's PATH (empty string when missing).
  returned: success
  type: dict
  sample: {curl: /usr/bin/curl, wget: "", tar: /usr/bin/tar, mktemp: /usr/bin/mktemp,
           npm: /usr/bin/npm, node: /usr/bin/node}
accounts:
  description: One entry per inspected account, in the order of O(users).
  returned: success
  type: list
  elements: dict
  contains:
    user:
      description: Account name.
      type: str
      sample: alice
    uid:
      description: Numeric user id.
      type: int
      sample: 1000
    gid:
      description: Primary group id.
      type: int
      sample: 1000
    home:
      description: Home directory from the account database.
      type: str
      sample: /home/alice
    shell:
      description: Login shell from the account database.
      type: str
      sample: /bin/bash
    path:
      description: PATH entries of the account, in order.
      type: list
      elements: str
      sample: [/home/alice/.local/bin, /usr/local/bin, /usr/bin, /bin]
    path_source:
      description: V(login_shell) when RV(accounts[].path) came from the account's login shell,
        V(default) when the default PATH was used (see notes).
      type: str
      sample: login_shell
    codex:
      description: The C(codex) the account's PATH resolves to; empty when there is none.
      type: str
      sample: /home/alice/.local/bin/codex
    codex_realpath:
      description: RV(accounts[].codex) with every symbolic link resolved.
      type: str
      sample: /home/alice/.codex/packages/standalone/releases/0.169.0-x86_64-unknown-linux-musl/bin/codex
    method:
      description: Install method of RV(accounts[].codex) (V(script), V(npm), V(homebrew), V(system),
        V(unknown)); empty when there is no codex.
      type: str
      sample: script
    version:
      description: Version of RV(accounts[].codex), from the source in RV(accounts[].version_source);
        empty when there is no codex, with O(version=skip), or when C(codex --version) failed or
        printed no version.
      type: str
      sample: 0.169.0
    version_source:
      description: V(layout) when RV(accounts[].version) was read from the install layout, V(run)
        when C(codex --version) was run as the account (see RV(accounts[].warnings) when it failed),
        empty when there is no codex or with O(version=skip).
      type: str
      sample: layout
    version_output:
      description: First line that C(codex --version) printed; empty when it was not run.
      type: str
      sample: codex-cli 0.169.0
    shadowed:
      description: Other C(codex) binaries later on the same PATH, with a different real path.
      type: list
      elements: dict
      sample: [{path: /usr/local/bin/codex, realpath: /usr/local/lib/node_modules/@openai/codex/bin/codex.js,
                method: npm}]
    warnings:
      description: What could not be inspected for this account (also emitted as task warnings).
      type: list
      elements: str
      sample: []
codex_homes:
  description:
    - One item per O(codex_homes) item, in order. C(request) is the read request codex_config would
      send for it; C(state) is the answer to it as codex_config's read trip returns it (the Codex
      home, C(config.toml) with its text, the C(auth.json) facts without the key), or C(error) says
      why the home could not be read.
  returned: success
  type: list
  elements: dict
  sample: [{request: {protocol: 2, codex_home: /home/alice/.codex, owner: alice, group: null, config_mode: null,
                      want_auth: true},
            state: {platform: posix, access: account}}]
passwd:
  description:
    - Account database entries of the inspected accounts (O(users), or the account the module runs
      as) and of O(lookup_users), by name.
    - Each entry is the list of strings C([name, uid, gid, gecos, home, shell]) (uid, gid, home and
      shell at the positions of M(ansible.builtin.getent)'s C(getent_passwd) values), or V(null)
      for a name in O(lookup_users) that does not exist.
  returned: success
  type: dict
  sample: {alice: [alice, "1000", "1000", "Alice,,,", /home/alice, /bin/bash], ghost: null}
installs:
  description:
    - Every install location of every known method, found or not, once per account for per-account
      locations and once for the host for system-wide ones.
    - C(slot) is C(<method>_<scope>) (V(script_user), V(npm_user), V(script_system), V(npm_system),
      V(homebrew_system)).
  returned: success
  type: list
  elements: dict
  contains:
    slot:
      description: Method and scope of the location.
      type: str
      sample: script_user
    method:
      description: V(script), V(npm) or V(homebrew).
      type: str
      sample: script
    scope:
      description: V(user) or V(system).
      type: str
      sample: user
    user:
      description: The account that owns the location (for system-wide ones, the account the module
        runs as); tasks that change it run as this account.
      type: str
      sample: alice
    home:
      description: Home directory of RV(installs[].user).
      type: str
      sample: /home/alice
    shell:
      description: Login shell of RV(installs[].user).
      type: str
      sample: /bin/bash
    version:
      description: Installed version read from the layout; empty when nothing is installed there.
      type: str
      sample: 0.169.0
    bin:
      description: Where this method puts the visible C(codex).
      type: str
      sample: /home/alice/.local/bin/codex
    complete:
      description: Installed and usable (for V(script), the visible link also points at the release).
      type: bool
      sample: true
    exists:
      description: Something of this method's layout is on disk (possibly incomplete).
      type: bool
      sample: true
    profiles:
      description: Shell profiles of the account that carry this method's PATH block (per-account
        locations only).
      type: list
      elements: str
      sample: [/home/alice/.bashrc]
    codex_home:
      description: Install root (V(script) only).
      type: str
      sample: /home/alice/.codex
    standalone:
      description: C(<codex_home>/packages/standalone) (V(script) only).
      type: str
      sample: /home/alice/.codex/packages/standalone
    target:
      description: Target triple of the current release (V(script) only).
      type: str
      sample: x86_64-unknown-linux-musl
    linked:
      description: The visible link points at the current release (V(script) only).
      type: bool
      sample: true
    prefix:
      description: npm prefix (V(npm) only).
      type: str
      sample: /home/alice/.local
'''

import functools
import json
import os
import platform
import pwd
import re
import select
import shutil
import signal
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_fs import TargetError, strerror
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_read import phase_read

DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'
INSTALLER_MARKER = '# >>> Codex installer >>>'
NPM_MARKER = '# >>> bytes4096.codex npm >>>'
PROFILES = ('.profile', '.bashrc', '.bash_profile', '.zshrc', '.zprofile')
NOLOGIN_SHELLS = ('nologin', 'false', 'true')
READ_CAP = 1024 * 1024
OUTPUT_CAP = 64 * 1024
RESULT_CAP = 4 * 1024 * 1024
SYSTEM_PREFIXES = ('/usr/bin/', '/bin/', '/usr/sbin/', '/sbin/', '/usr/lib/', '/usr/lib64/', '/usr/libexec/',
                   '/usr/share/', '/lib/', '/snap/')
HOMEBREW_PREFIXES = ('/opt/homebrew/', '/home/linuxbrew/.linuxbrew/', '/usr/local/Homebrew/')
TOOLS = ('curl', 'wget', 'tar', 'mktemp', 'npm', 'node')
PKG_MANAGERS = (('apt-get', 'apt'), ('dnf', 'dnf'), ('yum', 'yum'), ('zypper', 'zypper'), ('apk', 'apk'),
                ('pacman', 'pacman'), ('brew', 'homebrew'))
DISTRIBUTIONS = {
    'debian': 'Debian', 'ubuntu': 'Ubuntu', 'linuxmint': 'Linux Mint', 'pop': 'Pop!_OS', 'raspbian': 'Debian',
    'kali': 'Kali', 'rhel': 'RedHat', 'centos': 'CentOS', 'fedora': 'Fedora', 'rocky': 'Rocky',
    'almalinux': 'AlmaLinux', 'ol': 'OracleLinux', 'amzn': 'Amazon', 'sles': 'SLES', 'sled': 'SLED',
    'opensuse-leap': 'openSUSE Leap', 'opensuse-tumbleweed': 'openSUSE Tumbleweed', 'alpine': 'Alpine',
    'arch': 'Archlinux', 'manjaro': 'ManjaroLinux', 'gentoo': 'Gentoo',
}
FAMILIES = {
    'Debian': ('debian', 'ubuntu', 'linuxmint', 'pop', 'raspbian', 'kali'),
    'RedHat': ('rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'ol', 'amzn'),
    'Suse': ('sles', 'sled', 'opensuse', 'opensuse-leap', 'opensuse-tumbleweed', 'suse'),
    'Alpine': ('alpine',),
    'Archlinux': ('arch', 'manjaro'),
    'Gentoo': ('gentoo',),
}
VERSION_RE = re.compile(r'(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)')
# A release directory of the official installer: <version>-<target>, the version possibly with a
# pre-release part (0.170.0-alpha.2), the target a triple of a CPU Codex ships builds for.
RELEASE_RE = re.compile(r'^(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)*?)-((?:x86_64|aarch64|arm64|amd64)-[0-9A-Za-z_.-]+)$')
VERSION_MODES = ('auto', 'run', 'skip')


# ----- Pure decisions (unit-tested) ---------------------------------------------------------------

def expand_home(value, home):
    """A leading ~ of a role-style path is the account's home."""
    if value == '~':
        return home
    if value.startswith('~/'):
        return os.path.join(home, value[2:])
    return value


def split_path(value):
    """PATH entries in order; empty entries are dropped (they mean the working directory)."""
    return [entry for entry in (value or '').split(':') if entry]


def classify(realpath, npm_package, codex_homes=()):
    """Install method of a codex binary, by its real path."""
    if not realpath:
        return ''
    for home in codex_homes:
        if home and realpath.startswith(home.rstrip('/') + '/packages/standalone/'):
            return 'script'
    if '/packages/standalone/releases/' in realpath:
        return 'script'
    if '/node_modules/%s/' % npm_package in realpath:
        return 'npm'
    if '/Caskroom/' in realpath or '/Cellar/' in realpath or realpath.startswith(HOMEBREW_PREFIXES):
        return 'homebrew'
    if realpath.startswith(SYSTEM_PREFIXES):
        return 'system'
    return 'unknown'


def split_release(name):
    """(version, target) of an installer release directory name; ('', '') when it is not one."""
    match = RELEASE_RE.match(name or '')
    return (match.group(1), match.group(2)) if match else ('', '')


def script_layout_version(realpath, codex_homes=()):
    """Version of a binary inside the official installer's layout, from its release directory
    (<codex_home>/packages/standalone/releases/<version>-<target>/...); '' when it is not in one."""
    prefixes = [home.rstrip('/') + '/packages/standalone/' for home in codex_homes if home]
    rest = None
    for prefix in prefixes:
        if realpath.startswith(prefix):
            rest = realpath[len(prefix):]
            break
    if rest is None:
        marker = '/packages/standalone/releases/'
        if marker not in realpath:
            return ''
        rest = 'releases/' + realpath.split(marker, 1)[1]
    parts = rest.split('/')
    if parts[0] == 'releases':
        parts = parts[1:]
    if len(parts) < 2:  # the release directory itself is not a binary inside it
        return ''
    return split_release(parts[0])[0]


def npm_layout_version(realpath, npm_package, read=None):
    """Version of a binary inside an npm install of npm_package, from the package.json found by
    walking up from its real path to .../node_modules/<npm_package>; '' when there is none, it is
    not that package's or it carries no version. read(path) returns a regular file's text or None."""
    read = read or read_regular
    suffix = '/node_modules/' + npm_package.strip('/')
    directory = os.path.dirname(realpath)
    while directory and directory != '/':
        if directory.endswith(suffix):
            text = read(os.path.join(directory, 'package.json'))
            try:
                manifest = json.loads(text) if text is not None else None
            except ValueError:
                manifest = None
            if not isinstance(manifest, dict) or manifest.get('name') != npm_package:
                return ''
            version = manifest.get('version')
            return version if isinstance(version, str) and VERSION_RE.match(version) else ''
        directory = os.path.dirname(directory)
    return ''


def layout_version(realpath, method, npm_package, codex_homes=(), read=None):
    """Version of a codex binary read from the layout of the install it belongs to, without running
    it; '' for a binary outside the layouts of the script and npm methods."""
    if method == 'script':
        return script_layout_version(realpath, codex_homes)
    if method == 'npm':
        return npm_layout_version(realpath, npm_package, read)
    return ''


def passwd_entry(account):
    """An account database entry as the list of strings [name, uid, gid, gecos, home, shell]."""
    return [account.pw_name, str(account.pw_uid), str(account.pw_gid), account.pw_gecos or '',
            account.pw_dir, account.pw_shell]


def resolve_on_path(found):
    """Split the codex binaries found along PATH (in order, each {path, realpath}) into the one PATH
    resolves to and the ones it shadows. A later entry that is the same file is not a second install."""
    if not found:
        return None, []
    first = found[0]
    shadowed, seen = [], {first['realpath']}
    for entry in found[1:]:
        if entry['realpath'] in seen:
            continue
        seen.add(entry['realpath'])
        shadowed.append(entry)
    return first, shadowed


def parse_version(text):
    """The version in `codex --version` output (`codex-cli 0.169.0`)."""
    for line in (text or '').splitlines():
        if 'codex' in line.lower():
            match = VERSION_RE.search(line)
            if match:
                return match.group(1)
    match = VERSION_RE.search(text or '')
    return match.group(1) if match else ''


def path_from_env_output(text):
    """PATH from `env` output printed after whatever a login profile echoed: the last PATH= line."""
    value = None
    for line in (text or '').splitlines():
        if line.startswith('PATH='):
            value = line[len('PATH='):]
    return value


def os_family(system, os_release):
    if system == 'Darwin':
        return 'Darwin'
    ids = [os_release.get('ID', '').lower()] + os_release.get('ID_LIKE', '').lower().split()
    for ident in ids:
        for family, members in FAMILIES.items():
            if ident in members:
                return family
    return system


def distribution(system, os_release):
    if system == 'Darwin':
        return 'MacOSX'
    ident = os_release.get('ID', '').lower()
    if not ident:
        return system
    return DISTRIBUTIONS.get(ident, os_release.get('NAME', ident.capitalize()))


def parse_os_release(text):
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        key, value = line.split('=', 1)
        values[key] = value.strip().strip('"').strip("'")
    return values


# ----- Bounded I/O ----------------------------------------------------------------------------------

def read_regular(path, cap=READ_CAP):
    """Text of a regular file, at most cap bytes. Never blocks on a FIFO or device; None when the
    file is missing, unreadable or not regular."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, size = [], 0
        while size < cap:
            chunk = os.read(fd, min(65536, cap - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b''.join(chunks).decode('utf-8', 'replace')
    except OSError:
        return None
    finally:
        os.close(fd)


def is_executable_file(path):
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and os.access(path, os.X_OK)


def exit_code(status):
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else 255


def spawn(argv, env, cwd):
    """Start argv (an absolute program path) in a new session with stdin from /dev/null; returns
    (pid, stdout fd, stderr fd). Every other descriptor of this process is close-on-exec."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: exec or exit, never return into the module
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        except Exception as exc:  # reported on the child's stderr, exit status 127
            try:
                os.write(2, ('cannot run %s: %s' % (argv[0], exc)).encode('utf-8', 'replace'))
            except OSError:
                pass
        finally:
            os._exit(127)
    os.close(out_w)
    os.close(err_w)
    return pid, out_r, err_r


def run_bounded(argv, env, cwd, seconds):
    """Run argv in its own session, output capped. Returns (rc, stdout, stderr); rc is None when the
    whole session was killed at the deadline. Descendants holding the pipes open are not waited for."""
    pid, out_fd, err_fd = spawn(argv, env, cwd)
    out = {out_fd: bytearray(), err_fd: bytearray()}
    open_fds = set(out)
    deadline = time.monotonic() + max(seconds, 0.1)
    status = None
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if open_fds:
            ready = select.select(list(open_fds), [], [], min(left, 0.2))[0]
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.discard(fd)
                    continue
                # Beyond the cap, keep draining so the writer is not stalled until the deadline.
                out[fd].extend(chunk[:max(OUTPUT_CAP - len(out[fd]), 0)])
        else:
            time.sleep(min(left, 0.05))
        waited, raw = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            status = exit_code(raw)
            # Collect what is already buffered, without waiting for descendants.
            for fd in list(open_fds):
                while select.select([fd], [], [], 0)[0]:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    out[fd].extend(chunk[:max(OUTPUT_CAP - len(out[fd]), 0)])
    if status is None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(pid, 0)
    os.close(out_fd)
    os.close(err_fd)
    return status, bytes(out[out_fd]).decode('utf-8', 'replace'), bytes(out[err_fd]).decode('utf-8', 'replace')


def drop_privileges(account):
    """Become the account for good: supplementary groups, then gid, then uid (saved ids included)."""
    os.setgroups(os.getgrouplist(account.pw_name, account.pw_gid))
    if hasattr(os, 'setresgid'):
        os.setresgid(account.pw_gid, account.pw_gid, account.pw_gid)
        os.setresuid(account.pw_uid, account.pw_uid, account.pw_uid)
    else:  # macOS: setgid/setuid as root set the real, effective and saved ids
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
    if os.getuid() != account.pw_uid or os.geteuid() != account.pw_uid or os.getegid() != account.pw_gid:
        raise PermissionError('could not drop to the credentials of %s' % account.pw_name)


def _child_payload(account, work):
    try:
        os.setsid()
        if os.geteuid() == 0 and account.pw_uid != 0:
            drop_privileges(account)
        if os.getuid() != account.pw_uid and os.geteuid() != account.pw_uid:
            raise PermissionError('running as uid %d cannot inspect account %s (uid %d); become root'
                                  % (os.geteuid(), account.pw_name, account.pw_uid))
        os.umask(0o077)
        os.chdir('/')
        return {'result': work()}
    except Exception as exc:  # reported to the parent, which fails the task naming the account
        return {'error': '%s: %s' % (type(exc).__name__, exc)}


def as_account(account, work, seconds):
    """Run work() in a forked child that holds only the account's credentials (when the module runs
    as root) and return what it returns (JSON-able). Raises TimeoutError or RuntimeError."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: whatever happens, it ends here and never returns into the module
        status = 1
        try:
            os.close(read_end)
            data = json.dumps(_child_payload(account, work)).encode('utf-8')
            while data:
                data = data[os.write(write_end, data):]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    chunks, size = [], 0
    deadline = time.monotonic() + seconds
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready = select.select([read_end], [], [], left)[0]
            if not ready:
                continue
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > RESULT_CAP:
                raise RuntimeError('the inspection of %s returned more than %d bytes' % (account.pw_name, RESULT_CAP))
            chunks.append(chunk)
    finally:
        os.close(read_end)
        if timed_out or size > RESULT_CAP:
            for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except OSError:
                    pass
        os.waitpid(pid, 0)
    if timed_out:
        raise TimeoutError('inspecting account %s did not finish within %d seconds' % (account.pw_name, seconds))
    try:
        payload = json.loads(b''.join(chunks).decode('utf-8'))
    except ValueError:
        raise RuntimeError('the inspection of %s ended without a result' % account.pw_name) from None
    if 'error' in payload:
        raise RuntimeError('inspecting account %s failed: %s' % (account.pw_name, payload['error']))
    return payload['result']


# ----- What one account sees (runs as the account) --------------------------------------------------

def account_env(account, path):
    return {'HOME': account.pw_dir, 'USER': account.pw_name, 'LOGNAME': account.pw_name,
            'SHELL': account.pw_shell or '/bin/sh', 'PATH': path, 'LANG': 'C.UTF-8'}


def login_path(account, seconds):
    shell = account.pw_shell or '/bin/sh'
    if os.path.basename(shell) in NOLOGIN_SHELLS or not is_executable_file(shell):
        return DEFAULT_PATH, 'default', ''
    env_binary = '/usr/bin/env' if is_executable_file('/usr/bin/env') else 'env'
    cwd = account.pw_dir if os.path.isdir(account.pw_dir) else '/'
    rc, stdout, stderr = run_bounded([shell, '-l', '-c', 'exec %s' % env_binary],
                                     account_env(account, DEFAULT_PATH), cwd, seconds)
    value = path_from_env_output(stdout)
    if rc is None:
        return DEFAULT_PATH, 'default', '%s: the login shell %s did not finish within %d seconds; used PATH=%s' % (
            account.pw_name, shell, seconds, DEFAULT_PATH)
    if rc != 0 or value is None:
        return DEFAULT_PATH, 'default', '%s: the login shell %s exited %s without a PATH (%s); used PATH=%s' % (
            account.pw_name, shell, rc, stderr.strip()[:200], DEFAULT_PATH)
    return value, 'login_shell', ''


def codex_on_path(entries):
    found = []
    for entry in entries:
        if not os.path.isabs(entry):
            continue
        candidate = os.path.join(entry, 'codex')
        if is_executable_file(candidate):
            found.append({'path': candidate, 'realpath': os.path.realpath(candidate)})
    return found


def profiles_with(home, marker):
    hits = []
    for name in PROFILES:
        path = os.path.join(home, name)
        text = read_regular(path)
        if text is not None and marker in text:
            hits.append(path)
    return hits


def script_install(codex_home, bin_dir, common):
    standalone = os.path.join(codex_home, 'packages', 'standalone')
    current = os.path.join(standalone, 'current')
    binary = os.path.join(bin_dir, 'codex')
    version = target = ''
    if os.path.islink(current) and is_executable_file(os.path.join(current, 'codex')):
        release = os.path.basename(os.readlink(current).rstrip('/'))
        version, target = split_release(release)
        if not version:  # not a <version>-<target> name the module knows: split at the first dash
            version, dash, target = release.partition('-')
            target = target if dash else ''
    linked = False
    try:
        linked = os.path.islink(binary) and os.readlink(binary) == os.path.join(current, 'codex')
    except OSError:
        pass
    entry = dict(common, method='script', version=version, target=target, linked=linked, bin=binary,
                 codex_home=codex_home, standalone=standalone,
                 exists=os.path.lexists(standalone) or linked)
    entry['complete'] = bool(version) and linked
    return entry


def npm_install(prefix, package, common):
    version = ''
    text = read_regular(os.path.join(prefix, 'lib', 'node_modules', package, 'package.json')) if prefix else None
    if text is not None:
        try:
            manifest = json.loads(text)
            version = str(manifest.get('version', '')) if isinstance(manifest, dict) else ''
        except ValueError:
            version = ''
    return dict(common, method='npm', version=version, prefix=prefix,
                bin=os.path.join(prefix, 'bin', 'codex') if prefix else '',
                exists=bool(version), complete=bool(version))


def inspect_account(account, params, codex_homes, deadline):
    """Everything about one account; called in the child that runs as the account."""
    home = account.pw_dir
    warnings = []
    path_value, path_source, note = login_path(account, max(deadline - time.monotonic(), 1) / 2)
    if note:
        warnings.append(note)
    entries = split_path(path_value)
    first, shadowed = resolve_on_path(codex_on_path(entries))
    homes = list(codex_homes) + [expand_home(params['user_codex_home'], home)]
    result = {
        'path': entries, 'path_source': path_source, 'codex': '', 'codex_realpath': '', 'method': '',
        'version': '', 'version_source': '', 'version_output': '',
        'shadowed': [dict(s, method=classify(s['realpath'], params['npm_package'], homes)) for s in shadowed],
    }
    if first:
        method = classify(first['realpath'], params['npm_package'], homes)
        result.update(codex=first['path'], codex_realpath=first['realpath'], method=method)
        if params['version'] == 'auto':
            version = layout_version(first['realpath'], method, params['npm_package'], homes)
            if version:
                result.update(version=version, version_source='layout')
        if params['version'] == 'run' or (params['version'] == 'auto' and not result['version_source']):
            result['version_source'] = 'run'
            seconds = max(deadline - time.monotonic(), 1)
            cwd = home if os.path.isdir(home) else '/'
            rc, stdout, stderr = run_bounded([first['path'], '--version'], account_env(account, path_value), cwd,
                                             seconds)
            if rc is None:
                warnings.append('%s: %s --version did not finish within %d seconds' % (
                    account.pw_name, first['path'], seconds))
            elif rc != 0:
                warnings.append('%s: %s --version exited %s: %s' % (
                    account.pw_name, first['path'], rc, stderr.strip()[:200]))
            else:
                result['version'] = parse_version(stdout)
                result['version_output'] = (stdout.strip().splitlines() or [''])[0][:200]
    installs = []
    if params['user_installs']:
        common = {'scope': 'user', 'user': account.pw_name, 'home': home, 'shell': account.pw_shell}
        script = script_install(expand_home(params['user_codex_home'], home),
                                expand_home(params['user_bin_dir'], home), dict(common, slot='script_user'))
        script['profiles'] = profiles_with(home, INSTALLER_MARKER)
        npm = npm_install(expand_home(params['npm_user_prefix'], home), params['npm_package'],
                          dict(common, slot='npm_user'))
        npm['profiles'] = profiles_with(home, NPM_MARKER)
        installs = [script, npm]
    result['warnings'] = warnings
    result['installs'] = installs
    return result


# ----- The host (runs as the module's user) ---------------------------------------------------------

def host_facts():
    system = platform.system()
    os_release = {}
    if system == 'Linux':
        for path in ('/etc/os-release', '/usr/lib/os-release'):
            text = read_regular(path)
            if text is not None:
                os_release = parse_os_release(text)
                break
    version = platform.mac_ver()[0] if system == 'Darwin' else os_release.get('VERSION_ID', '')
    pid1 = (read_regular('/proc/1/comm') or '').strip() if system == 'Linux' else ''
    pkg_mgr = 'unknown'
    for binary, name in PKG_MANAGERS:
        if shutil.which(binary):
            pkg_mgr = name
            break
    service_mgr = 'launchd' if system == 'Darwin' else (pid1 or 'unknown')
    return {
        'system': system,
        'os_family': os_family(system, os_release),
        'distribution': distribution(system, os_release),
        'distribution_version': version,
        'distribution_major_version': version.split('.')[0] if version else '',
        'architecture': platform.machine(),
        'pkg_mgr': pkg_mgr,
        'service_mgr': service_mgr,
        'systemd': pid1 == 'systemd',
    }


def find_tools(npm_executable):
    tools = {name: shutil.which(name) or '' for name in TOOLS}
    if npm_executable:
        tools['npm'] = npm_executable if is_executable_file(npm_executable) else ''
    return tools


def npmrc_prefix(text):
    """The last prefix= setting of an npmrc, or None."""
    value = None
    for line in (text or '').splitlines():
        key, sep, rest = line.strip().partition('=')
        if sep and key.strip() == 'prefix' and '${' not in rest:
            value = rest.strip().strip('"').strip("'")
    return value


def npm_prefix_from_config(npm, node, home):
    """npm's global prefix as npm computes it, from its config files (no process started):
    the default is the prefix of the node binary; npm's builtin npmrc, the global npmrc and the
    user's ~/.npmrc override it, later ones winning."""
    if not npm:
        return ''
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(node))) if node else '/usr/local'
    npm_cli = os.path.realpath(npm)
    builtin = [os.path.join(os.path.dirname(os.path.dirname(npm_cli)), 'npmrc')]
    global_rcs = ['/etc/npmrc', os.path.join(prefix, 'etc', 'npmrc')]
    for path in builtin + global_rcs + [os.path.join(home, '.npmrc')]:
        value = npmrc_prefix(read_regular(path))
        if value:
            prefix = expand_home(value, home)
    return prefix


def npm_global_prefix(npm, seconds):
    """npm's global prefix as `npm prefix -g` prints it (without any per-account prefix override and
    with a throw-away cache, so the query leaves no files behind)."""
    if not npm:
        return '', ''
    scratch = tempfile.mkdtemp(prefix='codex-install-info.')
    try:
        env = {key: value for key, value in os.environ.items()
               if key.lower() not in ('npm_config_prefix', 'npm_config_cache')}
        env.update(npm_config_cache=scratch, npm_config_logs_max='0', npm_config_update_notifier='false')
        rc, stdout, stderr = run_bounded([npm, 'prefix', '-g'], env, '/', seconds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if rc != 0:
        return '', 'npm prefix -g %s: %s' % ('timed out' if rc is None else 'exited %s' % rc, stderr.strip()[:200])
    return (stdout.strip().splitlines() or [''])[-1], ''


def homebrew_install(cask, common):
    versions, binary = [], ''
    for prefix in ('/opt/homebrew', '/usr/local'):
        caskroom = os.path.join(prefix, 'Caskroom', cask)
        try:
            names = [name for name in os.listdir(caskroom) if not name.startswith('.')]
        except OSError:
            continue
        versions.extend(names)
        binary = binary or os.path.join(prefix, 'bin', 'codex')
    version = sorted(versions)[-1] if versions else ''
    return dict(common, method='homebrew', version=version, bin=binary, exists=bool(version),
                complete=bool(version))


def lookup_passwd(names, known=()):
    """name -> passwd_entry() or None for each name; `known` are pwd entries already looked up."""
    entries = {account.pw_name: passwd_entry(account) for account in known}
    for name in names:
        if name in entries:
            continue
        try:
            entries[name] = passwd_entry(pwd.getpwnam(name))
        except (KeyError, ValueError, TypeError):  # no such account, or a name no account can have
            entries[name] = None
    return entries


def read_codex_home(item):
    """codex_config's read trip for one Codex home: {request, state} or {request, error}."""
    config_mode = item.get('config_mode')
    try:  # as codex_config's action writes it ('644' and '0644' are the same mode)
        config_mode = None if config_mode is None else '%04o' % int(config_mode, 8)
    except ValueError:
        pass  # refused by the read below, as codex_config refuses it
    request = {'protocol': proto.PROTOCOL_VERSION, 'codex_home': item.get('codex_home'), 'owner': item.get('owner'),
               'group': item.get('group'), 'config_mode': config_mode, 'want_auth': True}
    try:
        return {'request': request, 'state': phase_read(request)}
    except (TargetError, proto.ProtocolError, ValueError, KeyError, TypeError) as exc:
        # codex_config then makes its own read trip and fails with this message there
        return {'request': request, 'error': to_native(exc)[:2000]}
    except OSError as exc:
        return {'request': request, 'error': '%s: %s' % (to_native(getattr(exc, 'filename', '') or ''), strerror(exc))}


def survey(module, params):
    me = pwd.getpwuid(os.geteuid())
    accounts = []
    for name in params['users'] or [me.pw_name]:
        try:
            accounts.append(pwd.getpwnam(name))
        except KeyError:
            module.fail_json(msg='codex_install_info: no such account: %s' % name)
    passwd = lookup_passwd(params['lookup_users'], accounts)
    warnings = []
    system_common = {'scope': 'system', 'user': me.pw_name, 'home': me.pw_dir, 'shell': me.pw_shell, 'profiles': []}
    tools = find_tools(params['npm_executable'])
    npm_common = dict(system_common, slot='npm_system')
    npm_system = npm_install(npm_prefix_from_config(tools['npm'], tools['node'], me.pw_dir), params['npm_package'],
                             npm_common)
    source = params['npm_prefix_source']
    if source == 'query' or (source == 'auto' and not npm_system['exists']):
        npm_prefix, note = npm_global_prefix(tools['npm'], params['timeout'])
        if note:
            warnings.append(note)
        npm_system = npm_install(npm_prefix, params['npm_package'], npm_common)
    installs = [
        script_install(params['system_codex_home'], params['system_bin_dir'], dict(system_common, slot='script_system')),
        npm_system,
        homebrew_install(params['homebrew_cask'], dict(system_common, slot='homebrew_system')),
    ]
    results = []
    for account in accounts:
        work = functools.partial(inspect_account, account, params, [params['system_codex_home']],
                                 time.monotonic() + params['timeout'])
        try:
            found = as_account(account, work, params['timeout'] + 2)
        except (TimeoutError, RuntimeError, OSError) as exc:
            module.fail_json(msg='codex_install_info: %s' % exc, user=account.pw_name)
        warnings.extend(found['warnings'])
        installs.extend(found.pop('installs'))
        results.append(dict({'user': account.pw_name, 'uid': account.pw_uid, 'gid': account.pw_gid,
                             'home': account.pw_dir, 'shell': account.pw_shell}, **found))
    # Per-account locations first, in the order of the accounts, then the system-wide ones.
    installs = [i for i in installs if i['scope'] == 'user'] + [i for i in installs if i['scope'] == 'system']
    codex_homes = [read_codex_home(item) for item in params.get('codex_homes') or []]
    return {'host': host_facts(), 'tools': tools, 'accounts': results, 'installs': installs, 'codex_homes': codex_homes,
            'passwd': passwd}, warnings


def main():
    module = AnsibleModule(
        argument_spec=dict(
            users=dict(type='list', elements='str', default=[]),
            user_installs=dict(type='bool', default=True),
            user_bin_dir=dict(type='str', default='~/.local/bin'),
            user_codex_home=dict(type='str', default='~/.codex'),
            npm_user_prefix=dict(type='str', default='~/.local'),
            system_bin_dir=dict(type='path', default='/usr/local/bin'),
            system_codex_home=dict(type='path', default='/opt/codex'),
            npm_package=dict(type='str', default='@openai/codex'),
            npm_executable=dict(type='str', default=''),
            homebrew_cask=dict(type='str', default='codex'),
            npm_prefix_source=dict(type='str', default='config', choices=['config', 'query', 'auto']),
            version=dict(type='str', default='auto', choices=list(VERSION_MODES)),
            lookup_users=dict(type='list', elements='str', default=[]),
            codex_homes=dict(type='list', elements='dict', default=[], options=dict(
                codex_home=dict(type='str'), owner=dict(type='str'), group=dict(type='str'),
                config_mode=dict(type='str'))),
            timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    if module.params['timeout'] < 1:
        module.fail_json(msg='codex_install_info: timeout must be at least 1 second')
    result, warnings = survey(module, module.params)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
