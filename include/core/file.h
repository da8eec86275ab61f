/* fimguard's own files: opened without waiting on a FIFO, appended to
 * whole or not at all, replaced atomically. */
#ifndef FIMGUARD_FILE_H
#define FIMGUARD_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Temporary files fimguard makes in its state directory and vault
 * start with this; the next command that takes the lock removes
 * those that a killed run left. */
#define FILE_TMP_PREFIX	".tmp."

int	 file_open(const char *, int, mode_t, char **);
int	 file_append(int, const void *, size_t);
int	 file_replace(const char *, const char *, const void *, size_t,
	    mode_t, char **);
int	 file_sync_dir(const char *);

#endif
