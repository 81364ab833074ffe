#!/usr/bin/env bash
# Send throughput through two relays against one, same run, alternating.
#
# Two postfix smtp-sink instances on 127.0.0.1 (ports 2527 and 2528; they accept and discard).
# The same N-recipient campaign is sent with `smtp = "…:2527"` and with
# `smtp = ["…:2527", "…:2528"]`, the same `concurrency` (connections in total), PAIRS times each,
# one-relay and two-relay runs alternating so a noisy neighbour hits both alike. The whole
# `send` command is timed (preflight, re-render, journal, SMTP). Prints each run's msg/s and the
# median of the per-pair ratios. Needs smtp-sink (tests/smtp/postfix.sh installs postfix).
#   bash tests/smtp/bench-relays.sh [RECIPIENTS] [PAIRS] [CONCURRENCY]   (default 5000 3 8)
set -euo pipefail
n=${1:-5000}
pairs=${2:-3}
concurrency=${3:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p isomail
isomail="$root/target/release/isomail"
command -v smtp-sink >/dev/null || { echo "smtp-sink not found: run tests/smtp/postfix.sh" >&2; exit 1; }
work=$(mktemp -d)
smtp-sink -u nobody 127.0.0.1:2527 1000 >/dev/null 2>&1 &
sink_a=$!
smtp-sink -u nobody 127.0.0.1:2528 1000 >/dev/null 2>&1 &
sink_b=$!
trap 'kill "$sink_a" "$sink_b" 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.5

"$isomail" init "$work/base" >/dev/null
python3 "$root/host/benches/sample-list.py" "$work/base/recipients.csv" "$n"
sed -i "s/^stages = .*/stages = [\"all\"]/; s/^rate = .*/rate = 100000/; s/^outbox = .*//; s/^concurrency = .*/concurrency = $concurrency/" "$work/base/campaign.toml"
grep -q '^concurrency' "$work/base/campaign.toml" || echo "concurrency = $concurrency" >>"$work/base/campaign.toml"
echo 'tls = "none"' >>"$work/base/campaign.toml"
"$isomail" check "$work/base/campaign.toml" >/dev/null # fills the compile cache

run() { # $1 = run name, $2 = the smtp value; prints msg/s
  local dir="$work/$1" start end sent
  cp -r "$work/base" "$dir"
  echo "smtp = $2" >>"$dir/campaign.toml"
  start=$(date +%s.%N)
  "$isomail" send --yes "$dir/campaign.toml" >"$dir/send.log" 2>&1
  end=$(date +%s.%N)
  sent=$("$isomail" status --json "$dir/campaign.toml" | python3 -c "import json,sys; print(json.load(sys.stdin)['sent'])")
  [ "$sent" = "$n" ] || { echo "$1: sent $sent of $n" >&2; cat "$dir/send.log" >&2; exit 1; }
  python3 -c "print(f'{$n / ($end - $start):.0f}')"
}

ones=() twos=()
for i in $(seq "$pairs"); do
  ones+=("$(run "one-$i" '"smtp://127.0.0.1:2527"')")
  twos+=("$(run "two-$i" '["smtp://127.0.0.1:2527", "smtp://127.0.0.1:2528"]')")
done
echo "send of $n messages to smtp-sink on 127.0.0.1, concurrency $concurrency in total, $(nproc) cores, whole command timed:"
echo "  one relay:  ${ones[*]} msg/s"
echo "  two relays: ${twos[*]} msg/s"
python3 - "${ones[*]}" "${twos[*]}" <<'PY'
import statistics, sys
ones = [float(x) for x in sys.argv[1].split()]
twos = [float(x) for x in sys.argv[2].split()]
ratios = [t / o for o, t in zip(ones, twos)]
print(f"  two/one per pair: {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")
PY
