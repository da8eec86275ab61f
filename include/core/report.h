/* Turning changes into words (for people) and events (for machines). */
#ifndef FIMGUARD_REPORT_H
#define FIMGUARD_REPORT_H

#include <stdio.h>

#include "core/compare.h"
#include "core/conf.h"
#include "core/event.h"
#include "core/state.h"

void	 report_human(FILE *, const struct conf *, const struct changes *,
	    size_t);
json_object *report_event(const struct conf *, const struct change *,
	    const char *, const char *);
void	 report_rule_info(const struct conf *, const char *, int *, int *);
void	 report_add_diff(json_object *, const char *, const struct entry *,
	    int);
void	 report_change_diff(json_object *, const struct conf *,
	    const struct state *, const struct change *);
void	 report_package(json_object *, const struct pkg_label *);
json_object *report_mismatch(const struct conf *, const struct entry *,
	    const struct pkg_label *, const char *, const char *);
void	 report_mismatch_human(FILE *, const struct conf *,
	    const struct entry *, const struct pkg_label *);

#endif
