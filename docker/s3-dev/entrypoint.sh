#!/bin/sh
# Start radosgw (it daemonises), then stay in the foreground until SIGTERM
# and stop it in order (radosgw, OSD, monitor).
set -eu
dir=/var/lib/covship-s3
/usr/local/bin/s3server.sh start "$dir" "${S3_PORT:-7480}" "${S3_BUCKET:-covship-dev}"
stop() {
	/usr/local/bin/s3server.sh stop "$dir"
	exit 0
}
trap stop TERM INT
while :; do
	sleep 3600 &
	wait $! || true
done
