/* dpkg's database under package_root, read into a pkg_db. */
#ifndef FIMGUARD_PKG_DPKG_H
#define FIMGUARD_PKG_DPKG_H

#include "core/pkg.h"

int	 pkg_dpkg_present(const char *);
int	 pkg_dpkg_load(struct pkg_db *, char **);

#endif
