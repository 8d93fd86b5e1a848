#!/usr/bin/env bash
# Installs what building (and, with "test", testing) kstack needs on a fresh
# Debian machine, and only what is missing: Debian packages, then Go modules.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use. Running kstack needs none of them.
# bsdutils gives script(1), which the e2e tests use to give kubectl exec -it a terminal;
# slapd (with ldap-utils) is the real LDAP server the identity tests log in against;
# chromium is the browser the console's tests drive (headless, through chromedp);
# postgresql is the server the record store's tests run (internal/testutil/pgtest).
# prometheus is the real Prometheus the monitoring tests remote-write to and compare with.
# skopeo is the real registry client the registry's tests copy images in and out with.
APT_PACKAGES=(${KSTACK_APT_PACKAGES:-})
if [ "${1:-}" = "test" ]; then
  APT_PACKAGES+=(bsdutils curl slapd ldap-utils chromium postgresql prometheus skopeo)
fi
missing=()
for p in ${APT_PACKAGES[@]+"${APT_PACKAGES[@]}"}; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH=$PATH:/usr/local/go/bin
  else
    echo "Go is not installed: install Go 1.26 or newer (https://go.dev/dl) and run this again" >&2
    exit 1
  fi
fi
if ! go list -m all >/dev/null 2>&1; then
  echo "Downloading Go modules"
  go mod download
fi
