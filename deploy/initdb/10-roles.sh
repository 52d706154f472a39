#!/bin/sh
# First start of the database container: the register's two roles and its database.
# rusreg_owner owns the schema (migrations, reference data, bulk loads); rusreg_server is what
# `rusreg serve` connects as and holds only what the migrations grant it. Neither is superuser.
set -eu
owner_password=$(cat /run/secrets/db_owner_password)
server_password=$(cat /run/secrets/db_server_password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$owner_password" -v server_password="$server_password" <<'SQL'
CREATE ROLE rusreg_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE rusreg_server LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'server_password';
CREATE DATABASE rusreg OWNER rusreg_owner;
SQL
