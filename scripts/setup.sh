#!/usr/bin/env bash
# Set up this machine for osdn (Debian 12, as root). Idempotent: installs only what is missing.
#   apt: the kernel tools the data plane and the lab use; pip: osdn itself in ./.venv (editable).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3 python3-venv python3-pip nftables iproute2 iperf3 iputils-ping tcpdump conntrack
              dnsmasq-base bind9-dnsutils busybox-static podman runc containernetworking-plugins etcd-server etcd-client wrk
              haproxy squid chromium chromium-driver)

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (the data plane needs network namespaces and nftables)" >&2
  exit 1
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.osdn-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing osdn and its dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
  echo "$want" > "$stamp"
fi
echo "setup: ready (.venv/bin/osdn)"
