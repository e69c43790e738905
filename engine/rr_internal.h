/*
 * rr_internal.h - what the engine's files share and nobody else sees.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef RR_INTERNAL_H
#define RR_INTERNAL_H

#include <stdarg.h>

#include "redirect_rules.h"

/* Appends a diagnostic of `kind` involving `places` (copied), its message
 * formatted from fmt; past the diag's caps it is only counted. */
void rr_diag_push(rr_diag *d, rr_diag_kind kind,
                  const rr_diag_place *places, int nplaces,
                  const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void rr_diag_pushv(rr_diag *d, rr_diag_kind kind,
                   const rr_diag_place *places, int nplaces,
                   const char *fmt, va_list ap);

#endif /* RR_INTERNAL_H */
