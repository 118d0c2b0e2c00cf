#!/usr/bin/env bash
# Builds the local base images the Dockerfile starts FROM, without a registry:
# a debootstrap'ed Debian bookworm (minbase) imported into buildah's storage as
# debian:bookworm-slim and debian:bookworm. There is no Docker engine and no
# registry on our machines; on a machine with one, skip this and pull instead.
#
# Idempotent: does nothing when both images already exist. Needs root,
# buildah and debootstrap (tests/deploy/image_test.sh installs them).
# Usage: tests/deploy/base_images.sh [--force]
set -euo pipefail

# vfs storage for every buildah command: it needs no kernel overlay support,
# so it works inside any sandbox. (buildah 1.28 ignores $STORAGE_DRIVER.)
buildah() { command buildah --storage-driver vfs "$@"; }
# The Debian mirror this machine's apt uses (deb822 or one-line sources), so
# the image fetches from wherever the host may.
host_mirror() {
  { sed -nE 's/^URIs:[[:space:]]+([^[:space:]]+\/debian)\/?([[:space:]]|$).*/\1/p' /etc/apt/sources.list.d/*.sources
    sed -nE 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+\/debian)\/?[[:space:]].*/\2/p' /etc/apt/sources.list
  } 2>/dev/null | head -1 || true
}
mirror="${DEBIAN_MIRROR:-$(host_mirror)}"
[[ -n "$mirror" ]] || { echo "base_images: no Debian mirror in /etc/apt; set DEBIAN_MIRROR" >&2; exit 1; }
# buildah stores a local name under localhost/, and `FROM debian:bookworm`
# with --pull=never (and no unqualified-search registry) finds it there.
slim=localhost/debian:bookworm-slim
full=localhost/debian:bookworm

if [[ "${1:-}" != --force ]] && buildah inspect --type image "$slim" >/dev/null 2>&1 \
   && buildah inspect --type image "$full" >/dev/null 2>&1; then
  echo "base_images: $slim and $full already present" >&2
  exit 0
fi

work="$(mktemp -d /var/tmp/jobgroup-rootfs.XXXXXX)"
ctr=""
cleanup() {
  [[ -n "$ctr" ]] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

rootfs="$work/rootfs"
echo "base_images: debootstrap bookworm into $rootfs (about a minute)" >&2
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# Make it look like the official slim image: deb822 sources with updates and
# security, and dpkg told to skip docs, man pages and translations so the
# packages the Dockerfile installs stay small.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
DPKG
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$rootfs"/usr/share/{man,info,lintian}/* "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
       "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +

# Import: an empty image, the tree copied in through a mount (tar keeps
# owners, modes, setuid bits and hard links exactly), then committed.
ctr="$(buildah from scratch)"
mnt="$(buildah mount "$ctr")"
tar --numeric-owner -C "$rootfs" -cf - . | tar --numeric-owner -xpf - -C "$mnt"
buildah umount "$ctr" >/dev/null
buildah config --cmd '["/bin/bash"]' \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --label org.opencontainers.image.description="Debian bookworm minbase, built locally by tests/deploy/base_images.sh" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$slim" >/dev/null
ctr=""
# The build stage starts FROM debian:bookworm; the same tree serves, since the
# build stage installs everything it needs with scripts/install-deps.sh.
buildah tag "$slim" "$full"
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -E 'debian:bookworm' >&2
echo "base_images: done" >&2
