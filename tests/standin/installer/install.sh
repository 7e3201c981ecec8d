#!/bin/sh
# TEST-ONLY STAND-IN for the official Codex installer (https://chatgpt.com/codex/install.sh).
# Neither GitHub nor OpenAI's release host is reachable in CI, so the molecule scenarios serve this
# script over loopback instead. It is our own code: it honours the same environment contract and
# produces the same on-disk layout, so the role under test cannot tell the difference.
#
# Contract shared with the official installer:
#   CODEX_RELEASE          latest | x.y.z (also accepted: --release VERSION; both must agree)
#   CODEX_NON_INTERACTIVE  1: never prompt (this stand-in never prompts; it refuses to run without
#                          it when a terminal is attached, like an installer that would ask)
#   CODEX_INSTALL_DIR      directory of the visible `codex` link (default ~/.local/bin)
#   CODEX_HOME             install root (default ~/.codex); releases land in
#                          $CODEX_HOME/packages/standalone/releases/<version>-<target>, with a
#                          `current` symlink next to them and $CODEX_INSTALL_DIR/codex -> current/codex
#   Shell profile          when CODEX_INSTALL_DIR is not on PATH, a block between
#                          "# >>> Codex installer >>>" and "# <<< Codex installer <<<" is added
#                          to the profile the official installer picks for $SHELL.
# Test-only extension:
#   CODEX_STANDIN_DOWNLOAD_URL  base URL serving `latest`, codex-npm-<tag>-<version>.tgz and
#                               codex-npm-<tag>-<version>.tgz.sha256 (built by build-release.sh)
set -eu

say() { printf '==> %s\n' "$*"; }
die() { printf 'codex stand-in installer: %s\n' "$*" >&2; exit 1; }

release="${CODEX_RELEASE:-latest}"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --release)
      [ "$#" -ge 2 ] || die "--release requires a value"
      if [ -n "${CODEX_RELEASE:-}" ] && [ "$CODEX_RELEASE" != "$2" ]; then
        die "--release $2 disagrees with CODEX_RELEASE=$CODEX_RELEASE"
      fi
      release="$2"
      shift
      ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done

if [ "${CODEX_NON_INTERACTIVE:-0}" != "1" ] && [ -t 0 ]; then
  die "interactive mode is not implemented by the stand-in; set CODEX_NON_INTERACTIVE=1"
fi
base_url="${CODEX_STANDIN_DOWNLOAD_URL:?CODEX_STANDIN_DOWNLOAD_URL must name the stand-in release server}"
base_url="${base_url%/}"
bin_dir="${CODEX_INSTALL_DIR:-$HOME/.local/bin}"
codex_home="${CODEX_HOME:-$HOME/.codex}"
standalone="$codex_home/packages/standalone"

for tool in mktemp tar; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required to install Codex"
done
if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL "$1" -o "$2"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "curl or wget is required to install Codex"
fi

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) die "supports macOS and Linux only, not $(uname -s)" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64; npm_arch=x64 ;;
  aarch64 | arm64) arch=aarch64; npm_arch=arm64 ;;
  *) die "unsupported architecture: $(uname -m)" ;;
esac
if [ "$os" = linux ]; then target="$arch-unknown-linux-musl"; else target="$arch-apple-darwin"; fi
npm_tag="$os-$npm_arch"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

case "$release" in
  latest | "")
    fetch "$base_url/latest" "$work/latest" || die "cannot resolve the latest release from $base_url"
    version="$(tr -d ' \n\r' < "$work/latest")"
    ;;
  v*) version="${release#v}" ;;
  *) version="$release" ;;
esac
case "$version" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) die "not a release version: '$version'" ;;
esac

release_dir="$standalone/releases/$version-$target"
if [ -x "$release_dir/codex" ]; then
  say "Codex $version is already unpacked in $release_dir"
else
  asset="codex-npm-$npm_tag-$version.tgz"
  say "Downloading Codex $version ($target)"
  fetch "$base_url/$asset.sha256" "$work/expected" || die "release $version not found ($asset.sha256)"
  fetch "$base_url/$asset" "$work/$asset" || die "release $version not found ($asset)"
  expected="$(tr -d ' \n\r' < "$work/expected")"
  if command -v sha256sum >/dev/null 2>&1; then
    actual="$(sha256sum "$work/$asset" | cut -d ' ' -f 1)"
  else
    actual="$(shasum -a 256 "$work/$asset" | cut -d ' ' -f 1)"
  fi
  [ "$expected" = "$actual" ] || die "checksum mismatch for $asset: expected $expected, got $actual"
  mkdir -p "$work/x"
  tar -xzf "$work/$asset" -C "$work/x"
  vendor="$work/x/package/vendor/$target"
  [ -d "$vendor" ] || die "$asset has no vendor/$target"
  # Older packages ship vendor/<target>/codex/codex, newer ones vendor/<target>/bin/codex: keep
  # the tree as shipped (the binary finds its resources relative to itself) and expose `codex`.
  stage="$standalone/releases/.staging.$version-$target.$$"
  mkdir -p "$standalone/releases"
  rm -rf "$stage"
  cp -R "$vendor" "$stage"
  if [ -f "$stage/bin/codex" ]; then
    rel="bin/codex"
  elif [ -f "$stage/codex/codex" ]; then
    mv "$stage/codex" "$stage/codex.d"
    rel="codex.d/codex"
  else
    rm -rf "$stage"
    die "$asset has no codex binary"
  fi
  chmod 0755 "$stage/$rel"
  ln -s "$rel" "$stage/codex"
  rm -rf "$release_dir"
  mv "$stage" "$release_dir"
fi

# Atomically repoint `current`, then the visible command.
ln -sfn "$release_dir" "$standalone/.current.$$"
mv -Tf "$standalone/.current.$$" "$standalone/current"
mkdir -p "$bin_dir"
ln -sfn "$standalone/current/codex" "$bin_dir/.codex.$$"
mv -Tf "$bin_dir/.codex.$$" "$bin_dir/codex"
"$bin_dir/codex" --version >/dev/null || die "the installed codex does not run"

case ":$PATH:" in
  *":$bin_dir:"*) say "$bin_dir is already on PATH" ;;
  *)
    case "$os:${SHELL:-}" in
      darwin:*/zsh) profile="$HOME/.zprofile" ;;
      darwin:*/bash) profile="$HOME/.bash_profile" ;;
      linux:*/zsh) profile="$HOME/.zshrc" ;;
      linux:*/bash) profile="$HOME/.bashrc" ;;
      *) profile="$HOME/.profile" ;;
    esac
    if [ -f "$profile" ] && grep -qF '# >>> Codex installer >>>' "$profile"; then
      say "PATH is already configured in $profile"
    else
      printf '\n# >>> Codex installer >>>\nexport PATH="%s:%s"\n# <<< Codex installer <<<\n' "$bin_dir" "\$PATH" >> "$profile"
      say "PATH was added to $profile"
    fi
    ;;
esac
printf 'Codex CLI %s installed successfully.\n' "$version"
