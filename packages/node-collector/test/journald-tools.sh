#!/bin/sh
# Makes sure systemd's own journal writer (systemd-journal-remote, Debian package systemd-journal-remote) is
# installed; the journald tests write real journal files with it. Installs it with apt-get when running as root.
set -eu
BIN=/lib/systemd/systemd-journal-remote
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "journald tests need $BIN (Debian package systemd-journal-remote); run as root or: apt-get install -y systemd-journal-remote" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# serialise with other apt users in this machine (several test files may run at once)
exec 9>/tmp/sextant-apt.lock
flock 9
if [ ! -x "$BIN" ]; then
  apt-get install -y -qq systemd-journal-remote >&2 || { apt-get update -qq >&2 && apt-get install -y -qq systemd-journal-remote >&2; }
fi
if [ ! -x "$BIN" ]; then echo "installing systemd-journal-remote did not provide $BIN" >&2; exit 1; fi
echo "$BIN"
