/* The rpmdb under package_root, read through librpm into a pkg_db. */
#ifndef FIMGUARD_PKG_RPM_H
#define FIMGUARD_PKG_RPM_H

#include "core/pkg.h"

int	 pkg_rpm_present(const char *);
int	 pkg_rpm_load(struct pkg_db *, char **);

#endif
