# shellcheck shell=bash
# The monitoring stack of a test, real servers on 127.0.0.1 ports of its own (sourced after
# tests/lib.sh; the test's cleanup stops them): Debian's prometheus-pushgateway,
# prometheus-node-exporter (the textfile collector only, reading $TEXTFILE_DIR) and
# prometheus with the shipped results/grafana/prometheus.yml, scraping both every second.
#   stack_up          starts the three; sets PUSHGATEWAY, NODE_EXPORTER, PROMETHEUS (URLs) and TEXTFILE_DIR
#   prom_value QUERY  the value of an instant query's first series ("" when there is none)
#   prom_wait_value QUERY VALUE   waits (up to 30 s) until prom_value QUERY prints VALUE

http_get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }

# wait_ready URL NAME LOG: until URL answers (30 s), else a failure showing LOG's tail.
wait_ready() {
  local _
  for _ in $(seq 300); do http_get "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "$2 did not become ready at $1"
  tail -5 "$3"
  return 1
}

stack_up() {
  local pg ne pr pid
  pg=$(free_port) ne=$(free_port) pr=$(free_port)
  TEXTFILE_DIR="$WORK/textfile"
  mkdir -p "$TEXTFILE_DIR" "$WORK/prometheus"
  prometheus-pushgateway --web.listen-address="127.0.0.1:$pg" >"$WORK/pushgateway.log" 2>&1 &
  pid=$!
  cleanup_hooks+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
  prometheus-node-exporter --web.listen-address="127.0.0.1:$ne" --collector.disable-defaults \
    --collector.textfile --collector.textfile.directory="$TEXTFILE_DIR" >"$WORK/node_exporter.log" 2>&1 &
  pid=$!
  cleanup_hooks+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
  # The shipped configuration (results/grafana/prometheus.yml), on this test's ports, every second.
  sed -e "s/127.0.0.1:9091/127.0.0.1:$pg/; s/127.0.0.1:9100/127.0.0.1:$ne/; s/: 15s/: 1s/" \
    "$DTBENCH_SRC/results/grafana/prometheus.yml" >"$WORK/prometheus.yml"
  grep -q "127.0.0.1:$pg" "$WORK/prometheus.yml" && grep -q "127.0.0.1:$ne" "$WORK/prometheus.yml" &&
    ! grep -q "15s" "$WORK/prometheus.yml" || { fail "results/grafana/prometheus.yml: its ports or interval moved"; return 1; }
  promtool check config "$WORK/prometheus.yml" >/dev/null || { fail "promtool check config"; return 1; }
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
    --web.listen-address="127.0.0.1:$pr" >"$WORK/prometheus.log" 2>&1 &
  pid=$!
  cleanup_hooks+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
  PUSHGATEWAY="http://127.0.0.1:$pg" NODE_EXPORTER="http://127.0.0.1:$ne" PROMETHEUS="http://127.0.0.1:$pr"
  wait_ready "$PUSHGATEWAY/-/ready" pushgateway "$WORK/pushgateway.log" &&
    wait_ready "$NODE_EXPORTER/metrics" node_exporter "$WORK/node_exporter.log" &&
    wait_ready "$PROMETHEUS/-/ready" prometheus "$WORK/prometheus.log"
}

prom_value() {
  python3 - "$PROMETHEUS" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = f"{sys.argv[1]}/api/v1/query?{urllib.parse.urlencode({'query': sys.argv[2]})}"
r = json.loads(urllib.request.urlopen(url, timeout=5).read().decode())["data"]["result"]
print(r[0]["value"][1] if r else "")
PY
}

prom_wait_value() {
  local _ got=""
  for _ in $(seq 60); do
    got=$(prom_value "$1" 2>/dev/null) || got=""
    [ "$got" = "$2" ] && return 0
    sleep 0.5
  done
  echo "prometheus: $1 is '${got}', want '$2'" >&2
  return 1
}
