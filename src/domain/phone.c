/* phone.c — phone number normalisation (see phone.h). */
#include "domain/phone.h"

#include <string.h>

int phone_normalize(const char *in, char out[PHONE_MAX]) {
  size_t n = 0, digits = 0;
  if (!in || strlen(in) > 40) return -1;
  for (const char *p = in; *p; p++) {
    if (*p == '+' && n == 0 && digits == 0) {
      out[n++] = '+';
    } else if (*p >= '0' && *p <= '9') {
      if (digits == 20) return -1;
      out[n++] = *p;
      digits++;
    } else if (!strchr(" -.()", *p)) {
      return -1;
    }
  }
  out[n] = '\0';
  return digits >= 6 ? 0 : -1;
}
