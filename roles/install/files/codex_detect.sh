#!/bin/sh
# Read-only survey of the Codex installs one account can see, for bytes4096.codex.install.
# Runs as the target user (or root for a system-wide install); prints one JSON object; changes
# nothing. Arguments (all required, "" where not applicable):
#   1 scope              user | system
#   2 user bin dir       e.g. ~/.local/bin      (script method, per user)
#   3 user codex home    e.g. ~/.codex          (script method, per user)
#   4 user npm prefix    e.g. ~/.local          (npm method, per user)
#   5 system bin dir     e.g. /usr/local/bin    (script method, system-wide)
#   6 system codex home  e.g. /opt/codex        (script method, system-wide)
#   7 npm package        e.g. @openai/codex
#   8 npm executable     "" = npm from PATH
set -u

scope="$1"
pkg="$7"
npm_cmd="$8"

expand() {
  case "$1" in
    \~) printf '%s' "$HOME" ;;
    \~/*) printf '%s/%s' "$HOME" "${1#\~/}" ;;
    *) printf '%s' "$1" ;;
  esac
}

json_str() {
  # JSON string literal: escape backslashes, quotes and control characters we may meet in paths.
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' | tr -d '\n\r')"
}

tool() { command -v "$1" 2>/dev/null || true; }

# Script (standalone) install rooted at codex home $1 with its visible link in bin dir $2.
script_slot() {
  home_dir="$1"
  bin="$2/codex"
  current="$home_dir/packages/standalone/current"
  version=""
  target=""
  if [ -L "$current" ] && [ -x "$current/codex" ]; then
    release="$(basename "$(readlink "$current")")"
    version="${release%%-*}"
    target="${release#*-}"
  fi
  linked=false
  if [ -L "$bin" ] && [ "$(readlink "$bin")" = "$current/codex" ]; then
    linked=true
  fi
  printf '{"version": %s, "target": %s, "linked": %s, "bin": %s, "codex_home": %s, "standalone": %s}' \
    "$(json_str "$version")" "$(json_str "$target")" "$linked" "$(json_str "$bin")" \
    "$(json_str "$home_dir")" "$(json_str "$home_dir/packages/standalone")"
}

# npm install of $pkg under prefix $1.
npm_slot() {
  prefix="$1"
  version=""
  manifest="$prefix/lib/node_modules/$pkg/package.json"
  if [ -n "$prefix" ] && [ -f "$manifest" ]; then
    # First "version" key, whether the manifest is pretty-printed or on one line.
    version="$(tr ',' '\n' < "$manifest" |
      sed -n 's/^[[:space:]{]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)"
  fi
  printf '{"version": %s, "prefix": %s, "bin": %s}' \
    "$(json_str "$version")" "$(json_str "$prefix")" "$(json_str "${prefix:+$prefix/bin/codex}")"
}

[ -n "$npm_cmd" ] || npm_cmd="$(tool npm)"
npm_global_prefix=""
if [ -n "$npm_cmd" ] && [ -x "$npm_cmd" ]; then
  # The global prefix without any per-user prefix override from the role's environment. npm
  # creates its cache and log directories even for this query: point them at a throwaway
  # directory so the survey leaves the account's home untouched.
  scratch="$(mktemp -d)"
  npm_global_prefix="$(env -u npm_config_prefix -u NPM_CONFIG_PREFIX npm_config_cache="$scratch" \
    npm_config_logs_max=0 npm_config_update_notifier=false "$npm_cmd" prefix -g 2>/dev/null || true)"
  rm -rf "$scratch"
fi

shell="$(getent passwd "$(id -un)" 2>/dev/null | cut -d: -f7)"
[ -n "$shell" ] || shell="${SHELL:-/bin/sh}"

# What `codex` resolves to for this account: a login shell for a person, the current PATH for root.
path_codex=""
if [ "$scope" = user ] && [ -x "$shell" ]; then
  if command -v timeout >/dev/null 2>&1; then
    path_codex="$(cd "$HOME" && timeout 20 "$shell" -lc 'command -v codex' </dev/null 2>/dev/null | tail -n 1)"
  else
    path_codex="$(cd "$HOME" && "$shell" -lc 'command -v codex' </dev/null 2>/dev/null | tail -n 1)"
  fi
else
  path_codex="$(tool codex)"
fi

brew_version=""
if [ "$(uname -s)" = Darwin ] && command -v brew >/dev/null 2>&1; then
  brew_version="$(brew list --cask --versions codex 2>/dev/null | awk '{print $2}')"
fi

# Shell profiles that carry the official installer's PATH block, and the role's npm PATH block.
profiles=""
npm_profiles=""
for f in .profile .bashrc .bash_profile .zshrc .zprofile; do
  [ -f "$HOME/$f" ] || continue
  if grep -qF '# >>> Codex installer >>>' "$HOME/$f" 2>/dev/null; then
    profiles="$profiles${profiles:+, }$(json_str "$HOME/$f")"
  fi
  if grep -qF '# >>> bytes4096.codex npm >>>' "$HOME/$f" 2>/dev/null; then
    npm_profiles="$npm_profiles${npm_profiles:+, }$(json_str "$HOME/$f")"
  fi
done

if [ "$scope" = user ]; then
  user_script="$(script_slot "$(expand "$3")" "$(expand "$2")")"
  user_npm="$(npm_slot "$(expand "$4")")"
else
  user_script="null"
  user_npm="null"
fi

printf '{"user": %s, "home": %s, "shell": %s, "system": %s, "machine": %s,\n' \
  "$(json_str "$(id -un)")" "$(json_str "$HOME")" "$(json_str "$shell")" \
  "$(json_str "$(uname -s)")" "$(json_str "$(uname -m)")"
printf ' "tools": {"curl": %s, "wget": %s, "tar": %s, "mktemp": %s, "npm": %s, "node": %s},\n' \
  "$(json_str "$(tool curl)")" "$(json_str "$(tool wget)")" "$(json_str "$(tool tar)")" \
  "$(json_str "$(tool mktemp)")" "$(json_str "$npm_cmd")" "$(json_str "$(tool node)")"
printf ' "path_codex": %s, "profiles": [%s], "npm_profiles": [%s],\n' \
  "$(json_str "$path_codex")" "$profiles" "$npm_profiles"
printf ' "slots": {"script_user": %s, "npm_user": %s,\n' "$user_script" "$user_npm"
printf '   "script_system": %s,\n' "$(script_slot "$6" "$5")"
printf '   "npm_system": %s,\n' "$(npm_slot "$npm_global_prefix")"
printf '   "homebrew_system": {"version": %s, "bin": ""}}}\n' "$(json_str "$brew_version")"
