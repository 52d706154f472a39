#!/usr/bin/env bash
# Registration benchmark (docs/benchmarks.md): on a register seeded with `rusreg seed`, run
#  1. the worklist and form-save load over HTTP on loopback (rusreg-load), and
#  2. the baselines in the same run: pgbench with the same writes as one SQL transaction, and
#     pgbench running the worklist's own SQL.
# Usage: RUSREG_DATA_DIR=/path/with/seeded/cluster tests/bench/registration.sh [seconds] [clients]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_RUN=${1:-30}
CLIENTS=${2:-16}
: "${RUSREG_DATA_DIR:?set RUSREG_DATA_DIR to the data folder of a seeded managed cluster}"
BIN=${BIN:-target/release}
PW=bench-password-$$-long
PORT=18080

RUSREG_DEMO_PASSWORD=$PW RUSREG_BIND=127.0.0.1:$PORT RUSREG_LOG=warn $BIN/rusreg demo > /tmp/rusreg-bench-demo.log 2>&1 &
DEMO=$!
trap 'kill -INT $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true' EXIT
until curl -sf http://127.0.0.1:$PORT/health/ready > /dev/null; do sleep 1; done

PGPORT=$(sed -n 4p "$RUSREG_DATA_DIR/pgdata/postmaster.pid")
export PGPASSWORD; PGPASSWORD=$(cat "$RUSREG_DATA_DIR/superuser.password")
PSQL="psql -h 127.0.0.1 -p $PGPORT -U rusreg -d rusreg -tA"
PGBENCH=$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)

# The unit whose number of active pathways is closest to 5,000.
read -r UNIT RESH ACTIVE < <($PSQL -F ' ' -c "SELECT n.id, n.resh_id, count(*) FROM pathways p JOIN org_nodes n ON n.id = p.unit_id WHERE p.status = 1 GROUP BY 1, 2 ORDER BY abs(count(*) - 5000) LIMIT 1")
echo "unit $UNIT (RESH $RESH): $ACTIVE active pathways; $($PSQL -c 'SELECT count(*) FROM pathways') pathways in all"
RUSREG_NEW_PASSWORD=$PW $BIN/rusreg user add --username bench-registrar --role registrar --node "$RESH" > /dev/null

$BIN/rusreg-load --url http://127.0.0.1:$PORT --username bench-registrar --password "$PW" --unit "$UNIT" \
  --concurrency "$CLIENTS" --seconds "$SECONDS_RUN" --worklist-requests 200

# Baseline 1: the worklist's SQL alone, one client; then the query it replaced (aggregating the
# unit's forms, tests/bench/worklist_before.sql) on the same database.
for sql in crates/persistence/src/worklist.sql tests/bench/worklist_before.sql; do
  sed -e "s/\$1/$UNIT/; s/\$2/CURRENT_DATE/; s/\$3/526/" "$sql" | grep -v '^--' | tr '\n' ' ' > /tmp/worklist.pgbench
  echo ";" >> /tmp/worklist.pgbench
  echo "pgbench $sql:"
  $PGBENCH -h 127.0.0.1 -p "$PGPORT" -U rusreg -n -c 1 -T 20 -f /tmp/worklist.pgbench rusreg 2>/dev/null | grep -E "latency average|tps"
done
sed -e "s/\$1/$UNIT/; s/\$2/CURRENT_DATE/; s/\$3/526/" crates/persistence/src/worklist.sql | grep -v '^--' > /tmp/worklist.explain
$PSQL -c "EXPLAIN (ANALYZE, BUFFERS) $(cat /tmp/worklist.explain)" | grep -E "Scan|Heap Fetches|Buffers|Execution Time" | head -8

# Baseline 2: the form save as one SQL transaction, on other draft measurement forms of the unit.
$PSQL -c "DROP TABLE IF EXISTS bench_forms; CREATE TABLE bench_forms AS SELECT row_number() OVER () AS n, f.id FROM forms f JOIN pathways p ON p.id = f.pathway_id WHERE f.kind = 'measurement' AND f.status = 'draft' AND p.unit_id <> $UNIT LIMIT 16" > /dev/null
$PGBENCH -h 127.0.0.1 -p "$PGPORT" -U rusreg -n -c "$CLIENTS" -j 2 -T "$SECONDS_RUN" -r -f tests/bench/form_save.pgbench rusreg 2>/dev/null | grep -E "^tps|latency average|number of transactions actually"
$PSQL -c "DROP TABLE bench_forms" > /dev/null
