# PostgreSQL for the store tests (sourced by scripts/services). Starts a throwaway cluster in a
# temporary directory, listening only on 127.0.0.1 at a free port with trust authentication,
# creates one database, and exports OPENJPKI_TEST_POSTGRES_URL for the tests marked
# `postgres`. postgres_stop stops the server and removes the directory. No systemd needed:
# only the binaries from Debian's postgresql package (found under /usr/lib/postgresql/*/bin).

_pg_dir=""
_pg_bin=""
_pg_as() {
  # The server refuses to run as root: run its tools as the postgres user when we are root.
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_start() {
  local d port
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then _pg_bin="$d"; break; fi
  done
  if [ -z "$_pg_bin" ]; then
    echo "postgres: no /usr/lib/postgresql/*/bin found (apt-get install postgresql)" >&2
    return 1
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "postgres: running as root but there is no postgres user" >&2
    return 1
  fi
  _pg_dir=$(mktemp -d /tmp/openjpki-pg.XXXXXX) || return 1
  chmod 755 "$_pg_dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$_pg_dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()') || return 1
  if ! _pg_as "$_pg_bin/initdb" -D "$_pg_dir/data" -U openjpki -A trust -E UTF8 --locale=C.UTF-8 \
      >"$_pg_dir/initdb.log" 2>&1; then
    echo "postgres: initdb failed; see $_pg_dir/initdb.log" >&2
    return 1
  fi
  if ! _pg_as "$_pg_bin/pg_ctl" -D "$_pg_dir/data" -l "$_pg_dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $_pg_dir -c fsync=off -c max_connections=100" \
      start >/dev/null; then
    echo "postgres: the server did not start; see $_pg_dir/server.log" >&2
    return 1
  fi
  if ! _pg_as "$_pg_bin/createdb" -h 127.0.0.1 -p "$port" -U openjpki openjpki_test; then
    echo "postgres: createdb failed" >&2
    postgres_stop
    return 1
  fi
  export OPENJPKI_TEST_POSTGRES_URL="postgresql+psycopg://openjpki@127.0.0.1:$port/openjpki_test"
  echo "postgres: $OPENJPKI_TEST_POSTGRES_URL"
}

postgres_stop() {
  if [ -n "$_pg_dir" ] && [ -d "$_pg_dir/data" ]; then
    _pg_as "$_pg_bin/pg_ctl" -D "$_pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ -n "$_pg_dir" ] && rm -rf "$_pg_dir"
  _pg_dir=""
  unset OPENJPKI_TEST_POSTGRES_URL
}
