#!/usr/bin/env bash
# Install what the data pipeline (and later training) needs. Idempotent. Run as root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pkgs="sox flac espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
nice -n 19 python3 -m pip install -q -r "$here/requirements.txt"
