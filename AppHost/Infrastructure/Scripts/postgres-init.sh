#!/usr/bin/env bash
# Creates the local PostgreSQL data directory once; the AppHost runs it as the resource postgres-init, before the
# server. Environment: PGBIN (the server's bin directory), PGDATA, PGPASSWORD (the superuser's password) and
# KEYS_RUN_AS (the user that owns the data directory when the AppHost runs as root, else empty).
set -euo pipefail
if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "PostgreSQL data directory $PGDATA is initialized."
  exit 0
fi
as_owner() { if [ -n "$KEYS_RUN_AS" ]; then setpriv --reuid="$KEYS_RUN_AS" --regid="$KEYS_RUN_AS" --init-groups -- "$@"; else "$@"; fi; }
staging="$PGDATA.init"
pwfile="$PGDATA.pwfile"
trap 'rm -rf "$staging" "$pwfile"' EXIT
rm -rf "$staging"
mkdir -m 700 "$staging"
(umask 077; printf '%s' "$PGPASSWORD" > "$pwfile")
if [ -n "$KEYS_RUN_AS" ]; then chown "$KEYS_RUN_AS:" "$staging" "$pwfile"; fi
as_owner "$PGBIN/initdb" -D "$staging" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 --encoding=UTF8 --no-locale >/dev/null
# Initialize aside, then move into place: an interrupted init never leaves a half-made data directory behind.
mv "$staging" "$PGDATA"
echo "Initialized PostgreSQL data directory $PGDATA."
