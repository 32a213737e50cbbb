#!/usr/bin/env bash
#
# Run the osms demo instance in the foreground (make demo / make demo-pg).
#
#	scripts/demo.sh		state in var/demo/
#	scripts/demo.sh --pg	state in var/demo-pg/, with a throwaway
#				PostgreSQL cluster there
#
# On first start it creates the state directory: the demo CA and server
# certificate, S/MIME certificates, OpenPGP keys, the users and aliases
# tables and osmsd.conf (from etc/demo.conf.in). Existing files are kept.
# Then it runs osmsd -d until Ctrl-C or SIGTERM.
#
# Environment: OSMSD (default build/osmsd) runs instead of the daemon,
# OSMSCTL (default build/osmsctl) instead of the control program;
# OSMS_DEMO_STATE (a path, absolute or from the top of the tree) is the
# state directory instead of var/demo (the tests run the demo there).

set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd -P)

usage() {
	echo "usage: scripts/demo.sh [--pg]" >&2
	exit 2
}

PG=0
case "$#:${1:-}" in
0:)		;;
1:--pg)		PG=1 ;;
*)		usage ;;
esac

if [ -n "${OSMS_DEMO_STATE:-}" ]; then
	STATE=$OSMS_DEMO_STATE
elif [ "$PG" = 1 ]; then
	STATE=var/demo-pg
else
	STATE=var/demo
fi
case "$STATE" in
/*)	D=$STATE ;;
*)	D="$ROOT/$STATE" ;;
esac
CONF="$D/osmsd.conf"
OSMSD="${OSMSD:-$ROOT/build/osmsd}"
OSMSCTL="${OSMSCTL:-$ROOT/build/osmsctl}"
PGBIN="${OSMS_PGBIN:-/usr/lib/postgresql/15/bin}"
USERS=(alice bob)
DOMAIN=example.test

say() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

if [ "${OSMSD#*/}" = "$OSMSD" ]; then
	OSMSD=$(command -v "$OSMSD" || true)
fi
if [ -z "$OSMSD" ] || [ ! -x "$OSMSD" ]; then
	die "${OSMSD:-osmsd} is not built: run 'make demo' (or 'make' first)"
fi
[ -r etc/demo.conf.in ] || die "etc/demo.conf.in is missing"

umask 022

# -- the state directory

mkdir -p "$D"
chmod 0755 "$D"
for sub in tls smime pgp dkim clamav spool mail empty run; do
	mkdir -p "$D/$sub"
done
chmod 0755 "$D/empty"

# newkey-args ALG: openssl req arguments for a new key
newkey_args() {
	case "$1" in
	ec)	echo "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1" ;;
	rsa)	echo "-newkey rsa:3072" ;;
	esac
}

serial() {
	echo "0x$(openssl rand -hex 8)"
}

# The demo CA: var/demo/ca.pem and ca.key.
CA_NEW=0
if [ ! -s "$D/ca.pem" ] || [ ! -s "$D/ca.key" ]; then
	say "creating the demo CA $STATE/ca.pem"
	(
		umask 077
		# shellcheck disable=SC2046
		openssl req -x509 $(newkey_args ec) -nodes \
		    -keyout "$D/ca.key.new" -out "$D/ca.pem.new" -days 3650 \
		    -subj "/O=osms demo/CN=osms demo CA" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" \
		    2>/dev/null
	)
	chmod 0600 "$D/ca.key.new"
	chmod 0644 "$D/ca.pem.new"
	mv -f "$D/ca.key.new" "$D/ca.key"
	mv -f "$D/ca.pem.new" "$D/ca.pem"
	CA_NEW=1
fi

# issue BASE SUBJECT KEYALG EXTENSIONS: BASE.pem and BASE.key, issued by
# the demo CA; kept if both exist and the CA is not new.
issue() {
	local base=$1 subj=$2 alg=$3 ext=$4 tmp
	if [ "$CA_NEW" = 0 ] && [ -s "$base.pem" ] && [ -s "$base.key" ]; then
		return 0
	fi
	say "issuing ${base#"$ROOT"/}.pem"
	tmp=$(mktemp -d "$D/.issue.XXXXXX")
	(
		umask 077
		# shellcheck disable=SC2046
		openssl req -new $(newkey_args "$alg") -nodes \
		    -keyout "$tmp/key" -out "$tmp/csr" -subj "$subj" 2>/dev/null
		printf '%s\n' "$ext" >"$tmp/ext"
		openssl x509 -req -in "$tmp/csr" -CA "$D/ca.pem" \
		    -CAkey "$D/ca.key" -set_serial "$(serial)" -days 825 \
		    -extfile "$tmp/ext" -out "$tmp/pem" 2>/dev/null
	) || { rm -rf "$tmp"; die "cannot issue $base.pem"; }
	chmod 0600 "$tmp/key"
	chmod 0644 "$tmp/pem"
	mv -f "$tmp/key" "$base.key"
	mv -f "$tmp/pem" "$base.pem"
	rm -rf "$tmp"
}

issue "$D/tls/server" "/O=osms demo/CN=mail.example.test" ec \
"basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:mail.example.test,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"

# S/MIME: one certificate per user, one for the domain (gateway).
for u in "${USERS[@]}"; do
	a="$u@$DOMAIN"
	issue "$D/smime/$a" "/O=osms demo/CN=$a/emailAddress=$a" rsa \
"basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=emailProtection
subjectAltName=email:$a
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
done
issue "$D/smime/$DOMAIN" "/O=osms demo/CN=$DOMAIN" rsa \
"basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=emailProtection
subjectAltName=DNS:$DOMAIN
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"

# OpenPGP: a key pair per user in a private GNUPGHOME, the public keys
# exported as pgp/<address>.asc.
GNUPGHOME="$D/pgp/gnupg"
export GNUPGHOME
mkdir -p "$GNUPGHOME"
chmod 0700 "$GNUPGHOME"
gpg_used=0
gpgq() { gpg_used=1; gpg --batch --quiet --no-tty "$@"; }
for u in "${USERS[@]}"; do
	a="$u@$DOMAIN"
	asc="$D/pgp/$a.asc"
	if [ -s "$asc" ] && gpgq --list-keys "<$a>" >/dev/null 2>&1; then
		continue
	fi
	if ! gpgq --list-secret-keys "<$a>" >/dev/null 2>&1; then
		say "creating the OpenPGP key of $a"
		gpgq --passphrase '' --quick-gen-key "<$a>" ed25519 sign,cert \
		    never 2>/dev/null
		fpr=$(gpgq --with-colons --list-secret-keys "<$a>" |
		    awk -F: '$1 == "fpr" { print $10; exit }')
		[ -n "$fpr" ] || die "gpg made no key for $a"
		gpgq --passphrase '' --quick-add-key "$fpr" cv25519 encr never \
		    2>/dev/null
	fi
	gpgq --armor --export "<$a>" >"$asc.new"
	[ -s "$asc.new" ] || die "gpg exported nothing for $a"
	chmod 0644 "$asc.new"
	mv -f "$asc.new" "$asc"
done
if [ "$gpg_used" = 1 ]; then
	gpgconf --kill all >/dev/null 2>&1 || true
fi
unset GNUPGHOME

# The DKIM key of the demo domain (cryptod signs with it) and the DNS
# record that would publish it.
if [ ! -s "$D/dkim/$DOMAIN.key" ]; then
	say "creating the DKIM key $STATE/dkim/$DOMAIN.key (selector demo)"
	rm -f "$D/dkim/$DOMAIN.key"
	"$OSMSCTL" dkim keygen "$DOMAIN" demo "$D/dkim/$DOMAIN.key" \
	    >"$D/dkim/$DOMAIN.txt" || die "osmsctl dkim keygen failed"
fi

# The S/MIME gateway's store is smime/ itself: the users' and the
# domain's certificates and keys, and the demo CA as its trust anchor.
cp -f "$D/ca.pem" "$D/smime/trust.pem"

# The test signature database for scand (EICAR): the demo rejects it.
cp -f regress/data/clamav/osms-test.ndb "$D/clamav/osms-test.ndb"

# The users and aliases tables.
if [ ! -s "$D/users" ]; then
	say "writing $STATE/users"
	(
		umask 077
		for u in "${USERS[@]}"; do
			printf '%s {SHA512-CRYPT}%s\n' "$u@$DOMAIN" \
			    "$(printf '%s\n' "$u-pw" | openssl passwd -6 -stdin)"
		done >"$D/users.new"
	)
	chmod 0600 "$D/users.new"
	mv -f "$D/users.new" "$D/users"
fi
if [ ! -s "$D/aliases" ]; then
	printf 'postmaster@%s alice@%s\n' "$DOMAIN" "$DOMAIN" >"$D/aliases"
	chmod 0644 "$D/aliases"
fi

# osmsd.conf from the template.
if [ ! -s "$CONF" ]; then
	say "writing $STATE/osmsd.conf from etc/demo.conf.in"
	if [ "$PG" = 1 ]; then
		DIRECTORY="# The directory in PostgreSQL (schema sql/schema.sql; psql -h
# $D/run -U osms osms), managed with osmsctl domain/user/alias.
table dir postgres \"host=$D/run dbname=osms user=osms\"
domains <dir>"
	else
		DIRECTORY="# Lines \"address {SCHEME}hash [attributes]\" and \"alias targets\";
# osmsctl user/alias add edits them.
table users file \"$D/users\"
table aliases file \"$D/aliases\"
domain \"example.test\" users <users> aliases <aliases>"
	fi
	(
		umask 077
		DEMO="$D" DIRECTORY="$DIRECTORY" awk '
		    $0 == "@DIRECTORY@" { print ENVIRON["DIRECTORY"]; next }
		    { gsub(/@DEMO@/, ENVIRON["DEMO"]); print }
		' etc/demo.conf.in >"$CONF.new"
	)
	chmod 0600 "$CONF.new"
	mv -f "$CONF.new" "$CONF"
fi
chmod 0600 "$CONF"

# The users' OpenPGP key pairs in the gateway's store as well (its GnuPG
# home smime/gnupg/, cryptod's), so that it decrypts their mail.
for u in "${USERS[@]}"; do
	a="$u@$DOMAIN"
	if "$OSMSCTL" -f "$CONF" pgp list "$a" 2>/dev/null | grep -q ' sec '
	then
		continue
	fi
	say "giving the gateway the OpenPGP key pair of $a"
	(
		umask 077
		GNUPGHOME="$D/pgp/gnupg" gpg --batch --quiet --no-tty \
		    --pinentry-mode loopback --passphrase '' --armor \
		    --export-secret-keys "<$a>" >"$D/pgp/.$u.sec"
	)
	"$OSMSCTL" -f "$CONF" pgp import "$D/pgp/.$u.sec" >/dev/null ||
	    die "osmsctl pgp import of $a failed"
	rm -f "$D/pgp/.$u.sec"
done
GNUPGHOME="$D/pgp/gnupg" gpgconf --kill all >/dev/null 2>&1 || true

banner() {
	cat <<EOF

osms demo ($STATE/, config $STATE/osmsd.conf), on 127.0.0.1:
  SMTP         10025  STARTTLS offered; no relaying for strangers;
                      viruses refused (test signature: EICAR)
  submission   10587  STARTTLS, AUTH before MAIL
               10465  implicit TLS
  IMAP         10143  STARTTLS, LOGIN after TLS
               10993  implicit TLS
  POP3         10110  STLS
               10995  implicit TLS
  DNS          10053  the demo's name server (scripts/demo-dns.py): SPF,
                      DKIM and DMARC records of example.test and
                      remote.test, for the sender checks
  smarthost    10026  not osms, not started here: mail for other domains
                      is relayed there, S/MIME- and DKIM-signed (the DKIM
                      record: $STATE/dkim/); until something listens, it
                      waits in the queue
Users:         alice@example.test / alice-pw, bob@example.test / bob-pw
               postmaster@example.test delivers to alice
Mail lands in: $STATE/mail/example.test/<user>/ (Maildir)
Trust:         $STATE/ca.pem (CA), $STATE/smime/, $STATE/pgp/
Status:        build/osmsctl -f $STATE/osmsd.conf status
EOF
	if [ "$PG" = 1 ]; then
		cat <<EOF
PostgreSQL:    psql -h $D/run -U osms osms
EOF
	fi
	cat <<EOF
Stop:          Ctrl-C (or SIGTERM)

EOF
}

# The demo's name server on loopback (scripts/demo-dns.py), so that the
# sender checks (SPF, DKIM, DMARC) have answers. Its standard input is a
# pipe whose other end (descriptor 9) this shell, and then osmsd, holds:
# it ends as soon as they do.
mkdir -p "$D/dns"
rm -f "$D/dns/dnstest-status.json"
exec 9> >(exec /usr/bin/python3 scripts/demo-dns.py "$D" 10053 \
    >>"$D/dns/demo-dns.log" 2>&1)
for _ in $(seq 100); do
	[ -s "$D/dns/dnstest-status.json" ] && break
	sleep 0.1
done
[ -s "$D/dns/dnstest-status.json" ] ||
    die "the demo's name server did not start (see $STATE/dns/demo-dns.log)"

if [ "$PG" = 0 ]; then
	banner
	exec "$OSMSD" -d -f "$CONF"
fi

# -- --pg: a throwaway PostgreSQL cluster, then osmsd as a child

[ "$(id -u)" = 0 ] || die "--pg runs PostgreSQL as the postgres user: run as root"
id postgres >/dev/null 2>&1 || die "no postgres user: run scripts/deps.sh"
[ -x "$PGBIN/pg_ctl" ] || die "$PGBIN/pg_ctl not found: run scripts/deps.sh"

PGDATA="$D/pgdata"
PGLOG="$D/pg.log"
mkdir -p "$PGDATA"
[ -e "$PGLOG" ] || : >"$PGLOG"
chown postgres:postgres "$PGDATA" "$D/run" "$PGLOG"
chmod 0700 "$PGDATA"
chmod 0755 "$D/run"
chmod 0600 "$PGLOG"
runuser -u postgres -- test -x "$D/run" ||
    die "the postgres user cannot reach $D: make its parents traversable (chmod o+x)"

as_pg() { (cd / && runuser -u postgres -- "$@"); }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	say "creating the PostgreSQL cluster $STATE/pgdata"
	as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U osms --no-sync \
	    -E UTF8 --locale=C >/dev/null
fi

pg_started=0
stop_pg() {
	if [ "$pg_started" = 1 ]; then
		say "stopping PostgreSQL"
		as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null ||
		    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop \
		    >/dev/null || true
		pg_started=0
	fi
}
trap stop_pg EXIT

pg_started=1	# from here on, stop it on the way out
if as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
	say "PostgreSQL is already running in $STATE/pgdata; using it"
else
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -o \
	    "-k $D/run -c listen_addresses='' -c fsync=off" start >/dev/null ||
	    die "PostgreSQL did not start; see $STATE/pg.log"
fi

psql_pg() { "$PGBIN/psql" -X -q -h "$D/run" -U osms -v ON_ERROR_STOP=1 -At "$@"; }
if [ "$(psql_pg -d postgres -c \
    "SELECT 1 FROM pg_database WHERE datname = 'osms'")" != 1 ]; then
	"$PGBIN/createdb" -h "$D/run" -U osms osms
fi

if [ "$(psql_pg -d osms -c "SELECT to_regclass('schema_version') IS NOT NULL")" != t ]; then
	say "loading sql/schema.sql into the database osms"
	psql_pg -d osms -f sql/schema.sql >/dev/null
else
	# A database of an earlier demo: the migrations it has not had.
	have=$(psql_pg -d osms -c "SELECT max(version) FROM schema_version")
	for f in sql/migrations/[0-9]*.sql; do
		n=${f##*/}
		n=$((10#${n%%-*}))
		if [ "$n" -gt "${have:-0}" ]; then
			say "applying $f"
			psql_pg -d osms -f "$f" >/dev/null
		fi
	done
fi

# The demo users, through osmsctl once osmsd answers (an empty database
# only): the same path an administrator takes.
fill_directory() {
	local u
	[ "$(psql_pg -d osms -c "SELECT count(*) FROM domains")" = 0 ] ||
	    return 0
	for _ in $(seq 1 100); do
		"$OSMSCTL" -f "$CONF" status >/dev/null 2>&1 && break
		sleep 0.1
	done
	say "adding $DOMAIN, ${USERS[*]} and postmaster with osmsctl"
	"$OSMSCTL" -f "$CONF" domain add "$DOMAIN" >/dev/null
	for u in "${USERS[@]}"; do
		printf '%s\n' "$u-pw" |
		    "$OSMSCTL" -f "$CONF" user add "$u@$DOMAIN" >/dev/null
	done
	"$OSMSCTL" -f "$CONF" alias add "postmaster@$DOMAIN" \
	    "alice@$DOMAIN" >/dev/null
}

banner
child=
# shellcheck disable=SC2317  # a trap handler
forward() {
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
	fi
}
trap forward INT TERM HUP
"$OSMSD" -d -f "$CONF" &
child=$!
fill_directory || say "could not add the demo users; see the log above"
rc=0
while :; do
	if wait "$child"; then rc=0; else rc=$?; fi
	kill -0 "$child" 2>/dev/null || break
done
# A signal may have interrupted the last wait: ask once more (bash keeps
# the status of a reaped child; 127 if it has none).
if wait "$child" 2>/dev/null; then
	rc=0
else
	r=$?
	[ "$r" = 127 ] || rc=$r
fi
trap - INT TERM HUP
stop_pg
exit "$rc"
