/* currency.c — the ISO 4217 table behind currency.h (active codes in commerce use). */
#include "domain/currency.h"

#include <string.h>

struct currency {
  char code[4];
  int exponent;
};

static const struct currency table[] = {
    {"AED", 2}, {"ARS", 2}, {"AUD", 2}, {"BDT", 2}, {"BHD", 3}, {"BRL", 2}, {"CAD", 2},
    {"CHF", 2}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"CZK", 2}, {"DKK", 2}, {"EGP", 2},
    {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2}, {"INR", 2},
    {"ISK", 0}, {"JOD", 3}, {"JPY", 0}, {"KES", 2}, {"KRW", 0}, {"KWD", 3}, {"LKR", 2},
    {"MAD", 2}, {"MOP", 2}, {"MXN", 2}, {"MYR", 2}, {"NGN", 2}, {"NOK", 2}, {"NZD", 2},
    {"OMR", 3}, {"PEN", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"QAR", 2}, {"RON", 2},
    {"SAR", 2}, {"SEK", 2}, {"SGD", 2}, {"THB", 2}, {"TND", 3}, {"TRY", 2}, {"TWD", 2},
    {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"VND", 0}, {"XAF", 0}, {"XOF", 0}, {"ZAR", 2},
};

int currency_exponent(const char *code) {
  if (!code || strlen(code) != 3) return -1;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (memcmp(table[i].code, code, 3) == 0) return table[i].exponent;
  }
  return -1;
}
