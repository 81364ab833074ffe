#!/usr/bin/env bash
# isomail against mailmerge 2.3, side by side, sending the same list to the same loopback sink.
#
# Both send N messages to postfix's smtp-sink on 127.0.0.1 (it accepts and discards). isomail runs
# its whole `send` path: preflight (render and check every message), then for each message a
# fresh-instance render, the re-check and hash comparison, the journal (SQLite, synchronous=FULL)
# and SMTP. mailmerge renders with Jinja in-process and sends, one connection per message, with no
# journal. Needs postfix (tests/smtp/postfix.sh installs it) and `pip install mailmerge`.
#   bash tests/smtp/bench-send.sh [RECIPIENTS]   (default 5000)
set -euo pipefail
n=${1:-5000}
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p isomail
isomail="$root/target/release/isomail"
command -v smtp-sink >/dev/null || { echo "smtp-sink not found: run tests/smtp/postfix.sh" >&2; exit 1; }
command -v mailmerge >/dev/null || { echo "mailmerge not found: pip install 'mailmerge>=2.3,<2.4'" >&2; exit 1; }
work=$(mktemp -d)
port=2526
smtp-sink -u nobody 127.0.0.1:$port 1000 >/dev/null 2>&1 &
sink=$!
trap 'kill "$sink" 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.5

rate() { python3 -c "import sys; print(f'{$1 / ($3 - $2):.0f}')"; }

# The same list for both: the columns of `isomail init`'s sample campaign.
"$isomail" init "$work/isomail" >/dev/null
python3 "$root/host/benches/sample-list.py" "$work/isomail/recipients.csv" "$n"
cat >> "$work/isomail/campaign.toml" <<TOML
smtp = "smtp://127.0.0.1:$port"
tls = "none"
TOML
sed -i 's/^stages = .*/stages = ["all"]/; s/^rate = .*/rate = 100000/; s/^outbox = .*//' "$work/isomail/campaign.toml"
"$isomail" check "$work/isomail/campaign.toml" >/dev/null # fills the compile cache, as any earlier run would

isomail_at() { # $1 = concurrency (SMTP connections); prints msg/s
  local dir="$work/isomail-$1" start end sent
  cp -r "$work/isomail" "$dir"
  sed -i "s/^concurrency = .*/concurrency = $1/" "$dir/campaign.toml"
  start=$(date +%s.%N)
  "$isomail" send --yes "$dir/campaign.toml" >"$dir/send.log" 2>&1
  end=$(date +%s.%N)
  sent=$("$isomail" status --json "$dir/campaign.toml" | python3 -c "import json,sys; print(json.load(sys.stdin)['sent'])")
  [ "$sent" = "$n" ] || { echo "isomail sent $sent of $n" >&2; cat "$dir/send.log" >&2; exit 1; }
  rate "$n" "$start" "$end"
}
ours4=$(isomail_at 4)
ours16=$(isomail_at 16)

# mailmerge: the same text template (it has no HTML part here), the same list.
mkdir "$work/mailmerge"
cp "$work/isomail/recipients.csv" "$work/mailmerge/database.csv"
{
  echo 'TO: {{email}}'
  echo "SUBJECT: $(sed -n 's/^subject = "\(.*\)"$/\1/p' "$work/isomail/campaign.toml")"
  echo 'FROM: Example Service <noreply@example.org>'
  echo
  cat "$work/isomail/templates/body.txt"
} >"$work/mailmerge/template.txt"
printf '[smtp_server]\nhost = 127.0.0.1\nport = %s\nsecurity = Never\nratelimit = 0\n' $port >"$work/mailmerge/server.conf"
start=$(date +%s.%N)
(cd "$work/mailmerge" && mailmerge --no-dry-run --no-limit --output-format raw \
  --template template.txt --database database.csv --config server.conf >/dev/null)
end=$(date +%s.%N)
theirs=$(rate "$n" "$start" "$end")

echo "send to smtp-sink on 127.0.0.1, $n messages, $(nproc) cores, whole command timed (isomail's preflight included):"
echo "  isomail, concurrency 4:  $ours4 msg/s"
echo "  isomail, concurrency 16: $ours16 msg/s"
echo "  mailmerge $(mailmerge --version | awk '{print $3}'):          $theirs msg/s (one connection per message, no journal)"
python3 -c "print(f'  ratio isomail/mailmerge: {$ours4 / $theirs:.1f}x at concurrency 4, {$ours16 / $theirs:.1f}x at 16')"
