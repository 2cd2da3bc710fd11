/* phone.h — phone numbers as mps stores them: an optional leading '+' and 6 to 20 digits;
 * spaces, dashes, dots and parentheses typed by people are dropped. Pure, no I/O. */
#ifndef MPS_DOMAIN_PHONE_H
#define MPS_DOMAIN_PHONE_H

#include <stddef.h>

#define PHONE_MAX 22 /* '+' + 20 digits + NUL */

/* 0 with the normalised number in out, or -1 when it is not a phone number. */
int phone_normalize(const char *in, char out[PHONE_MAX]);

#endif
