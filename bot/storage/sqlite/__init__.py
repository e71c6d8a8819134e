"""The sqlite backend: one database file in WAL mode through sqlite-utils, its SQL split by aggregate."""
