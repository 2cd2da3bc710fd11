/* replay.c — a main() for a fuzz target without libFuzzer: runs the target once over every
 * file named on the command line (a directory: every file in it, in name order). Built with
 * the normal compiler, so each target's seed corpus and crash reproducers are a regression
 * test in the `unit` suite (and under the AddressSanitizer build). Exit 0 when every input
 * ran (a failed property aborts); 1 when a file could not be read. */
#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_FILES 4096
#define REPLAY_MAX_BYTES (1024 * 1024)

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  uint8_t *buf = malloc(REPLAY_MAX_BYTES);
  if (!buf) abort();
  size_t n = fread(buf, 1, REPLAY_MAX_BYTES, f);
  bool bad = ferror(f) != 0;
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: read error\n", path);
    free(buf);
    return -1;
  }
  /* an exact-size copy, so a read past the input is caught by the sanitizers */
  uint8_t *exact = malloc(n ? n : 1);
  if (!exact) abort();
  if (n) memcpy(exact, buf, n);
  free(buf);
  (void)LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, int *ran) {
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return -1;
  }
  char **names = calloc(REPLAY_MAX_FILES, sizeof *names);
  if (!names) abort();
  size_t count = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && count < REPLAY_MAX_FILES) {
    if (e->d_name[0] == '.') continue;
    names[count] = strdup(e->d_name);
    if (!names[count]) abort();
    count++;
  }
  closedir(d);
  qsort(names, count, sizeof *names, cmp_names);
  int rc = 0;
  for (size_t i = 0; i < count; i++) {
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (len < 0 || (size_t)len >= sizeof path) {
      fprintf(stderr, "%s/%s: path too long\n", dir, names[i]);
      rc = -1;
    } else if (run_file(path) != 0) {
      rc = -1;
    } else {
      (*ran)++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  int ran = 0, rc = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      rc = 1;
    } else if (S_ISDIR(st.st_mode)) {
      if (run_dir(argv[i], &ran) != 0) rc = 1;
    } else if (run_file(argv[i]) != 0) {
      rc = 1;
    } else {
      ran++;
    }
  }
  printf("replayed %d inputs\n", ran);
  return rc;
}
