#!/bin/bash
# Loopback-only postfix for isomail's tests, idempotent; run as root on Debian 12:
#
#     bash tests/smtp/postfix.sh
#
# Result:
#   - submission on 127.0.0.1:2587 only: STARTTLS required (self-signed cert), then
#     AUTH PLAIN/LOGIN as isomail / isomail-test-password; without AUTH every RCPT gets 554;
#   - postfix's stock smtp service stays on 127.0.0.1:25 (plain, no AUTH, for 127.0.0.0/8);
#   - every address @isomail.test is delivered into ONE Maildir,
#     /var/tmp/isomail-postfix/Maildir/new/ (files owned by nobody, mode 0600: read as root);
#   - nothing can ever leave the machine: every non-local transport is error:, no DNS;
#   - postfix's own log is /var/tmp/isomail-postfix/maillog (there is no syslog here).
# Re-running rewrites the config and restarts postfix; it keeps delivered mail and the cert,
# so a test should empty Maildir/new/ itself when it needs a clean slate. Stop: postfix stop
#
# Benchmarks: smtp-sink (ships with postfix, /usr/sbin) accepts and discards mail, fast:
#     smtp-sink -u nobody -c 127.0.0.1:2526 1000 &   # stop it with: kill <its pid>
# -u is mandatory as root (privileges dropped after binding); -c prints counters
# ("sess=1 quit=1 mesg=2000", \r-separated) on stdout; 1000 is the listen backlog. It serves at
# most 256 connections at once (-m N raises that); -d TEMPLATE would keep each message.
set -euo pipefail

BASE=/var/tmp/isomail-postfix
DOMAIN=isomail.test          # the virtual mailbox domain tests send to
SASL_REALM=isomail.test      # = smtpd_sasl_local_domain: the realm "isomail" is looked up in
SASL_USER=isomail
SASL_PASS=isomail-test-password
PORT=2587

# --- install --------------------------------------------------------------------------------
# Only what is missing: naming an installed package would also upgrade it (e.g. openssl).
missing=()
for p in postfix sasl2-bin libsasl2-modules openssl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # "No configuration": the postinst writes no main.cf and starts nothing; we write our own.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y -q --no-install-recommends "${missing[@]}"; }
  apt_install || { apt-get update -q && apt_install; }
fi

# --- files: cert, sasldb, Maildir ------------------------------------------------------------
mkdir -p "$BASE"
chmod 755 "$BASE"   # postfix (sasldb) and nobody (Maildir) must traverse it
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

# Our own sasldb (not /etc/sasldb2): smtpd checks passwords as user postfix, after dropping
# root, so it must be readable by group postfix.
echo -n "$SASL_PASS" | saslpasswd2 -f "$BASE/sasldb2" -c -p -u "$SASL_REALM" "$SASL_USER"
chown root:postfix "$BASE/sasldb2"
chmod 640 "$BASE/sasldb2"
mkdir -p /etc/postfix/sasl   # Debian's cyrus_sasl_config_path; "smtpd" = smtpd_sasl_path
cat > /etc/postfix/sasl/smtpd.conf <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $BASE/sasldb2
mech_list: PLAIN LOGIN
EOF

# virtual(8) delivers as nobody (uid >= virtual_minimum_uid) and needs the Maildir writable.
mkdir -p "$BASE"/Maildir/{new,cur,tmp}
chown nobody:nogroup "$BASE/Maildir" "$BASE"/Maildir/{new,cur,tmp}
touch "$BASE/maillog"

# --- main.cf: written whole, so re-runs converge ----------------------------------------------
cat > /etc/postfix/main.cf <<EOF
# Written by isomail tests/smtp/postfix.sh; re-running it overwrites this file.
compatibility_level = 3.6
myhostname = postfix.isomail-local.test
mydomain = isomail-local.test
myorigin = \$myhostname
mydestination = \$myhostname, localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
maillog_file = $BASE/maillog

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
message_size_limit = 52428800

smtpd_tls_cert_file = $BASE/tls.crt
smtpd_tls_key_file = $BASE/tls.key
smtp_tls_security_level = none
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_local_domain = $SASL_REALM
smtpd_sasl_security_options = noanonymous
EOF

# --- master.cf: Debian's file, plus the submission service ------------------------------------
[ -f /etc/postfix/master.cf ] || cp /usr/share/postfix/master.cf.dist /etc/postfix/master.cf
# No chroot anywhere: a chroot would need copies of resolv.conf, the sasldb, etc.
postconf -F '*/*/chroot = n'
postconf -M "$PORT/inet=$PORT inet n - n - - smtpd"
postconf -P "$PORT/inet/syslog_name=postfix/submission-$PORT" \
  "$PORT/inet/smtpd_tls_security_level=encrypt" \
  "$PORT/inet/smtpd_tls_auth_only=yes" \
  "$PORT/inet/smtpd_sasl_auth_enable=yes" \
  "$PORT/inet/smtpd_client_restrictions=permit_sasl_authenticated,reject" \
  "$PORT/inet/smtpd_relay_restrictions=permit_sasl_authenticated,reject" \
  "$PORT/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,reject"

# --- (re)start and wait -------------------------------------------------------------------------
postfix check
# A full restart, not reload: inet_interfaces changes need it. No systemd here, so call
# postfix directly.
postfix status >/dev/null 2>&1 && postfix stop >/dev/null 2>&1 || true
postfix start
for _ in $(seq 1 100); do
  if greeting=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; head -c 3 <&3; printf 'QUIT\r\n' >&3" 2>/dev/null) \
     && [ "$greeting" = 220 ]; then
    echo "POSTFIX READY maildir=$BASE/Maildir"
    exit 0
  fi
  sleep 0.2
done
echo "postfix did not answer on 127.0.0.1:$PORT; see $BASE/maillog" >&2
exit 1
