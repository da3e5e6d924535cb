#!/bin/bash
# Installs what building, testing and the demo need on a fresh Debian 12 machine.
set -euo pipefail

packages=(
        # build
        build-essential meson ninja-build pkg-config python3
        libsystemd-dev libinih-dev check
        # a real systemd in a container, for the integration suite and the demo
        systemd systemd-container util-linux dbus
        # what runs in front of and beside the apps
        nginx-light wrk curl procps
        # sockdctl -H is tested over ssh into the test container, and a fleet of
        # containers on a private network (ip netns, a bridge)
        openssh-server openssh-client iproute2
        # sockdctl --user is tested against a lingering user's manager
        dbus-user-session
        # the Debian package is built and installed by the integration suite
        debhelper dpkg-dev fakeroot bash-completion
        # real servers nobody here wrote, run unmodified (tests/integration/test-realapps.sh)
        python3-uvicorn gunicorn puma ruby-rack
)
# Node is the runtime of the node-ipc test app and of Express (from the npm registry);
# keep a Node and npm that are already there.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
        echo "Installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
