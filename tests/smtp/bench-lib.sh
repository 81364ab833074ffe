# Shared by the whole-`send` benchmarks (bench-send.sh, bench-relays.sh, bench-dkim-send.sh);
# sourced, not run. Each benchmark sends the same generated list to postfix's smtp-sink on
# 127.0.0.1 (it accepts and discards) and times whole `isomail send` commands.
#
#   bench_start                    builds isomail ($isomail), makes $work, removes it and stops
#                                  every sink on exit; needs smtp-sink (tests/smtp/postfix.sh)
#   start_sink PORT                an smtp-sink on 127.0.0.1:PORT
#   sample_campaign DIR N          `isomail init`'s campaign with N generated recipients, every
#                                  recipient in one stage, no rate limit, no outbox, tls = "none"
#   send_rate DIR N                `send --yes` of a copy of DIR; checks all N were sent; msg/s

bench_start() {
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p isomail
  isomail="$root/target/release/isomail"
  command -v smtp-sink >/dev/null || { echo "smtp-sink not found: run tests/smtp/postfix.sh" >&2; exit 1; }
  work=$(mktemp -d)
  sinks=()
  trap 'kill "${sinks[@]}" 2>/dev/null; rm -rf "$work"' EXIT
}

start_sink() {
  smtp-sink -u nobody "127.0.0.1:$1" 1000 >/dev/null 2>&1 &
  sinks+=($!)
  sleep 0.5
}

sample_campaign() {
  "$isomail" init "$1" >/dev/null
  python3 "$root/host/benches/sample-list.py" "$1/recipients.csv" "$2"
  sed -i 's/^stages = .*/stages = ["all"]/; s/^rate = .*/rate = 100000/; s/^outbox = .*//' "$1/campaign.toml"
  echo 'tls = "none"' >>"$1/campaign.toml"
}

send_rate() {
  local dir="$work/run" start end sent
  rm -rf "$dir"
  cp -r "$1" "$dir"
  start=$(date +%s.%N)
  "$isomail" send --yes "$dir/campaign.toml" >"$dir/send.log" 2>&1
  end=$(date +%s.%N)
  sent=$("$isomail" status --json "$dir/campaign.toml" | python3 -c "import json,sys; print(json.load(sys.stdin)['sent'])")
  [ "$sent" = "$2" ] || { echo "$1: sent $sent of $2" >&2; cat "$dir/send.log" >&2; exit 1; }
  python3 -c "print(f'{$2 / ($end - $start):.0f}')"
}
