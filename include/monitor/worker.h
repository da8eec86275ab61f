/* The monitor's worker thread: directory notifications, hashing,
 * restores, events and alerts; everything that may be slow, so that
 * the permission thread never waits. */
#ifndef FIMGUARD_WORKER_H
#define FIMGUARD_WORKER_H

void	*worker_main(void *);

#endif
