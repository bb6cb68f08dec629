#!/usr/bin/env bash
# Installs the Debian packages the product needs beside its Python packages (WeasyPrint's Pango/HarfBuzz stack;
# libharfbuzz-subset0 makes font subsetting ~5x faster than fontTools' fallback). Extra package names may be passed
# as arguments (CI adds chromium for the browser tests). Does nothing when everything is already there.
set -euo pipefail
packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core poppler-utils "$@")
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
elif command -v sudo >/dev/null 2>&1; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "Missing Debian packages (install them as root): ${missing[*]}" >&2
  exit 1
fi
