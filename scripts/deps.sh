# Sourced by run.sh and test.sh: installs Debian packages that are missing.
# need_packages PKG...: apt-get install what dpkg does not already have.
need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "installing: ${missing[*]}" >&2
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2
}
BUILD_PACKAGES="meson ninja-build gcc pkg-config libjansson-dev libcurl4-openssl-dev python3"
