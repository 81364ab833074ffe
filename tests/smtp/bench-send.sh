#!/usr/bin/env bash
# Messages per second through the whole `send` path (render in a fresh instance, re-check,
# hash, journal with synchronous=FULL, SMTP) to postfix's smtp-sink on 127.0.0.1, with
# TCP_NODELAY off and on, in one run. Needs postfix installed (tests/smtp/postfix.sh).
#   bash tests/smtp/bench-send.sh [RECIPIENTS]   (default 2000)
set -euo pipefail
n=${1:-2000}
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p isomail
isomail="$root/target/release/isomail"
work=$(mktemp -d)
trap 'kill "$sink" 2>/dev/null; rm -rf "$work"' EXIT
smtp-sink -u nobody 127.0.0.1:2526 1000 >/dev/null 2>&1 &
sink=$!
sleep 0.5

run() { # $1 = tcp_nodelay
  local dir="$work/nodelay-$1"
  "$isomail" init "$dir" >/dev/null
  python3 - "$dir/recipients.csv" "$n" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,name,plan,account_id\n")
    for i in range(int(sys.argv[2])):
        f.write(f"user{i}@example.com,Person {i},{'pro' if i % 3 == 0 else 'basic'},AC-{i:08d}\n")
PY
  cat >> "$dir/campaign.toml" <<TOML
smtp = "smtp://127.0.0.1:2526"
tls = "none"
tcp_nodelay = $1
TOML
  sed -i 's/^stages = .*/stages = ["all"]/; s/^rate = .*/rate = 100000/; s/^concurrency = .*/concurrency = 4/; s/^outbox = .*//' "$dir/campaign.toml"
  "$isomail" check "$dir/campaign.toml" >/dev/null  # warm the compile cache
  local start end
  start=$(date +%s.%N)
  "$isomail" send --yes "$dir/campaign.toml" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$n / ($end - $start):.0f}')"
}
off=$(run false)
on=$(run true)
echo "send to smtp-sink, $n messages, concurrency 4, journal on (preflight included):"
echo "  TCP_NODELAY off: $off msg/s"
echo "  TCP_NODELAY on:  $on msg/s"
python3 -c "print(f'  ratio on/off: {$on / $off:.1f}x')"
