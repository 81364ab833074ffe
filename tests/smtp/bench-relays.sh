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
. "$(dirname "$0")/bench-lib.sh"
bench_start
start_sink 2527
start_sink 2528

sample_campaign "$work/base" "$n"
sed -i "s/^concurrency = .*/concurrency = $concurrency/" "$work/base/campaign.toml"
grep -q '^concurrency' "$work/base/campaign.toml" || echo "concurrency = $concurrency" >>"$work/base/campaign.toml"
"$isomail" check "$work/base/campaign.toml" >/dev/null # fills the compile cache

run() { # $1 = run name, $2 = the smtp value; prints msg/s
  cp -r "$work/base" "$work/$1"
  echo "smtp = $2" >>"$work/$1/campaign.toml"
  send_rate "$work/$1" "$n"
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
