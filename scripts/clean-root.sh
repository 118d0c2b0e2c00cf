#!/usr/bin/env bash
# Runs a command in a clean Debian bookworm root, as on a machine that has
# nothing installed, so that an install step the project forgot fails here
# instead of on a user's machine. CI (.ci/run) runs the README's test command
# this way.
#
# Usage (as root, from a git checkout):
#   scripts/clean-root.sh [--keep] -- COMMAND...
#   e.g. scripts/clean-root.sh -- bash scripts/test.sh
#
# The root is debootstrap's minbase of bookworm plus git and ca-certificates
# (kept as a tarball in $CLEAN_ROOT_CACHE, default /var/cache/jobgroup-clean-root,
# after the first run, so later runs start in seconds). What this machine
# uses to reach the package registries is copied in (apt's sources and
# settings, npm's settings, and the certificate authorities it trusts
# locally, in /usr/local/share/ca-certificates), and nothing else; the checkout's
# committed HEAD is cloned to /src (uncommitted changes are not included),
# and a sibling ../shared, if there is one, is copied beside it. /proc,
# /sys and /dev are mounted, the root is a mount point of its own (buildah's
# chroot isolation needs one), and COMMAND runs in /src with a clean
# environment. Everything started inside is stopped and the root removed on
# exit, unless --keep. Exit status: COMMAND's.
set -euo pipefail

keep=0
while (($#)); do
  case $1 in
    --keep) keep=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
if (($# == 0)); then
  sed -n '2,20p' "$0" >&2
  exit 2
fi
if ((EUID != 0)); then
  echo "clean-root: needs root (debootstrap, chroot, mounts)" >&2
  exit 2
fi

checkout=$(git rev-parse --show-toplevel)
cache=${CLEAN_ROOT_CACHE:-/var/cache/jobgroup-clean-root}
base=$cache/bookworm-minbase.tar
log() { echo "clean-root: $*" >&2; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if [[ ! -s $base ]]; then
  if ! installed debootstrap; then
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
      install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  mkdir -p "$cache"
  staging=$(mktemp -d /var/tmp/jobgroup-bootstrap.XXXXXX)
  log "debootstrap bookworm minbase into $staging (first run only)"
  if ! debootstrap --variant=minbase --include=git,ca-certificates bookworm \
    "$staging" >"$cache/debootstrap.log" 2>&1; then
    tail -n 20 "$cache/debootstrap.log" >&2
    rm -rf --one-file-system "$staging"
    exit 1
  fi
  tar -C "$staging" -cf "$base.partial" . && mv "$base.partial" "$base"
  rm -rf --one-file-system "$staging"
fi

root=$(mktemp -d /var/tmp/jobgroup-clean-root.XXXXXX)
# mktemp makes it 0700; / of a real machine is 0755, and services that drop
# to another user (nginx's workers) must be able to walk it.
chmod 0755 "$root"
mounted=()

# The pids of every process whose root directory is inside ours.
inside() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$root"* ]] && echo "${p#/proc/}"
  done
}
teardown() {
  local pids i
  pids=$(inside)
  [[ -n $pids ]] && kill -TERM $pids 2>/dev/null
  for ((i = 0; i < 40; i++)); do
    pids=$(inside)
    [[ -z $pids ]] && break
    sleep 0.25
  done
  [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  if ((keep)); then
    log "kept $root"
  else
    rm -rf --one-file-system "$root" 2>/dev/null
  fi
}
# Teardown never changes the exit status, which is COMMAND's: a root that
# cannot be removed whole (a mount still busy) is said, not failed on.
trap 'teardown || log "could not remove all of $root"' EXIT
trap 'exit 130' INT TERM

tar -C "$root" -xf "$base"

# Package sources and settings as on this machine, so the same mirrors and
# proxies are used.
rm -f "$root/etc/apt/sources.list"
for d in sources.list.d apt.conf.d; do
  [[ -d /etc/apt/$d ]] && cp -a "/etc/apt/$d/." "$root/etc/apt/$d/"
done
[[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$root/etc/apt/"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
[[ -f $HOME/.npmrc ]] && cp "$HOME/.npmrc" "$root/root/.npmrc"
[[ -f /etc/npmrc ]] && cp /etc/npmrc "$root/etc/npmrc"
# The certificate authorities this machine trusts besides Debian's (a
# network's TLS proxy, say): without them npm cannot reach its registry.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 ||
    log "update-ca-certificates failed in the root"
fi

git clone -q "$checkout" "$root/src"
[[ -d $checkout/../shared ]] && cp -a "$checkout/../shared" "$root/shared"

mount --bind "$root" "$root" && mounted+=("$root")
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount --rbind /sys "$root/sys" && mounted+=("$root/sys")
mount --rbind /dev "$root/dev" && mounted+=("$root/dev")

log "running '$*' in a clean bookworm root ($root)"
started=$SECONDS
set +e
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  ${CI:+CI=$CI} bash -c 'cd /src && exec "$@"' clean-root "$@"
status=$?
set -e
log "'$*' exited $status after $((SECONDS - started))s"
exit "$status"
