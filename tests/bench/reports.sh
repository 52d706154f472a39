#!/usr/bin/env bash
# Reports benchmark (docs/benchmarks.md): on a register seeded with `rusreg seed`, time
#  - indicators for a year (with the year before, for the trend) and completeness for a year,
#    each next to a plain SQL GROUP BY over the same rows (`baseline-*`), alternating, same run;
#  - a full release of the year (counts, linked table, suppression, audit, store);
#  - the indicators endpoint over HTTP on loopback (register staff, level=unit);
# each task in its own process under /usr/bin/time, for wall time and peak memory.
# Usage: RUSREG_DATA_DIR=/path/with/seeded/cluster [YEAR=2025] tests/bench/reports.sh [repeat]
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEAT=${1:-5}
YEAR=${YEAR:-2025}
: "${RUSREG_DATA_DIR:?set RUSREG_DATA_DIR to the data folder of a seeded managed cluster}"
BIN=${BIN:-target/release}
PW=bench-password-$$-long
PORT=18081

RUSREG_DEMO_PASSWORD=$PW RUSREG_BIND=127.0.0.1:$PORT RUSREG_LOG=warn $BIN/rusreg demo > /tmp/rusreg-reports-bench.log 2>&1 &
DEMO=$!
trap 'kill -INT $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true' EXIT
until curl -sf http://127.0.0.1:$PORT/health/ready > /dev/null; do sleep 1; done

PGPORT=$(sed -n 4p "$RUSREG_DATA_DIR/pgdata/postmaster.pid")
PGPASSWORD=$(cat "$RUSREG_DATA_DIR/superuser.password")
URL="postgres://rusreg:$PGPASSWORD@127.0.0.1:$PGPORT/rusreg"
echo "$(psql "$URL" -tAc 'SELECT count(*) FROM pathways') pathways; year $YEAR: $(psql "$URL" -tAc "SELECT count(*) FROM pathways WHERE start_date >= make_date($YEAR,1,1) AND start_date < make_date($YEAR+1,1,1)") started, $(psql "$URL" -tAc "SELECT count(*) FROM forms WHERE status = 'completed' AND event_date >= make_date($YEAR,1,1) AND event_date < make_date($YEAR+1,1,1)") completed forms"

run() {
  /usr/bin/time -f "  -> wall %e s, peak memory %M KB" "$BIN/rusreg-reports-bench" --database-url "$URL" --year "$YEAR" "$@"
}
for task in baseline-indicators indicators baseline-indicators indicators baseline-completeness completeness baseline-completeness completeness; do
  run --task $task --repeat "$REPEAT"
done
run --task release
run --task protected-completeness --repeat "$REPEAT"

# The endpoint over HTTP: register staff, level=unit (computing, serialising, auditing).
TOKEN=$(curl -sf -H 'content-type: application/json' \
  -d "{\"username\":\"demo-register-staff\",\"password\":\"$PW\"}" http://127.0.0.1:$PORT/api/v1/auth/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
for i in $(seq "$REPEAT"); do
  curl -sf -o /dev/null -w "  GET /reports/indicators?level=unit: %{time_total} s, %{size_download} bytes\n" \
    -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/reports/indicators?year=$YEAR&level=unit"
done
for i in $(seq "$REPEAT"); do
  curl -sf -o /dev/null -w "  GET /reports/completeness?level=unit: %{time_total} s, %{size_download} bytes\n" \
    -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/reports/completeness?year=$YEAR&level=unit"
done
