#!/usr/bin/env bash
# Local stand-in for the CPU image's base, docker.io/library/python:3.11-slim, for hosts that
# cannot pull from a registry (this development VM). On a normal host the real base is pulled
# and this script is never needed: `make image` calls it only when the pull fails.
# Debian bookworm minbase from the host's apt mirror + Debian's python3.11/pip/venv, python and pip
# in /usr/local/bin like the official image, EXTERNALLY-MANAGED removed (the Bento's Dockerfile
# runs `pip install uv`), the host's apt sources and CA bundle copied in (SSL_CERT_FILE: uv
# ignores the system store otherwise). Built once and kept in podman's store (cached).
set -euo pipefail
NAME=docker.io/library/python:3.11-slim
podman image exists "$NAME" && { echo "base: $NAME present"; exit 0; }
command -v debootstrap >/dev/null || apt-get install -y --no-install-recommends debootstrap
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null | grep -E '^(deb |URIs:)' | grep -oE 'https?://[^ ]+' | grep -v security | head -1 || true)
root=$(mktemp -d /var/tmp/pybase.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3.11,python3-pip,python3-venv,ca-certificates \
    bookworm "$root" "${mirror:-http://deb.debian.org/debian}"
cp /etc/apt/sources.list "$root/etc/apt/" 2>/dev/null || true
cp -r /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/" 2>/dev/null || true
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
# and as a local CA, so a later update-ca-certificates (apt's ca-certificates) keeps it
mkdir -p "$root/usr/local/share/ca-certificates"
cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/host-bundle.crt"
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python"
ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python3"
ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip3"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' - "$NAME"
echo "base: $NAME imported (local stand-in, not the official image)"
