#!/bin/sh
# Installs jailnet under DESTDIR in the FreeBSD layout below PREFIX (default /usr/local):
# the FreeBSD port's do-install runs it with ${STAGEDIR} ${PREFIX}. The program lives in
# lib/jailnet; its plugin shims are reached from libexec/jailnet/cni (apart from
# net/containernetworking-plugins' libexec/cni), the CLI from bin/jailnet. dist/ is the
# built program; node_modules/ is copied when present (the port brings its own). What this
# installs is ports/net/jailnet/pkg-plist (test/port.ts compares them).
set -eu

dest=${1:?usage: stage.sh DESTDIR [PREFIX]}
prefix=${2:-/usr/local}
here=$(cd "$(dirname "$0")/.." && pwd)
root=$dest$prefix
app=$root/lib/jailnet

install -d "$app/bin" "$app/libexec/cni" "$app/libexec/podman" "$root/libexec/podman" "$app/jail-templates" "$root/bin" "$root/libexec/jailnet/cni" \
	"$root/etc/jailnet" "$root/share/man/man5" "$root/share/man/man8"
install -m 644 "$here/package.json" "$app/package.json"
install -m 755 "$here/bin/jailnet.js" "$app/bin/jailnet.js"
install -m 755 "$here/libexec/jailnet-plugin.js" "$app/libexec/jailnet-plugin.js"
for template in "$here"/jail-templates/*.in; do
	install -m 644 "$template" "$app/jail-templates/"
done
for shim in "$here"/libexec/cni/*; do
	name=${shim##*/}
	install -m 755 "$shim" "$app/libexec/cni/$name"
	ln -sf "../../../lib/jailnet/libexec/cni/$name" "$root/libexec/jailnet/cni/$name"
done
ln -sf ../lib/jailnet/bin/jailnet.js "$root/bin/jailnet"
# podman looks for its network backend here first (helper_binaries_dir on FreeBSD).
install -m 755 "$here/libexec/podman/netavark" "$app/libexec/podman/netavark"
install -m 755 "$here/libexec/netavark.js" "$app/libexec/netavark.js"
ln -sf ../../lib/jailnet/libexec/podman/netavark "$root/libexec/podman/netavark"
# The program without the TypeScript declarations and source maps.
(cd "$here" && find dist -type f -name '*.js') | while read -r file; do
	install -d "$app/${file%/*}"
	install -m 644 "$here/$file" "$app/$file"
done
[ -d "$here/node_modules" ] && [ "${STAGE_NODE_MODULES:-yes}" = yes ] && cp -R "$here/node_modules" "$app/"
install -m 644 "$here/etc/jailnet.conf.sample" "$root/etc/jailnet/jailnet.conf.sample"
for page in jailnet.8 jailnet-cni.8 jailnet-netavark.8 jailnet.conf.5; do
	gzip -9 -n -c "$here/man/$page" > "$root/share/man/man${page##*.}/$page.gz"
done
