#!/bin/bash
# A private, loopback-only postfix instance for isomail's tests; idempotent; run as root on
# Debian 12 (tests/run.sh runs it for you):
#
#     bash tests/smtp/postfix.sh          # install if missing, (re)write the config, (re)start
#     bash tests/smtp/postfix.sh stop     # stop this instance (no-op when it is not running)
#
# It never touches the machine's own postfix: everything lives under /var/tmp/isomail-postfix
# (config in etc/, queue in queue/, state in data/), it is started as `postfix -c <its etc/>`, and
# it listens on 127.0.0.1:2587 only, so a system postfix on port 25 keeps running beside it.
# (postfix needs no alternate_config_directories entry in /etc/postfix/main.cf for that: only
# the set-gid sendmail/postdrop path checks it, and the tests submit over SMTP.)
#
# Result:
#   - submission on 127.0.0.1:2587 only: STARTTLS required (self-signed cert), then
#     AUTH PLAIN/LOGIN as isomail / isomail-test-password; without AUTH every RCPT gets 554;
#   - every address @isomail.test is delivered into ONE Maildir,
#     /var/tmp/isomail-postfix/Maildir/new/ (files owned by nobody, mode 0600: read as root);
#   - every address @bounce.isomail.test is accepted, then refused by a pipe transport that exits
#     67 (EX_NOUSER): postfix sends a real 5.1.1 DSN to the envelope sender, which lands in the
#     Maildir above when that sender is @isomail.test (e.g. bounces+TOKEN@isomail.test);
#   - nothing can ever leave the machine: every non-local transport is error:, no DNS;
#   - its log is /var/tmp/isomail-postfix/maillog (no syslog needed).
# Re-running rewrites the config and restarts the instance; it keeps delivered mail and the
# cert, so a test should empty Maildir/new/ itself when it needs a clean slate.
#
# Benchmarks: smtp-sink (ships with postfix, /usr/sbin) accepts and discards mail, fast:
#     smtp-sink -u nobody -c 127.0.0.1:2526 1000 &   # stop it with: kill <its pid>
# -u is mandatory as root (privileges dropped after binding); -c prints counters
# ("sess=1 quit=1 mesg=2000", \r-separated) on stdout; 1000 is the listen backlog. It serves at
# most 256 connections at once (-m N raises that); -d TEMPLATE would keep each message.
set -euo pipefail

BASE=/var/tmp/isomail-postfix
CONF=$BASE/etc               # this instance's config_directory (main.cf, master.cf, sasl/)
DOMAIN=isomail.test          # the virtual mailbox domain tests send to
BOUNCE_DOMAIN=bounce.isomail.test  # accepted, then bounced with a DSN (exit 67: user unknown)
HOSTNAME=postfix.isomail-local.test  # also in the 220 greeting: how we recognise our instance
SASL_REALM=isomail.test      # = smtpd_sasl_local_domain: the realm "isomail" is looked up in
SASL_USER=isomail
SASL_PASS=isomail-test-password
PORT=2587

die() { echo "tests/smtp/postfix.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs postfix and starts a postfix instance)"

running() { [ -f "$CONF/main.cf" ] && postfix -c "$CONF" status >/dev/null 2>&1; }

if [ "${1:-start}" = stop ]; then
  if command -v postfix >/dev/null && running; then postfix -c "$CONF" stop; fi
  exit 0
fi
[ "${1:-start}" = start ] || die "usage: $0 [start|stop]"

# --- install --------------------------------------------------------------------------------
# Only what is missing: naming an installed package would also upgrade it (e.g. openssl).
missing=()
for p in postfix sasl2-bin libsasl2-modules openssl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # "No configuration": the postinst writes no /etc/postfix/main.cf and starts nothing. When
  # postfix is already installed this answer is never asked for, so a configured one is kept.
  # --no-remove: postfix conflicts with every other MTA (exim4, …); apt would remove one that
  # is installed, so then we stop instead (apt says "Packages need to be removed").
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y -q --no-install-recommends --no-remove "${missing[@]}"; }
  apt_install || { apt-get update -q && apt_install; }
fi

# --- directories --------------------------------------------------------------------------------
# /var/tmp is writable by everyone: refuse a BASE someone else made (or a symlink to elsewhere),
# since root writes configuration into it and postfix runs what master.cf names.
mkdir -p "$BASE"
[ -d "$BASE" ] && [ ! -L "$BASE" ] && [ "$(stat -c %u "$BASE")" = 0 ] \
  || die "$BASE exists but is not a directory owned by root; remove it and run again"
chmod 755 "$BASE"   # postfix (sasldb) and nobody (Maildir) must traverse it
mkdir -p "$CONF/sasl" "$BASE/queue" "$BASE/data"
chmod 755 "$CONF" "$CONF/sasl" "$BASE/queue"   # postfix-script wants them root-owned, not writable
# The config is written into NEW, then moved into place file by file where it changed: an
# unchanged instance keeps running untouched (rewriting even the same main.cf costs postfix
# a reload's worth of work on the next command).
NEW=$CONF/.new
rm -rf "$NEW"
mkdir -p "$NEW/sasl"
chown postfix "$BASE/data"
chmod 700 "$BASE/data"

# --- files: cert, sasldb, Maildir ------------------------------------------------------------
# Kept across runs so clients may pin tls.crt as their only trusted root. CA:FALSE because
# rustls/webpki refuse a CA certificate as the server's own (CaUsedAsEndEntity); OpenSSL
# clients accept it too (`openssl verify -CAfile tls.crt tls.crt` says OK).
if [ ! -s "$BASE/tls.key" ] || [ ! -s "$BASE/tls.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
    -keyout "$BASE/tls.key" -out "$BASE/tls.crt" 2>/dev/null
fi
chmod 600 "$BASE/tls.key"   # smtpd reads it as root, before dropping privileges
chmod 644 "$BASE/tls.crt"   # tests pin it as the relay's CA

# Our own sasldb (not /etc/sasldb2): smtpd checks passwords as user postfix, after dropping
# root, so it must be readable by group postfix.
echo -n "$SASL_PASS" | saslpasswd2 -f "$BASE/sasldb2" -c -p -u "$SASL_REALM" "$SASL_USER"
chown root:postfix "$BASE/sasldb2"
chmod 640 "$BASE/sasldb2"
# Read through cyrus_sasl_config_path below ("smtpd" = smtpd_sasl_path), not /etc/postfix/sasl.
cat > "$NEW/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $BASE/sasldb2
mech_list: PLAIN LOGIN
EOF

# virtual(8) delivers as nobody (uid >= virtual_minimum_uid) and needs the Maildir writable.
mkdir -p "$BASE"/Maildir/{new,cur,tmp}
chown nobody:nogroup "$BASE/Maildir" "$BASE"/Maildir/{new,cur,tmp}
touch "$BASE/maillog"

# The bouncing domain's "delivery": a command that says the user does not exist.
printf '#!/bin/sh\n# tests/smtp/postfix.sh: every @%s recipient is unknown\nexit 67\n' \
  "$BOUNCE_DOMAIN" > "$BASE/bounce.sh.new"
chmod 755 "$BASE/bounce.sh.new"
mv "$BASE/bounce.sh.new" "$BASE/bounce.sh"

# --- main.cf: written whole, so re-runs converge ----------------------------------------------
cat > "$NEW/main.cf" <<EOF
# Written by isomail tests/smtp/postfix.sh; re-running it overwrites this file.
compatibility_level = 3.6
queue_directory = $BASE/queue
data_directory = $BASE/data
syslog_name = postfix-isomail-test
maillog_file = $BASE/maillog
myhostname = $HOSTNAME
mydomain = isomail-local.test
myorigin = \$myhostname
mydestination = \$myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =

# Never talk to anything off this machine: no DNS, and any mail not for a local or
# isomail.test address (bounces to external senders included) fails at once.
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
relayhost =
default_transport = error:isomail test postfix never delivers off this machine
relay_transport = \$default_transport
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination

# Every address of the domain lands in one Maildir (the trailing / selects Maildir format).
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $BASE
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_mailbox_limit = 0

# The bouncing domain: a relay domain (smtpd refuses the default class outright, since its
# transport is error:) whose transport is a pipe that exits 67.
relay_domains = $BOUNCE_DOMAIN
transport_maps = inline:{ $BOUNCE_DOMAIN=isomail-bounce: }
isomail-bounce_destination_recipient_limit = 1
message_size_limit = 52428800

smtpd_tls_cert_file = $BASE/tls.crt
smtpd_tls_key_file = $BASE/tls.key
smtp_tls_security_level = none
cyrus_sasl_config_path = $CONF/sasl
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_local_domain = $SASL_REALM
smtpd_sasl_security_options = noanonymous
EOF

# --- master.cf: postfix's stock services, without port 25, plus the submission service --------
cp /usr/share/postfix/master.cf.dist "$NEW/master.cf"
postconf -c "$NEW" -MX smtp/inet   # no listener on port 25: the machine's own MTA may have it
# No chroot anywhere: a chroot would need copies of resolv.conf, the sasldb, etc.
postconf -c "$NEW" -F '*/*/chroot = n'
postconf -c "$NEW" -M "$PORT/inet=$PORT inet n - n - - smtpd"
postconf -c "$NEW" -M "isomail-bounce/unix=isomail-bounce unix - n n - - pipe flags=q user=nobody argv=$BASE/bounce.sh"
postconf -c "$NEW" -P "$PORT/inet/syslog_name=postfix-isomail-test/submission-$PORT" \
  "$PORT/inet/smtpd_tls_security_level=encrypt" \
  "$PORT/inet/smtpd_tls_auth_only=yes" \
  "$PORT/inet/smtpd_sasl_auth_enable=yes" \
  "$PORT/inet/smtpd_client_restrictions=permit_sasl_authenticated,reject" \
  "$PORT/inet/smtpd_relay_restrictions=permit_sasl_authenticated,reject" \
  "$PORT/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,reject"

# --- (re)start and wait -------------------------------------------------------------------------
greeting() { # the first line the server on $PORT sends, or nothing
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; head -n 1 <&3; printf 'QUIT\r\n' >&3" \
    2>/dev/null || true
}
ready() { case "$(greeting)" in "220 $HOSTNAME "*) return 0 ;; *) return 1 ;; esac; }
changed=false
for f in main.cf master.cf sasl/smtpd.conf; do
  if ! cmp -s "$NEW/$f" "$CONF/$f"; then mv "$NEW/$f" "$CONF/$f"; changed=true; fi
done
rm -rf "$NEW"
if ! $changed && running && ready; then
  echo "POSTFIX READY port=$PORT maildir=$BASE/Maildir (already running)"
  exit 0
fi
# A full restart, not reload: inet_interfaces changes need it. No systemd: call postfix itself.
if running; then
  postfix -c "$CONF" stop >/dev/null 2>&1
  for _ in $(seq 1 50); do running || break; sleep 0.2; done
fi
if [ -n "$(greeting)" ]; then
  die "127.0.0.1:$PORT is taken by another server (see: ss -ltnp 'sport = :$PORT'); an older
tests/smtp/postfix.sh configured the machine's own postfix there: stop it with 'postfix stop'"
fi
postfix -c "$CONF" start   # runs `postfix check` first: a bad config stops here
for _ in $(seq 1 100); do
  if ready; then echo "POSTFIX READY port=$PORT maildir=$BASE/Maildir"; exit 0; fi
  sleep 0.2
done
die "postfix did not answer on 127.0.0.1:$PORT; see $BASE/maillog"
