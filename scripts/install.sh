#!/usr/bin/env bash
# Installs what jailnet and its tests need on a Debian 12 machine, idempotently:
# Debian packages (as root) that are missing, then the npm dependencies, then the build.
set -euo pipefail
cd "$(dirname "$0")/.."

# containernetworking-plugins: the reference plugins the tests run side by side with jailnet's;
# the shellcheck test keeps rc.d/jailnet clean; iproute2, nftables, procps (sysctl),
# util-linux (nsenter, unshare, setpriv) and conntrack: what the Linux driver runs;
# podman, buildah, runc, catatonit, uidmap: the real CNI clients of the Linux tests;
# busybox-static: httpd and ping inside test namespaces; iptables: the reference portmap;
# netavark and aardvark-dns (1.4.0, no service): the netavark contract's reference, measured beside
# jailnet's, and the aardvark-dns jailnet's netavark drives; mandoc: the manual pages' lint test; netcat-openbsd: nc -U, which the plugin shims reach jailnetd with;
# graphviz: the topology test renders `jailnet topology --format dot` to SVG;
# tcsh: the completion test sources `jailnet completion tcsh` in a real tcsh (FreeBSD's csh).
APT_PACKAGES=(containernetworking-plugins shellcheck iproute2 nftables procps util-linux conntrack
  podman buildah runc catatonit uidmap busybox-static iptables mandoc netcat-openbsd graphviz tcsh
  netavark aardvark-dns)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
npm run build
