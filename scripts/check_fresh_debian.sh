#!/usr/bin/env bash
# Runs the README's two commands, copied literally, on a fresh Debian 12 made with debootstrap
# (python3, python3-pip, python3-venv, git and ca-certificates only), as a new user would:
#   1. as a user without root: install.sh must print the exact `sudo apt-get install` line and stop;
#   2. as root: `bash scripts/install.sh && .venv/bin/studio` installs and opens the window
#      (offscreen, STUDIO_SMOKE_EXIT=1 makes it exit once shown), then `bash scripts/test.sh`.
# Needs root on the host (debootstrap, chroot, mounts). The project is cloned from this checkout's HEAD.
#   sudo bash scripts/check_fresh_debian.sh [ROOTFS]   (default /var/tmp/studio-deb12; SKIP_TESTS=1: 1-2 only)
# An existing ROOTFS is reused (its apt packages too): delete it for a run as fresh as the first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rootfs="${1:-/var/tmp/studio-deb12}"
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
if [ ! -x "$rootfs/usr/bin/python3" ]; then
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,git,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian
fi
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# This machine's pip finds the local torch wheel through PIP_FIND_LINKS=/opt/wheels: the same there.
mkdir -p "$rootfs/opt/wheels" "$rootfs/proc" "$rootfs/dev"
mountpoint -q "$rootfs/opt/wheels" || mount --bind /opt/wheels "$rootfs/opt/wheels"
mountpoint -q "$rootfs/proc" || mount -t proc proc "$rootfs/proc"
mountpoint -q "$rootfs/dev" || mount --bind /dev "$rootfs/dev"
trap 'umount "$rootfs/opt/wheels" "$rootfs/proc" "$rootfs/dev" 2>/dev/null || true' EXIT
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
chroot "$rootfs" id artist >/dev/null 2>&1 || chroot "$rootfs" useradd -m artist
rm -rf "$rootfs/home/artist/studio"
git clone -q "$repo" "$rootfs/home/artist/studio"
chroot "$rootfs" chown -R artist /home/artist/studio
rm -rf "$rootfs/home/artist/.local" "$rootfs/root/.local"
env_common=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            PIP_FIND_LINKS=/opt/wheels LANG=C.UTF-8)

echo "==> 1. as a user without root"
set +e
chroot --userspec=artist "$rootfs" "${env_common[@]}" HOME=/home/artist bash -c 'cd ~/studio && bash scripts/install.sh'
echo "(exit status $?)"
set -e

echo "==> 2. as root: the README's install-and-launch command"
start=$(date +%s)
chroot "$rootfs" "${env_common[@]}" HOME=/root QT_QPA_PLATFORM=offscreen STUDIO_SMOKE_EXIT=1 \
  bash -c 'cd /home/artist/studio && bash scripts/install.sh && .venv/bin/studio'
echo "install + launch: $(( $(date +%s) - start )) s; venv $(du -sh "$rootfs/home/artist/studio/.venv" | cut -f1)"

[ "${SKIP_TESTS:-0}" = 1 ] && exit 0
echo "==> 3. as root: the README's test command"
start=$(date +%s)
chroot "$rootfs" "${env_common[@]}" HOME=/root bash -c 'cd /home/artist/studio && bash scripts/test.sh'
echo "tests: $(( $(date +%s) - start )) s"
