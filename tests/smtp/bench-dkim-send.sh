#!/usr/bin/env bash
# What two DKIM signatures (RSA-2048 and Ed25519) cost a whole `send`, measured in one run.
#
# The same list goes to postfix's smtp-sink on 127.0.0.1 twice per round: unsigned, then signed
# (both in the preflight and at send time, as every send does), rounds alternating so a busy
# machine slows both alike. Prints each run's msg/s and the median ratio signed/unsigned.
# Needs postfix's smtp-sink (tests/smtp/postfix.sh installs postfix) and openssl.
#   bash tests/smtp/bench-dkim-send.sh [RECIPIENTS] [ROUNDS]   (defaults 3000, 3)
set -euo pipefail
n=${1:-3000}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p isomail
isomail="$root/target/release/isomail"
command -v smtp-sink >/dev/null || { echo "smtp-sink not found: run tests/smtp/postfix.sh" >&2; exit 1; }
work=$(mktemp -d)
port=2527
smtp-sink -u nobody 127.0.0.1:$port 1000 >/dev/null 2>&1 &
sink=$!
trap 'kill "$sink" 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.5

"$isomail" init "$work/plain" >/dev/null
python3 "$root/host/benches/sample-list.py" "$work/plain/recipients.csv" "$n"
cat >> "$work/plain/campaign.toml" <<TOML
smtp = "smtp://127.0.0.1:$port"
tls = "none"
TOML
sed -i 's/^stages = .*/stages = ["all"]/; s/^rate = .*/rate = 100000/; s/^outbox = .*//' "$work/plain/campaign.toml"
cp -r "$work/plain" "$work/signed"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/signed/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$work/signed/ed.pem" 2>/dev/null
chmod 600 "$work/signed/rsa.pem" "$work/signed/ed.pem"
cat >> "$work/signed/campaign.toml" <<TOML

[[dkim]]
domain = "example.org"
selector = "rsa2026"
key_file = "rsa.pem"

[[dkim]]
domain = "example.org"
selector = "ed2026"
key_file = "ed.pem"
TOML
"$isomail" check "$work/plain/campaign.toml" >/dev/null # fills the compile cache

send_rate() { # $1 = campaign folder; prints msg/s of a whole `send --yes`
  local dir="$work/run" start end sent
  rm -rf "$dir"; cp -r "$1" "$dir"
  start=$(date +%s.%N)
  "$isomail" send --yes "$dir/campaign.toml" >"$dir/send.log" 2>&1
  end=$(date +%s.%N)
  sent=$("$isomail" status --json "$dir/campaign.toml" | python3 -c "import json,sys; print(json.load(sys.stdin)['sent'])")
  [ "$sent" = "$n" ] || { echo "sent $sent of $n" >&2; cat "$dir/send.log" >&2; exit 1; }
  python3 -c "print(f'{$n / ($end - $start):.0f}')"
}
plain=(); signed=()
for _ in $(seq "$rounds"); do
  plain+=("$(send_rate "$work/plain")")
  signed+=("$(send_rate "$work/signed")")
done
echo "send to smtp-sink, $n messages, concurrency 4, $(nproc) cores, whole command (preflight included):"
echo "  unsigned:                 ${plain[*]} msg/s"
echo "  RSA-2048 + Ed25519 DKIM:  ${signed[*]} msg/s"
python3 -c "
import statistics
p = [$(IFS=,; echo "${plain[*]}")]; s = [$(IFS=,; echo "${signed[*]}")]
print(f'  median ratio signed/unsigned: {statistics.median(b / a for a, b in zip(p, s)):.2f}')"
