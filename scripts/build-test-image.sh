#!/usr/bin/env bash
# Builds the Debian test image that molecule scenarios use as hosts, once; later runs reuse it.
# No image registry is reachable from CI, so the image is made with debootstrap from the Debian
# mirror apt already uses, then imported into podman.
set -euo pipefail

suite="${1:-bookworm}"
tag="${TEST_IMAGE_TAG:-$suite}"
image="localhost/bytes4096-codex-test:${tag}"
recipe_version=3   # bump when the recipe below changes, to force a rebuild

if podman image exists "$image" &&
   [ "$(podman image inspect --format '{{ index .Labels "recipe" }}' "$image" 2>/dev/null)" = "$recipe_version" ]; then
  echo "test image $image is cached"
  exit 0
fi

mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
[ -n "$mirror" ] || mirror="$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
[ -n "$mirror" ] || mirror="http://deb.debian.org/debian"

root="$(mktemp -d /var/tmp/codex-test-rootfs.XXXXXX)"
cleanup() { umount -R "$root/proc" 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT

echo "building $image from $mirror (suite $suite)"
debootstrap --variant=minbase \
  --include=python3,ca-certificates,curl,sudo,procps,tar,gzip,xz-utils,git,locales \
  "$suite" "$root" "$mirror" >/dev/null

# Debian's npm cannot go through debootstrap --include (configure-order errors): add it afterwards.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cat > "$root/etc/apt/sources.list" <<SRC
deb $mirror $suite main
SRC
rm -f "$root"/etc/apt/sources.list.d/*
mount -t proc proc "$root/proc"
chroot "$root" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq &&
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null &&
  apt-get clean && rm -rf /var/lib/apt/lists/*'
umount "$root/proc"

# Codex is installed and configured per person on laptops: give the image two ordinary users.
chroot "$root" useradd --create-home --uid 1000 --shell /bin/bash alice
chroot "$root" useradd --create-home --uid 1001 --shell /bin/bash bob
: > "$root/etc/resolv.conf"

tar -C "$root" -c . | podman import \
  --change 'CMD ["sleep", "infinity"]' \
  --change "LABEL recipe=$recipe_version" - "$image" >/dev/null
echo "built $image"
