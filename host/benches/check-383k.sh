#!/usr/bin/env bash
# `isomail check` of a 383,000-recipient list (the 2016 incident's list size): wall time and peak
# RSS. The list is generated with the columns of `isomail init`'s sample; every message is
# rendered in its own instance and goes through every safety check.
#   bash host/benches/check-383k.sh [RECIPIENTS]   (default 383000)
set -euo pipefail
n=${1:-383000}
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p isomail
isomail="$root/target/release/isomail"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$isomail" init "$work/big" >/dev/null
python3 "$root/host/benches/sample-list.py" "$work/big/recipients.csv" "$n"
/usr/bin/time -f "%e s wall, %M KB peak RSS" "$isomail" check "$work/big/campaign.toml" 2>&1 | tail -2
