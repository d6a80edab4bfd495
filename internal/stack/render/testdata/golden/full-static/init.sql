-- init.sql of WebStack web/shop, rendered by webstack-operator: do not edit.
-- Creates the app role "app" and its database "app",
-- with the extensions pg_trgm, btree_gin.
--
-- Run it as the superuser (postgres) with psql, through the local socket, with the
-- passwords in the environment (never on a command line):
--   APP_PASSWORD=... POSTGRES_PASSWORD=... psql -v ON_ERROR_STOP=1 -U postgres -d postgres -f init.sql
-- psql variables (each read from the environment variable when not set with -v):
--   app_password  (required; APP_PASSWORD) the password of the role "app". It is not
--                 in this file, which goes into a ConfigMap; psql quotes it as a literal.
--   superuser_password  (optional; POSTGRES_PASSWORD) the password of "postgres".
--
-- The pod runs it on every start, so the passwords the server accepts are always those of
-- the credentials Secret: an existing role gets its password again (a rotation), an
-- existing database and existing extensions are kept.

\set ON_ERROR_STOP on
\if :{?app_password}
\else
\getenv app_password APP_PASSWORD
\endif
\if :{?superuser_password}
\else
\getenv superuser_password POSTGRES_PASSWORD
\endif
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

\if :{?superuser_password}
SELECT :'superuser_password' <> '' AS set_superuser_password \gset
\if :set_superuser_password
ALTER ROLE "postgres" WITH PASSWORD :'superuser_password';
\endif
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
CREATE EXTENSION IF NOT EXISTS "pg_trgm";
CREATE EXTENSION IF NOT EXISTS "btree_gin";
