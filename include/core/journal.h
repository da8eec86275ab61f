/* approve as a journaled transaction: the history and the events are
 * durable before the baseline changes; a killed run is rolled forward
 * or back by the next command that takes the lock. */
#ifndef FIMGUARD_JOURNAL_H
#define FIMGUARD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/state.h"

#define JOURNAL_ID_LEN	32	/* hex */

struct journal {
	char	 id[JOURNAL_ID_LEN + 1];
	char	*next;		/* the new baseline: baseline.json.XXXXXX */
	uint8_t	 next_sha[32];
	char	*history;	/* the history line, newline included */
	char	*events;	/* the event lines, each with its newline */
	size_t	 events_len;
	char	*events_path;	/* NULL: no events file */
};

void	 journal_new_id(char [JOURNAL_ID_LEN + 1]);
int	 journal_approve(const struct state *, struct journal *, char **);
int	 journal_recover(const struct state *, char **);
int	 journal_pending(const struct state *);
void	 journal_free(struct journal *);

#endif
