#!/usr/bin/env bash
# The hostile accounts, the root-owned files and directories they aim at, and what each account
# does to its own home (as itself, with runuser). One script, so that preparing costs one trip.
# Environment: MARKER (root-only content that must never be printed), PLANTED (a key planted in
# root's apikey file and in mallory-backups' old backup), DEPLOY_KEY (the key deploy writes: a
# root-only file that already holds exactly the auth.json deploy would write, so that only its
# owner and mode would change). Arguments: the accounts to create.
set -euo pipefail
umask 022

for account in "$@"; do
  id -u "$account" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$account"
done

# ---- root's files and directories (each account below aims at one of them)
printf '# root-owned, not a Codex file\nvictim = true\n' > /etc/codex-victim.toml
: > /etc/codex-victim-empty
printf 'root:%s:19000:0:99999:7:::\n' "$MARKER" > /etc/codex-victim-shadow
chown root:shadow /etc/codex-victim-shadow
chmod 0640 /etc/codex-victim-shadow
printf '{"OPENAI_API_KEY": "%s"}\n' "$PLANTED" > /etc/codex-victim-apikey.json
printf 'model = "%s"\n' "$MARKER" > /etc/codex-victim-secret.toml
chmod 0600 /etc/codex-victim-secret.toml
printf '# root profile, not a user file\n' > /etc/codex-victim-profile
printf 'model = "root-hard-linked"\n' > /etc/codex-victim-hardlink.toml
printf '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "%s"\n}\n' "$DEPLOY_KEY" > /etc/codex-victim-hardlink.json
chmod 0600 /etc/codex-victim-hardlink.json
rm -f /etc/profile.d/zz-mallory-etc.sh /etc/profile.d/zz-mallory-dangling.sh /etc/codex-http-installer-ran
mkdir -p /root/codex-private /opt/codex-victim-pkgs/standalone
chmod 0700 /root/codex-private /opt/codex-victim-pkgs /opt/codex-victim-pkgs/standalone
printf '%s\n' "$MARKER" > /root/codex-private/notes
chmod 0600 /root/codex-private/notes
printf 'keep\n' > /opt/codex-victim-pkgs/standalone/keep
mkdir -p /etc/codex-race
chmod 0755 /etc/codex-race

# ---- each account prepares its own home, as itself
as() { runuser -u "$1" -- /bin/bash -euc "cd && $2"; }
npm_seed='mkdir -p .local/lib/node_modules/@openai .local/bin &&
  ln -sfn /opt/codex-npm/lib/node_modules/@openai/codex .local/lib/node_modules/@openai/codex &&
  ln -sfn ../lib/node_modules/@openai/codex/bin/codex.js .local/bin/codex'

# alice (friendly): her config.toml is a dotfile-manager link to a file she owns; her per-user npm
# install (codex_install_users) is in place, so deploy manages only her ~/.profile PATH block.
as alice "$npm_seed"
as alice 'mkdir -p dotfiles .codex &&
  printf "# alice keeps this in her dotfiles repository\n[tui]\nnotifications = true\n" > dotfiles/codex.toml &&
  ln -sfn /home/alice/dotfiles/codex.toml .codex/config.toml'
as mallory-etc 'mkdir -p .codex && ln -sfn /etc/codex-victim.toml .codex/config.toml &&
  ln -sfn /etc/profile.d/zz-mallory-etc.sh .codex/auth.json'
as mallory-rootdir 'ln -sfn /root/codex-private .codex'
as mallory-empty 'mkdir -p .codex && ln -sfn /etc/codex-victim-empty .codex/config.toml'
as mallory-shadow 'mkdir -p .codex && ln -sfn /etc/codex-victim-shadow .codex/auth.json'
as mallory-apikey 'mkdir -p .codex && ln -sfn /etc/codex-victim-apikey.json .codex/auth.json'
as mallory-diff 'mkdir -p .codex && ln -sfn /etc/codex-victim-secret.toml .codex/config.toml'
# Jinja in her files: what the hosts answer reaches the controller's variables (the install
# survey's reads of the Codex homes), where it must stay data and never be templated.
as mallory-jinja "mkdir -p .codex && cat > .codex/config.toml <<'TOML'
# {{ lookup('ansible.builtin.pipe', 'touch /tmp/bytes4096-codex-jinja-ran') }}
[profiles.jinja]
model = \"{{ lookup('ansible.builtin.pipe', 'touch /tmp/bytes4096-codex-jinja-ran') }}\"
TOML
printf '{\"auth_mode\": \"{{ lookup(\x27ansible.builtin.pipe\x27, \x27touch /tmp/bytes4096-codex-jinja-ran\x27) }}\"}\n' > .codex/auth.json"
# Install-role accounts: a per-user npm install already in place (a link to the shared one), so
# the role only manages ~/.profile and ~/.codex/packages for them.
as mallory-profile "rm -f .profile && ln -s /etc/codex-victim-profile .profile &&
  mkdir -p .codex && ln -sfn /opt/codex-victim-pkgs .codex/packages && $npm_seed"
as mallory-dangling "rm -f .profile && ln -s /etc/profile.d/zz-mallory-dangling.sh .profile && $npm_seed"
as mallory-fifo 'mkdir -p .codex && rm -f .codex/auth.json && mkfifo .codex/auth.json'
as mallory-zero 'mkdir -p .codex && ln -sfn /dev/zero .codex/auth.json'
as mallory-hardlink 'mkdir -p .codex'
as mallory-loose 'mkdir -p .codex && printf "# mine\n[tui]\nnotifications = false\n" > .codex/config.toml &&
  chmod 0777 .codex && chmod 0666 .codex/config.toml'
# shellcheck disable=SC2016  # expanded by the account's own shell
PLANTED="$PLANTED" as mallory-backups 'mkdir -p -m 0700 .codex && umask 077 &&
  printf "{\"OPENAI_API_KEY\": \"%s\"}\n" "$PLANTED" > ".codex/auth.json.2026-11-30@10:00:00~"'
as mallory-racer 'mkdir -p .codex'

# fs.protected_hardlinks is a host-wide sysctl that a container cannot set to 0: root makes the
# hard link that the account could make on a host where it is 0, so the module's own refusal of a
# multiply-linked file is what is tested.
ln -f /etc/codex-victim-hardlink.toml /home/mallory-hardlink/.codex/config.toml
ln -f /etc/codex-victim-hardlink.json /home/mallory-hardlink/.codex/auth.json

# ---- a plain-http installer on loopback that marks the host if root ever runs it
mkdir -p /opt/codex-standin/http-installer
printf '#!/bin/sh\ntouch /etc/codex-http-installer-ran\nexit 1\n' > /opt/codex-standin/http-installer/install.sh
if ! python3 -c 'import socket; socket.create_connection(("127.0.0.1", 18081), 1)' 2>/dev/null; then
  cd /opt/codex-standin/http-installer
  setsid python3 -m http.server --bind 127.0.0.1 18081 > /dev/null 2>&1 < /dev/null &
fi
echo prepared
