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
. "$(dirname "$0")/bench-lib.sh"
bench_start
command -v mailmerge >/dev/null || { echo "mailmerge not found: pip install 'mailmerge>=2.3,<2.4'" >&2; exit 1; }
port=2526
start_sink $port

rate() { python3 -c "import sys; print(f'{$1 / ($3 - $2):.0f}')"; }

# The same list for both: the columns of `isomail init`'s sample campaign.
sample_campaign "$work/isomail" "$n"
echo "smtp = \"smtp://127.0.0.1:$port\"" >>"$work/isomail/campaign.toml"
"$isomail" check "$work/isomail/campaign.toml" >/dev/null # fills the compile cache, as any earlier run would

isomail_at() { # $1 = concurrency (SMTP connections); prints msg/s
  cp -r "$work/isomail" "$work/isomail-$1"
  sed -i "s/^concurrency = .*/concurrency = $1/" "$work/isomail-$1/campaign.toml"
  send_rate "$work/isomail-$1" "$n"
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
