/* db_pg_set.h — the set form of a statement (D63): many holds of one statement that a write
 * group's jobs made, sent as one statement whose every parameter is an array of their values.
 * Text work only; db_pg.c prepares and sends. */
#ifndef MPS_DB_PG_SET_H
#define MPS_DB_PG_SET_H

#include <stdbool.h>
#include <stddef.h>

/* The element type's name for an array of a parameter of this type (PQparamtype), or NULL for
 * a type the set form does not carry. */
const char *pg_set_type_name(unsigned oid);

/* The set form of sql, whose parameters $1..$n have the types named in types[]:
 *   INSERT INTO t (cols) VALUES (row)          -> INSERT INTO t (cols) SELECT row' FROM unnest(...) AS mps_u(...)
 *   INSERT INTO t (cols) VALUES (r1), (r2) ... -> ... SELECT mps_v.* FROM unnest(...) AS mps_u(...)
 *                                                 CROSS JOIN LATERAL (VALUES (r1'), (r2') ...) AS mps_v
 *   UPDATE t SET s WHERE w                     -> UPDATE t SET s' FROM unnest(...) AS mps_u(...) WHERE w'
 *   SELECT ... (or WITH ... SELECT ...)        -> SELECT mps_u.mps_i, mps_q.* FROM unnest(...) WITH ORDINALITY
 *                                                 AS mps_u(..., mps_i) CROSS JOIN LATERAL (query') AS mps_q
 * where unnest($1::T1[], ..., $n::Tn[]) AS mps_u(mps_1, ..., mps_n) pairs the arrays up, and
 * each $k of the row, s, w or query becomes mps_u.mps_k; a query's rows come element by
 * element, each numbered by its element (mps_i, from 1). Only those shapes: an INSERT with ON
 * CONFLICT, RETURNING or a SELECT, an UPDATE with FROM, RETURNING, WITH or a second WHERE, a
 * query that writes or draws a sequence, anything else has none. Returns the text (malloc'd,
 * the caller frees) or NULL. */
char *pg_set_form(const char *sql, int n, const char *const *types);

/* Append count values (NULL for SQL NULL) to buf at *used (cap bytes in all) as the text of a
 * PostgreSQL array, NUL-terminated: {"a","b\"c",NULL}. False, *used unchanged, when it does
 * not fit. */
bool pg_set_array(char *buf, size_t *used, size_t cap, const char *const *values, int count);

#endif
