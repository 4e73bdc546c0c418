#!/usr/bin/env bash
# Starts or stops a moto server on a free loopback port.
#   scripts/moto.sh start DIR        -> starts it, writes DIR/moto.pid and DIR/moto.url, prints the URL
#   scripts/moto.sh stop DIR
#   scripts/moto.sh run DIR CMD...   -> runs CMD against a fresh server (AWS_ENDPOINT_URL and
#                                       dummy credentials set), then stops it, whatever CMD did
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?state directory}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir"
case "$cmd" in
  start)
    port=$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$root/.venv/bin/python" "$root/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
      if "$root/.venv/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url/moto-api/data.json" >/dev/null 2>&1; then
        echo "$url" >"$dir/moto.url"
        echo "$url"
        exit 0
      fi
      sleep 0.2
    done
    echo "moto server did not start; see $dir/moto.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/moto.pid" ]; then
      kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
      rm -f "$dir/moto.pid" "$dir/moto.url"
    fi
    ;;
  run)
    shift 2
    trap '"$0" stop "$dir"' EXIT
    url=$("$0" start "$dir")
    echo "moto server at $url"
    export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2
    unset AWS_PROFILE AWS_SESSION_TOKEN
    "$@"
    ;;
  *)
    echo "usage: $0 start|stop DIR | run DIR CMD..." >&2
    exit 2
    ;;
esac
