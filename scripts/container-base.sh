#!/usr/bin/env bash
# A Debian bookworm base image for docker/Dockerfile made from Debian's packages alone (Python
# 3.11 with its venv module, Java 17, tini, procps), for machines that reach Debian's mirror and
# PyPI but no image registry. It is imported into podman as TAG (default
# localhost/medspark-base:bookworm) and printed; build the image on it with
#   podman build --network host --build-arg BASE=localhost/medspark-base:bookworm \
#       -f docker/Dockerfile -t medspark:0.1.0 .
# This machine's CA bundle goes in as pip's (/etc/pip-ca.crt), so that pip inside the build trusts
# the same package index as pip here (behind a TLS-inspecting proxy, its certificate).
set -euo pipefail
tag=${1:-localhost/medspark-base:bookworm}
if podman image exists "$tag"; then
    echo "$tag"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mmdebstrap --quiet --variant=minbase \
    --include=python3.11,python3.11-venv,ca-certificates,openjdk-17-jre-headless,tini,procps \
    --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/pip-ca.crt"' \
    --customize-hook='printf "[global]\ncert = /etc/pip-ca.crt\n" > "$1/etc/pip.conf"' \
    bookworm "$work/rootfs.tar" >&2
podman import --quiet "$work/rootfs.tar" "$tag" >/dev/null
echo "$tag"
