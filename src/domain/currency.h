/* currency.h — ISO 4217 codes mps accepts and their minor-unit exponents (JPY 0, USD 2,
 * KWD 3). Amounts everywhere are integers in these minor units. Pure data, no I/O. */
#ifndef MPS_DOMAIN_CURRENCY_H
#define MPS_DOMAIN_CURRENCY_H

/* Minor-unit exponent of an ISO 4217 code, or -1 when mps does not know it. */
int currency_exponent(const char *code);

#endif
