/* One baseline entry as one JSON array (format version 2; 1 is read). Arrays, not
 * objects: json-c builds no hash table per entry, which halves the
 * time to load a large baseline. The header names the fields. */
#ifndef FIMGUARD_RECORD_H
#define FIMGUARD_RECORD_H

#include <json-c/json.h>

#include "core/entry.h"
#include "core/util.h"

struct pkg_owners;

json_object	*record_fields(void);
json_object	*record_to_json(const struct entry *);
int		 record_from_json(json_object *, struct entry *,
		    struct strlist *, struct pkg_owners *);
size_t		 record_count(int);

#endif
