#!/usr/bin/env bash
# TEST-ONLY helper. Builds the release assets that the stand-in installer (install.sh next to this
# file) downloads, from the Codex npm platform package: no GitHub or OpenAI host is reachable in CI.
#
#   build-release.sh [VERSION] [NPM_TAG] [OUT_DIR]
#     VERSION  Codex version (default: $CODEX_TEST_VERSION or 0.169.0)
#     NPM_TAG  npm platform tag (default: linux-x64); the package is @openai/codex@VERSION-NPM_TAG
#     OUT_DIR  cache directory (default: <repo>/.cache/standin-installer, git-ignored)
#
# Output, named like the official release assets:
#   OUT_DIR/codex-npm-NPM_TAG-VERSION.tgz          the npm platform package tarball as published
#                                                  (package/vendor/<target>/bin/codex + resources)
#   OUT_DIR/codex-npm-NPM_TAG-VERSION.tgz.sha256   its SHA-256 (hex digest only)
#   OUT_DIR/latest                                 VERSION (what the stand-in resolves "latest" to)
# Idempotent: an asset whose digest file already matches is not fetched again.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
version="${1:-${CODEX_TEST_VERSION:-0.169.0}}"
npm_tag="${2:-linux-x64}"
out_dir="${3:-$repo_root/.cache/standin-installer}"
asset="codex-npm-${npm_tag}-${version}.tgz"

case "$version" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "build-release.sh: VERSION must be x.y.z, got '$version'" >&2; exit 2 ;;
esac

mkdir -p "$out_dir"
if [ -f "$out_dir/$asset" ] && [ -f "$out_dir/$asset.sha256" ] &&
   [ "$(sha256sum "$out_dir/$asset" | awk '{print $1}')" = "$(cat "$out_dir/$asset.sha256")" ]; then
  echo "cached: $out_dir/$asset"
else
  work="$(mktemp -d "$out_dir/.build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  # npm pack fetches the published tarball without installing anything.
  packed="$(cd "$work" && npm pack --silent "@openai/codex@${version}-${npm_tag}" | tail -n 1)"
  [ -f "$work/$packed" ] || { echo "build-release.sh: npm pack produced no tarball" >&2; exit 1; }
  # Refuse a package that lacks the layout the installer expects.
  listing="$(tar -tzf "$work/$packed")"
  grep -Eq '^package/vendor/[^/]+/(bin|codex)/codex$' <<<"$listing" ||
    { echo "build-release.sh: no vendor/<target>/{bin,codex}/codex in $packed" >&2; exit 1; }
  mv "$work/$packed" "$out_dir/$asset"
  sha256sum "$out_dir/$asset" | awk '{print $1}' > "$out_dir/$asset.sha256"
  echo "built: $out_dir/$asset"
fi
printf '%s\n' "$version" > "$out_dir/latest"
