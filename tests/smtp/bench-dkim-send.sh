#!/usr/bin/env bash
# What two DKIM signatures (RSA-2048 and Ed25519) cost a whole `send`, measured in one run.
#
# The same list goes to postfix's smtp-sink on 127.0.0.1 twice per round: unsigned, then signed
# (each message once, at send time; the preflight hashes what would be signed), rounds
# alternating so a busy machine slows both alike. Prints each run's msg/s and the median ratio signed/unsigned.
# Needs postfix's smtp-sink (tests/smtp/postfix.sh installs postfix) and openssl.
#   bash tests/smtp/bench-dkim-send.sh [RECIPIENTS] [ROUNDS]   (defaults 3000, 3)
set -euo pipefail
n=${1:-3000}
rounds=${2:-3}
. "$(dirname "$0")/bench-lib.sh"
bench_start
port=2527
start_sink $port

sample_campaign "$work/plain" "$n"
echo "smtp = \"smtp://127.0.0.1:$port\"" >>"$work/plain/campaign.toml"
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

plain=(); signed=()
for _ in $(seq "$rounds"); do
  plain+=("$(send_rate "$work/plain" "$n")")
  signed+=("$(send_rate "$work/signed" "$n")")
done
echo "send to smtp-sink, $n messages, concurrency 4, $(nproc) cores, whole command (preflight included):"
echo "  unsigned:                 ${plain[*]} msg/s"
echo "  RSA-2048 + Ed25519 DKIM:  ${signed[*]} msg/s"
python3 -c "
import statistics
p = [$(IFS=,; echo "${plain[*]}")]; s = [$(IFS=,; echo "${signed[*]}")]
print(f'  median ratio signed/unsigned: {statistics.median(b / a for a, b in zip(p, s)):.2f}')"
