"""The PostgreSQL backend: several replicas share one database through psycopg 3 and a connection pool, its SQL
split by aggregate like the sqlite backend's."""
