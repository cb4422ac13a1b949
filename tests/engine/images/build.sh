#!/usr/bin/env bash
# Builds the stand-in images of the engine tests: local images tagged for the
# official ones the compose file uses, for an engine that reaches no image
# registry (see the header of each Dockerfile for what they do not reproduce).
#   tests/engine/images/build.sh [--no-cache]   (with DOCKER_HOST set for an engine of engine.sh)
# Needs a running engine (tests/engine/engine.sh start) whose builds reach
# Debian's mirror and PyPI with --network host. The base, standin/debian:trixie,
# is made with debootstrap only when the engine does not have it yet; the
# rest comes from the layer cache when nothing changed (seconds); --no-cache
# rebuilds the stand-ins from the mirror (new Debian updates, new wheels).
# Quiet: one line per image with its build time; a failing build prints its
# log and the script exits non-zero.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../../.." && pwd)
# Same default as engine.sh: the engine's data, on a disk with room for a
# root file system (and not a nodev /tmp, which debootstrap cannot use).
ENGINE_DATA=${ENGINE_DATA:-/var/lib/student-dashboard-engine}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Extra CAs the builds must trust to reach PyPI (a TLS-intercepting proxy on
# this workplace). Only the python stand-in's download stage uses them.
HOST_CA_DIR=${HOST_CA_DIR:-/usr/local/share/ca-certificates}
BASE_IMAGE=standin/debian:trixie

export DOCKER_BUILDKIT=1

log() { echo "images: $*" >&2; }
die() { log "$*"; exit 1; }

WORK=$(mktemp -d)
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

check_engine() {
	docker info >/dev/null 2>&1 ||
		die "no engine answers (DOCKER_HOST=\$(tests/engine/engine.sh host) after engine.sh start)"
}

# timed NAME COMMAND...: runs COMMAND with its output in a log, prints
# "NAME  12.3s", or the log and a failure.
timed() {
	local name=$1 log="$WORK/build.log" start tenths
	shift
	start=${EPOCHREALTIME//[.,]/}
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		die "$name: build failed"
	fi
	tenths=$(((${EPOCHREALTIME//[.,]/} - start) / 100000))
	printf '%-45s %4d.%ds\n' "$name" $((tenths / 10)) $((tenths % 10))
}

# debootstrap minbase into a temporary folder, then import it as an image.
# The downloaded packages and indexes are dropped, as in Debian's own images:
# every stand-in runs `apt-get update` itself.
debootstrap_base() {
	local rootfs
	rootfs=$(mktemp -d "$ENGINE_DATA/debootstrap.XXXXXX")
	# Removed on any exit, success or not.
	trap 'rm -rf "$rootfs"; cleanup' EXIT
	debootstrap --variant=minbase trixie "$rootfs" "$DEBIAN_MIRROR"
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE"
	rm -rf "$rootfs"
	trap cleanup EXIT
}

build_base() {
	docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || die "$BASE_IMAGE is missing: run as root to debootstrap it"
	command -v debootstrap >/dev/null ||
		die "$BASE_IMAGE is missing and debootstrap is not installed (tests/engine/engine.sh install)"
	mkdir -p "$ENGINE_DATA"
	timed "$BASE_IMAGE (debootstrap)" debootstrap_base
}

# build TAG FOLDER [docker build options]
build() {
	local tag=$1 dir=$2
	shift 2
	timed "$tag" docker build --network host --progress plain ${NO_CACHE:+--no-cache} \
		-t "$tag" "$@" "$HERE/$dir"
}

main() {
	NO_CACHE=
	case ${1:-} in
		'') ;;
		--no-cache) NO_CACHE=1 ;;
		*) die "usage: $0 [--no-cache]" ;;
	esac
	check_engine
	build_base

	local ca=$HOST_CA_DIR
	# No extra CA on this machine: an empty folder, PyPI then needs none.
	[ -d "$ca" ] || { ca="$WORK/no-ca"; mkdir -p "$ca"; }

	build standin/postgres:18-alpine postgres
	build standin/redis:8-alpine redis
	build standin/nginx-unprivileged:1.30-alpine-slim nginx-unprivileged
	# requirements.txt alone, not the whole checkout (.venv, local state).
	mkdir -p "$WORK/requirements"
	cp "$REPO_ROOT/requirements.txt" "$WORK/requirements/"
	build standin/python:3.13-slim python \
		--build-context "requirements=$WORK/requirements" \
		--build-context "hostca=$ca"
}

main "$@"
