-- init.sql of WebStack web/shop, rendered by webstack-operator: do not edit.
-- Creates the app role "app" and its database "app".
--
-- Run it as the superuser (postgres) with psql, through the local socket:
--   psql -v ON_ERROR_STOP=1 -v app_password="$APP_PASSWORD" -U postgres -d postgres -f init.sql
-- psql variables:
--   app_password  (required) the password of the role "app". It is not in this file,
--                 which goes into a ConfigMap; psql quotes it as a literal.
--
-- It can run again: an existing role gets the password again (a rotation), an existing
-- database and existing extensions are kept.

\set ON_ERROR_STOP on
\if :{?app_password}
\else
\echo 'init.sql: the psql variable app_password is not set: run psql -v app_password=...'
SELECT 1 / 0 AS missing_app_password;
\endif
SELECT :'app_password' = '' AS empty_app_password \gset
\if :empty_app_password
\echo 'init.sql: the psql variable app_password is empty'
SELECT 1 / 0 AS empty_app_password;
\endif

SELECT 'CREATE ROLE "app" LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') \gexec
-- password_encryption = scram-sha-256: the server stores only the SCRAM verifier.
ALTER ROLE "app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';

SELECT 'CREATE DATABASE "app" OWNER "app" TEMPLATE template0 ENCODING ''UTF8'''
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'app') \gexec
REVOKE ALL ON DATABASE "app" FROM PUBLIC;
GRANT ALL ON DATABASE "app" TO "app";

\connect "app"
-- JSONB and its GIN operator classes (jsonb_ops, jsonb_path_ops) are built in.
