/* What every command does first: load config and policy, find the
 * state directory, load and verify keys and baseline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cmd.h"
#include "core/journal.h"
#include "core/log.h"
#include "core/pkg.h"
#include "core/pkg_dpkg.h"
#include "core/pkg_rpm.h"
#include "core/scan.h"
#include "core/util.h"

#define CMD_DEFAULT_STATE	"/var/lib/fimguard"

/* Each "FILE:LINE: message" on a line of its own: a value or a file
 * name in it may hold a newline or a terminal escape, shown escaped. */
void
cmd_conf_errors(const struct conf *c)
{
	for (size_t i = 0; i < c->errors.n; i++) {
		char *e = util_escape(c->errors.v[i]);

		fprintf(stderr, "%s\n", e);
		free(e);
	}
}

/* Returns 0, or prints every error, frees c and returns EXIT_USAGE. */
int
cmd_load_conf(const struct cmd_opts *o, struct conf *c)
{
	conf_init(c);
	if (conf_load(c, o->config, o->config_given, o->policy_dir) == 0)
		return 0;
	cmd_conf_errors(c);
	fprintf(stderr, "fimguard: %zu error%s in configuration or policy\n",
	    c->errors.n, c->errors.n == 1 ? "" : "s");
	conf_free(c);
	return EXIT_USAGE;
}

const char *
cmd_state_dir(const struct cmd_opts *o, const struct conf *c)
{
	if (o->state_dir != NULL)
		return o->state_dir;
	return c->state_dir ? c->state_dir : CMD_DEFAULT_STATE;
}

/* The policy directory conf_load read. */
const char *
cmd_policy_dir(const struct cmd_opts *o, const struct conf *c)
{
	if (o->policy_dir != NULL)
		return o->policy_dir;
	return c->policy_dir ? c->policy_dir : CONF_POLICY_DIR;
}

/* For the monitor (CMD_STATE_RECOVER): what a killed approve left is
 * finished or undone before the baseline is read, as init and approve
 * do; otherwise the monitor enforces the baseline from before an
 * approval that the history and the events already record, and puts
 * the approved file back to its old content. Not while a command holds
 * the lock: that one finishes it, then makes the monitor reload. */
static void
cmd_recover(struct state *s)
{
	char *why = NULL;

	if (!journal_pending(s) || state_trylock(s) != 1)
		return;
	if (journal_recover(s, &why) < 0) {
		log_warnx("cannot finish an interrupted approval: %s", why);
		free(why);
	} else
		state_clean(s, BASELINE_FILE);
	state_unlock(s);
}

/* The state directory and its keys, or EXIT_BASELINE with the reason.
 * lock: take the writer lock first (approve), or CMD_STATE_RECOVER. */
int
cmd_open_state(const struct cmd_opts *o, const struct conf *c,
    struct state *s, int lock)
{
	const char *dir = cmd_state_dir(o, c);
	char *why = NULL;
	int r;

	if (state_open(s, dir, 0) < 0) {
		log_warnx("baseline missing: no state directory %s (run "
		    "'fimguard init')", dir);
		return EXIT_BASELINE;
	}
	if (lock == CMD_STATE_RECOVER)
		cmd_recover(s);
	else if (lock && (r = cmd_lock(s)) != 0)
		return r;
	if ((r = state_keys(s, 0, &why)) != STATE_KEYS_OK) {
		log_warnx("baseline cannot be verified: key %s: %s",
		    r == STATE_KEYS_MISSING ? "missing" : "damaged", why);
		free(why);
		return EXIT_BASELINE;
	}
	return 0;
}

/* The writer lock (init, approve), and then, before anything else, what
 * a killed run left: an approval is rolled forward or back, temporary
 * files are removed. Returns 0 or EXIT_USAGE (said why). */
int
cmd_lock(struct state *s)
{
	char *why = NULL;

	if (state_lock(s) < 0)
		return EXIT_USAGE;
	if (journal_recover(s, &why) < 0) {
		log_warnx("cannot finish an interrupted approval: %s", why);
		free(why);
		return EXIT_USAGE;
	}
	state_clean(s, BASELINE_FILE);
	return 0;
}

/* A verified baseline, or EXIT_BASELINE saying what is wrong with it. */
int
cmd_load_baseline(const struct state *s, struct baseline *b)
{
	char *why = NULL;
	int r;

	if ((r = baseline_load(b, s, &why)) != BASELINE_OK) {
		log_warnx("baseline %s: %s%s", baseline_status_name(r), why,
		    r == BASELINE_MISSING ? " (run 'fimguard init')" : "");
		free(why);
		return EXIT_BASELINE;
	}
	return 0;
}

/* Hash the walked entries: XXH3 only (check), or XXH3, SHA-256 and
 * the vault (init, approve). Returns the number of files whose vault
 * copy could not be written (each was named on stderr): a baseline
 * that promises diffs and restores the vault cannot give is not
 * written. */
size_t
cmd_scan(struct entryvec *ev, struct state *s, const struct conf *c,
    int full)
{
	char *vault = state_path(s, "vault");
	struct scan_stats st = { 0 };
	struct scan_opts so = {
		.secret = s->xxh_secret,
		.sha = full,
		.pkg = full,
		.vault = full ? vault : NULL,
		.vault_max = conf_vault_max(c),
		.stats = &st,
		.progress = isatty(STDERR_FILENO),
	};

	scan_entries(ev, &so);
	free(vault);
	if (st.hash_only > 0)
		log_warnx("%zu file%s above vault_max_size kept as hashes "
		    "only: no diff and no restore for %s", st.hash_only,
		    st.hash_only == 1 ? "" : "s",
		    st.hash_only == 1 ? "it" : "them");
	if (st.vault_failed > 0)
		log_warnx("%zu file%s could not be copied to the vault",
		    st.vault_failed, st.vault_failed == 1 ? "" : "s");
	return st.vault_failed;
}

/* The policy's roots, as prefixes (a glob's directory part): the
 * package database keeps only what lies under them. */
static void
cmd_prefixes(const struct conf *c, struct strlist *out)
{
	for (size_t r = 0; r < c->nrules; r++)
		for (size_t i = 0; i < c->rules[r].paths.n; i++) {
			char *p = xstrdup(c->rules[r].paths.v[i]);
			char *g = strpbrk(p, "*?["), *slash;

			if (g != NULL) {
				*g = '\0';
				if ((slash = strrchr(p, '/')) != NULL)
					slash[1] = '\0';
			}
			strlist_push_owned(out, util_clean_path(p));
			free(p);
		}
}

/* Which database: packages = dpkg | rpm, or for auto the one the root
 * has (dpkg's first: a Debian host may have rpm's tools too). */
static int
cmd_package_manager(const struct conf *c, const char *root)
{
	switch (c->packages) {
	case CONF_PKG_DPKG: return PKG_DPKG;
	case CONF_PKG_RPM: return PKG_RPM;
	case CONF_PKG_NONE: return PKG_NONE;
	default:
		if (pkg_dpkg_present(root))
			return PKG_DPKG;
		return pkg_rpm_present(root) ? PKG_RPM : PKG_NONE;
	}
}

/* Read the package database the config names, once, keeping what lies
 * under the policy's roots. Returns 0 (db->manager is PKG_NONE when
 * there is none to read), or -1 after saying why. */
int
cmd_packages(const struct conf *c, struct pkg_db *db)
{
	const char *root = c->package_root ? c->package_root : "/";
	struct strlist prefixes = { 0 };
	char *why = NULL;
	int m = cmd_package_manager(c, root), r = 0;

	cmd_prefixes(c, &prefixes);
	pkg_db_init(db, m, root, &prefixes);
	strlist_free(&prefixes);
	if (m == PKG_NONE)
		return 0;
	pkg_find_aliases(db);
	r = m == PKG_DPKG ? pkg_dpkg_load(db, &why) : pkg_rpm_load(db, &why);
	if (r < 0) {
		log_warnx("package database (%s): %s", pkg_manager_name(m),
		    why);
		free(why);
		pkg_db_free(db);	/* nothing half-read is trusted */
		pkg_db_init(db, PKG_NONE, root, NULL);
		return -1;
	}
	log_info("package database: %s, %zu packages, %zu paths kept",
	    pkg_manager_name(m), db->npkgs, db->nfiles);
	return r;
}
