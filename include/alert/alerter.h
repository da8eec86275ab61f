/* The alerter process: a supervisor and its worker, unprivileged, the
 * only code that touches the network. Forked by alert_start(). */
#ifndef FIMGUARD_ALERTER_H
#define FIMGUARD_ALERTER_H

#include "alert/alert.h"

void	 alerter_main(struct alerter *) __attribute__((noreturn));

#endif
