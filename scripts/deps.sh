#!/usr/bin/env bash
#
# Install the Debian 12 packages osms needs to build, test and run.
#
#	scripts/deps.sh		build and run/test packages
#	scripts/deps.sh --dev	the same plus the lint and fuzz tools
#
# Silent and quick when everything is present (it runs before every
# "make check"). As root it installs what is missing; otherwise it prints
# the command to run and exits 1.

set -euo pipefail

BUILD_PKGS=(gcc make pkg-config bison libc6-dev libssl-dev libevent-dev
	libgpgme-dev libclamav-dev libpq-dev libsasl2-dev libseccomp-dev
	libargon2-dev libcrypt-dev zlib1g-dev libunbound-dev libspf2-dev
	libopendkim-dev libopendmarc-dev)
RUN_PKGS=(openssl ca-certificates postgresql clamav gnupg gpgsm swaks curl
	python3 iproute2 procps util-linux passwd sasl2-bin
	libsasl2-modules neomutt isync fetchmail python3-dkim python3-nacl
	dns-root-data unbound-host python3-dnspython python3-cryptography
	publicsuffix rspamd python3-authres spamd spamassassin strace)
DEV_PKGS=(clang libclang-rt-14-dev cppcheck clang-tidy mandoc)

usage() {
	echo "usage: scripts/deps.sh [--dev]" >&2
	exit 2
}

want=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}")
for arg in "$@"; do
	case "$arg" in
	--dev)	want+=("${DEV_PKGS[@]}") ;;
	-h|--help) usage ;;
	*)	echo "scripts/deps.sh: unknown argument: $arg" >&2; usage ;;
	esac
done

# One dpkg-query for every package. Unknown packages make it complain on
# stderr and exit 1; they simply count as missing.
declare -A installed=()
while read -r name want_flag ok state; do
	if [ "$want_flag $ok $state" = "install ok installed" ] ||
	    [ "$want_flag $ok $state" = "hold ok installed" ]; then
		installed[$name]=1
	fi
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${want[@]}" \
    2>/dev/null || true)

missing=()
for p in "${want[@]}"; do
	[ -n "${installed[$p]:-}" ] || missing+=("$p")
done

[ "${#missing[@]}" -eq 0 ] && exit 0

install_cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"

if [ "$(id -u)" -ne 0 ]; then
	echo "osms: missing Debian packages: ${missing[*]}" >&2
	echo "run as root:" >&2
	echo "  apt-get update && $install_cmd" >&2
	exit 1
fi

echo "osms: installing missing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
