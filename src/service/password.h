/* password.h — argon2id password hashing (libsodium crypto_pwhash_str). Hashing costs
 * ~50-100 ms and 64 MiB by design: callers run it on a store reader thread or in mpsctl,
 * never on an HTTP event thread or the SQLite writer. */
#ifndef MPS_SERVICE_PASSWORD_H
#define MPS_SERVICE_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define PASSWORD_MIN_LEN 10
#define PASSWORD_MAX_LEN 128

/* 0, or -1 (out of memory). */
int password_hash(const char *password, char out[PASSWORD_HASH_MAX]);
/* Constant-time verification. hash NULL runs a dummy verification (same cost) and fails,
 * so an unknown account takes as long as a wrong password. */
bool password_verify(const char *hash, const char *password);
/* NULL when acceptable, else the reason. */
const char *password_check_policy(const char *password);

#endif
