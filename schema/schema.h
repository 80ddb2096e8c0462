/*
 * schema — the SQL migrations of the coordinator's database, embedded at build time.
 *
 * Each schema/NNNN_<what>.sql becomes one entry of `schema_migrations`, in order,
 * with version NNNN (ascending, gaps allowed; embed.c refuses anything else). The
 * generated schema_sql.c is compiled into the daemon library; store.c applies the
 * entries whose version exceeds the database's PRAGMA user_version, all in one
 * transaction that also sets user_version.
 *
 * Rules for migrations: append-only (never edit a shipped file, add the next
 * number); no BEGIN/COMMIT inside; register the new file in schema/meson.build
 * (configure fails if the list and the directory differ).
 */
#ifndef R1_SCHEMA_H
#define R1_SCHEMA_H

#include <stddef.h>

struct schema_migration {
	int version;       /* NNNN of the file name, from 1 */
	const char *name;  /* file name without .sql: "0001_init" */
	const char *sql;   /* the whole file, NUL-terminated */
};

extern const struct schema_migration schema_migrations[];  /* ascending version */
extern const size_t schema_migration_count;

#endif
