/* password.c — argon2id via libsodium (see password.h). */
#include "service/password.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

int password_hash(const char *password, char out[PASSWORD_HASH_MAX]) {
  _Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer");
  return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -1;
}

static char dummy[PASSWORD_HASH_MAX];
static int dummy_ready;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void) { dummy_ready = password_hash("mps-dummy-password", dummy) == 0; }

bool password_verify(const char *hash, const char *password) {
  if (!hash) {
    pthread_once(&dummy_once, make_dummy);
    if (dummy_ready && crypto_pwhash_str_verify(dummy, password, strlen(password)) == 0) {
      return false; /* the dummy matched a guess: still no account */
    }
    return false;
  }
  return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

const char *password_check_policy(const char *password) {
  size_t n = strlen(password);
  if (n < PASSWORD_MIN_LEN) return "must be at least 10 characters";
  if (n > PASSWORD_MAX_LEN) return "must be at most 128 characters";
  return NULL;
}
