#!/bin/sh
# A single-node Ceph radosgw on loopback, for tests and the demo
# (the radosgw recipe in docs/s3.md, "Test infrastructure").
#
#   scripts/s3server.sh start DIR PORT [BUCKET]
#       Starts monitor, OSD (RAM-backed) and radosgw under DIR; S3 on
#       http://127.0.0.1:PORT. Ports PORT+1 (monitor) and PORT+2..PORT+31
#       (OSD messenger) are used too. Creates a user and BUCKET (default
#       covship-test), writes DIR/env (shell KEY=value lines) and prints it.
#       Running it again on a running DIR only prints DIR/env.
#   scripts/s3server.sh stop DIR
#       Stops radosgw, then the OSD, then the monitor, each by the PID in its
#       pid file and only if that process's command line names DIR/ceph.conf.
#       Stopping a stopped DIR is not an error. DIR itself is left alone.
#   scripts/s3server.sh status DIR
#       Exit 0 when radosgw answers on DIR's endpoint.
set -eu

AK=COVSHIPTESTACCESSKEY
SK=covshipTestSecretKey0123456789abcdefghij
REGION=us-east-1
PY=/usr/bin/python3

die() {
	echo "s3server: $*" >&2
	exit 1
}

bad() {
	echo "s3server: $*" >&2
	exit 2
}

usage() {
	echo "usage: $0 start DIR PORT [BUCKET] | stop DIR | status DIR" >&2
	exit 2
}

# pid_of DIR NAME: the PID in DIR/run/NAME.pid if that process is alive and
# its command line names DIR/ceph.conf (a recycled PID is never ours).
pid_of() {
	pf="$1/run/$2.pid"
	[ -s "$pf" ] || return 1
	p=$(cat "$pf")
	case "$p" in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$p/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$1/ceph.conf" || return 1
	echo "$p"
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s.
wait_for() {
	limit=$(($1 * 5))
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.2
	done
}

http_ok() {
	curl -sf -o /dev/null --max-time 2 "$1"
}

# The ceph CLI waits forever for an absent monitor unless told otherwise.
cephc() {
	timeout 60 ceph -c "$CONF" --connect-timeout 10 "$@"
}

osd_up() {
	cephc osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'
}

write_conf() {
	mon=$(($2 + 1))
	lo=$(($2 + 2))
	hi=$(($2 + 31))
	cat >"$CONF" <<EOF
[global]
fsid = $3
mon host = [v2:127.0.0.1:$mon]
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = $lo
ms bind port max = $hi
ms mon client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
osd objectstore = memstore
memstore device bytes = 8589934592
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
run dir = $1/run
pid file = $1/run/\$name.pid
admin socket = $1/run/\$name.asok
log file = $1/log/\$name.log
mon data = $1/mon/\$cluster-\$id
osd data = $1/osd/\$cluster-\$id
rgw data = $1/rgw
keyring = $1/keyring
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$2
rgw dns name = 127.0.0.1
EOF
}

write_env() {
	cat >"$1/env.tmp" <<EOF
COVSHIP_TEST_S3_ENDPOINT=http://127.0.0.1:$2
AWS_ENDPOINT_URL=http://127.0.0.1:$2
AWS_ACCESS_KEY_ID=$AK
AWS_SECRET_ACCESS_KEY=$SK
AWS_REGION=$REGION
AWS_DEFAULT_REGION=$REGION
COVSHIP_TEST_BUCKET=$3
EOF
	mv "$1/env.tmp" "$1/env"
}

create_bucket() {
	"$PY" - "$1" "$2" <<'EOF'
import sys, os, botocore.session
s = botocore.session.get_session()
c = s.create_client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                    aws_access_key_id=os.environ["AK"], aws_secret_access_key=os.environ["SK"])
try:
    c.create_bucket(Bucket=sys.argv[2])
except c.exceptions.BucketAlreadyOwnedByYou:
    pass
EOF
}

start() {
	[ $# -ge 2 ] || usage
	mkdir -p "$1"
	DIR=$(cd "$1" && pwd)
	PORT=$2
	BUCKET=${3:-covship-test}
	case "$PORT" in '' | *[!0-9]*) bad "PORT must be a number, got '$PORT'" ;; esac
	[ "$PORT" -ge 1024 ] && [ "$PORT" -le 65500 ] || bad "PORT must be in 1024..65500"
	CONF=$DIR/ceph.conf
	EP=http://127.0.0.1:$PORT

	if pid_of "$DIR" client.rgw >/dev/null && http_ok "$EP/"; then
		AK=$AK SK=$SK create_bucket "$EP" "$BUCKET" || die "cannot create bucket $BUCKET"
		write_env "$DIR" "$PORT" "$BUCKET"
		cat "$DIR/env"
		return 0
	fi
	# Half-started or stale: start over from nothing.
	stop "$DIR" >/dev/null 2>&1 || true
	if curl -s -o /dev/null --max-time 2 "$EP/"; then
		die "port $PORT is already in use by something else; pick another PORT"
	fi
	rm -rf "$DIR/run" "$DIR/log" "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/env" \
		"$DIR/monmap" "$DIR/keyring" "$CONF"
	mkdir -p "$DIR/run" "$DIR/log" "$DIR/mon/ceph-a" "$DIR/osd/ceph-0" "$DIR/rgw"

	FSID=$(uuidgen)
	write_conf "$DIR" "$PORT" "$FSID"
	MON=$((PORT + 1))

	monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON]" "$DIR/monmap" \
		>"$DIR/log/setup.log" 2>&1 || die "monmaptool failed (see $DIR/log/setup.log)"
	ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' \
		>>"$DIR/log/setup.log" 2>&1 || die "ceph-authtool failed"
	ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
		>>"$DIR/log/setup.log" 2>&1 || die "ceph-mon --mkfs failed (see $DIR/log/setup.log)"
	ceph-mon -c "$CONF" -i a >>"$DIR/log/setup.log" 2>&1 || die "ceph-mon failed to start"
	wait_for 30 cephc mon stat ||
		die "monitor did not come up (see $DIR/log/mon.a.log)"

	UUID=$(uuidgen)
	cephc osd new "$UUID" >>"$DIR/log/setup.log" 2>&1 || die "ceph osd new failed"
	ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$UUID" >>"$DIR/log/setup.log" 2>&1 ||
		die "ceph-osd --mkfs failed (see $DIR/log/setup.log)"
	ceph-osd -c "$CONF" -i 0 >>"$DIR/log/setup.log" 2>&1 || die "ceph-osd failed to start"
	wait_for 60 osd_up || die "OSD did not come up (see $DIR/log/osd.0.log)"

	# radosgw would create its pools one by one; all at once is faster.
	pids=""
	for p in .rgw.root default.rgw.log default.rgw.control default.rgw.meta \
		default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
		(cephc osd pool create "$p" 8 8 &&
			cephc osd pool application enable "$p" rgw) \
			>>"$DIR/log/pools.log" 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || die "pool creation failed (see $DIR/log/pools.log)"
	done

	radosgw -c "$CONF" -n client.rgw >>"$DIR/log/setup.log" 2>&1 || die "radosgw failed to start"
	wait_for 60 http_ok "$EP/" || die "radosgw did not answer on $EP (see $DIR/log/client.rgw.log)"
	timeout 60 radosgw-admin -c "$CONF" -n client.admin user create --uid=test --display-name=test \
		--access-key="$AK" --secret-key="$SK" >>"$DIR/log/setup.log" 2>&1 ||
		die "radosgw-admin user create failed"
	AK=$AK SK=$SK create_bucket "$EP" "$BUCKET" || die "cannot create bucket $BUCKET"
	write_env "$DIR" "$PORT" "$BUCKET"
	cat "$DIR/env"
}

# stop_one DIR NAME: SIGTERM, wait up to 20 s, then SIGKILL.
stop_one() {
	p=$(pid_of "$1" "$2") || return 0
	kill -TERM "$p" 2>/dev/null || return 0
	i=0
	while [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; do
		i=$((i + 1))
		if [ "$i" -ge 100 ]; then
			kill -KILL "$p" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
}

stop() {
	[ $# -ge 1 ] || usage
	[ -d "$1" ] || return 0
	DIR=$(cd "$1" && pwd)
	stop_one "$DIR" client.rgw
	stop_one "$DIR" osd.0
	stop_one "$DIR" mon.a
	rm -f "$DIR/env"
}

status() {
	[ $# -ge 1 ] || usage
	DIR=$(cd "$1" 2>/dev/null && pwd) || exit 1
	pid_of "$DIR" client.rgw >/dev/null || exit 1
	ep=$(sed -n 's/^COVSHIP_TEST_S3_ENDPOINT=//p' "$DIR/env" 2>/dev/null)
	[ -n "$ep" ] && http_ok "$ep/"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
start) start "$@" ;;
stop) stop "$@" ;;
status) status "$@" ;;
*) usage ;;
esac
