/* Who-data. who_snapshot runs on the permission thread while the
 * opener is frozen in its open syscall: fixed buffers, /proc only (no
 * NSS: getpwuid would open /etc/passwd, which may be a watched file),
 * and nothing that can wait on another process. What it reads, and why
 * none of it waits: /proc/<tid>/stat and status (task fields under the
 * task's own spinlocks; vsize and the memory counters are read without
 * the mmap lock), loginuid and sessionid (task fields), and the exe link
 * (the mm's exe_file under RCU; readlink prints the cached path, and
 * statx with AT_STATX_DONT_SYNC asks no filesystem, FUSE included; only
 * NFS revalidates a dentry reached through such a link, on mounts only
 * root makes).
 * Never the command line: /proc/<pid>/cmdline reads the process's memory
 * (mmap lock, page faults on pages a userfaultfd or FUSE server may never
 * serve), so args.c reads it on threads of its own. who_to_event runs on
 * the worker and adds what may be long (command line, parent's
 * executable). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/event.h"
#include "core/util.h"
#include "monitor/who.h"

/* Opens that failed for want of a descriptor (EMFILE, ENFILE), for
 * status: counted, never fatal (the field is just missing). */
static __thread unsigned who_short;

/* name in /proc/<pid>/ (dfd < 0) or in the directory dfd */
static ssize_t
who_read_at(int dfd, pid_t pid, const char *name, char *buf, size_t n)
{
	char path[64];
	ssize_t r;
	int fd;

	if (dfd < 0)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	if ((fd = openat(dfd < 0 ? AT_FDCWD : dfd, path, O_RDONLY |
	    O_CLOEXEC)) < 0) {
		if (errno == EMFILE || errno == ENFILE)
			who_short++;
		return -1;
	}
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return r;
}

static ssize_t
who_read(pid_t pid, const char *name, char *buf, size_t n)
{
	return who_read_at(-1, pid, name, buf, n);
}

/* /proc/<pid>/stat: "pid (comm) state ppid ... starttime(22) ...";
 * comm may hold spaces and parentheses: parse from the last ')'. */
static int
who_parse_stat(char *buf, char *comm, size_t commlen, pid_t *ppid,
    uint64_t *start)
{
	char *open, *close;
	unsigned long long st = 0;
	int pp = 0;

	if ((open = strchr(buf, '(')) == NULL ||
	    (close = strrchr(buf, ')')) == NULL || close < open)
		return -1;
	*close = '\0';
	snprintf(comm, commlen, "%s", open + 1);
	/* after ") ": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime cutime cstime priority nice
	 * num_threads itrealvalue starttime */
	if (sscanf(close + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%*u %*u %*d %*d %*d %*d %*d %*d %llu", &pp, &st) != 2)
		return -1;
	*ppid = pp;
	*start = st;
	return 0;
}

static int
who_stat(pid_t pid, char *comm, size_t commlen, pid_t *ppid, uint64_t *start)
{
	char buf[1024];

	if (who_read(pid, "stat", buf, sizeof(buf)) <= 0)
		return -1;
	return who_parse_stat(buf, comm, commlen, ppid, start);
}

/* Start time of the process whose /proc directory is dfd. */
int
who_start_time_at(int dfd, uint64_t *start)
{
	char buf[1024], comm[16];
	pid_t ppid;

	if (who_read_at(dfd, 0, "stat", buf, sizeof(buf)) <= 0)
		return -1;
	return who_parse_stat(buf, comm, sizeof(comm), &ppid, start);
}

static uint32_t
who_number(pid_t pid, const char *name)
{
	char buf[32];

	if (who_read(pid, name, buf, sizeof(buf)) <= 0)
		return UINT32_MAX;
	return (uint32_t)strtoul(buf, NULL, 10);
}

static void
who_status(pid_t pid, struct perm_record *r)
{
	char buf[4096], *p;
	unsigned a, b;

	if (who_read(pid, "status", buf, sizeof(buf)) <= 0)
		return;
	if ((p = strstr(buf, "\nTgid:")) != NULL)
		r->pid = (pid_t)strtol(p + 6, NULL, 10);
	if ((p = strstr(buf, "\nUid:")) != NULL &&
	    sscanf(p + 5, "%u %u", &a, &b) == 2) {
		r->uid = a;
		r->euid = b;
	}
	if ((p = strstr(buf, "\nGid:")) != NULL &&
	    sscanf(p + 5, "%u", &a) == 1)
		r->gid = a;
}

/* Returns how many /proc opens failed for want of a descriptor. */
unsigned
who_snapshot(pid_t tid, struct perm_record *r)
{
	char path[64];
	ssize_t n;

	who_short = 0;
	r->tid = tid;
	r->uid = r->euid = r->gid = UINT32_MAX;
	if (who_stat(tid, r->comm, sizeof(r->comm), &r->ppid,
	    &r->start_time) < 0)
		r->comm[0] = '\0';
	who_status(tid, r);
	r->auid = who_number(tid, "loginuid");
	r->sessionid = who_number(tid, "sessionid");
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)tid);
	n = readlink(path, r->exe, sizeof(r->exe) - 1);
	r->exe[n > 0 ? n : 0] = '\0';
	return who_short;
}

static void
who_set_u32(json_object *o, const char *key, uint32_t v)
{
	char buf[16];

	if (v == UINT32_MAX)
		return;		/* unknown, or unset (loginuid -1) */
	snprintf(buf, sizeof(buf), "%" PRIu32, v);
	event_set_str(o, key, buf);
}

/* The command line that args.c read for the record, if any: never
 * read here (the worker must not wait on the writer's memory). */
static void
who_cmdline(json_object *proc, const struct perm_record *r)
{
	char buf[RING_ARGS_MAX + 1];
	size_t n = r->args_len < RING_ARGS_MAX ? r->args_len : RING_ARGS_MAX;
	json_object *args;

	if (n == 0)
		return;
	memcpy(buf, r->args, n);
	buf[n] = '\0';
	args = json_object_new_array();
	for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
		char *s = util_utf8_lossy(p);

		json_object_array_add(args, json_object_new_string(s));
		free(s);
	}
	json_object_object_add(proc, "args", args);
}

void
who_to_event(json_object *ev, const struct perm_record *r)
{
	json_object *proc = event_obj(ev, "process"), *user, *par;
	const char *name = strrchr(r->exe, '/');
	char ppath[64], pexe[1024];
	ssize_t n;

	if (r->pid > 0)
		json_object_object_add(proc, "pid", json_object_new_int(r->pid));
	json_object_object_add(event_obj(proc, "thread"), "id",
	    json_object_new_int(r->tid));
	if (r->exe[0] != '\0') {
		event_put_path(proc, "executable", r->exe);
		event_put_path(proc, "name", name ? name + 1 : r->exe);
	}
	if (r->comm[0] != '\0')
		event_put_path(proc, "title", r->comm);
	who_cmdline(proc, r);
	par = event_obj(proc, "parent");
	json_object_object_add(par, "pid", json_object_new_int(r->ppid));
	snprintf(ppath, sizeof(ppath), "/proc/%d/exe", (int)r->ppid);
	if (r->ppid > 0 && (n = readlink(ppath, pexe, sizeof(pexe) - 1)) > 0) {
		pexe[n] = '\0';
		event_put_path(par, "executable", pexe);
	}
	user = event_obj(ev, "user");
	who_set_u32(user, "id", r->uid);
	/* no empty objects: an unset login uid (-1) leaves no user.audit */
	if (r->euid != UINT32_MAX)
		who_set_u32(event_obj(user, "effective"), "id", r->euid);
	if (r->gid != UINT32_MAX)
		who_set_u32(event_obj(ev, "group"), "id", r->gid);
	if (r->auid != UINT32_MAX)
		who_set_u32(event_obj(user, "audit"), "id", r->auid);
	if (r->sessionid != UINT32_MAX)
		json_object_object_add(event_obj(event_obj(ev, "fimguard"),
		    "process"), "session_id",
		    json_object_new_int64(r->sessionid));
}

/* Device and inode of pid's executable. AT_STATX_DONT_SYNC: cached
 * attributes, no round trip to the executable's filesystem (a FUSE
 * server that never answers must not stall the permission thread). */
int
who_exe_id(pid_t pid, uint64_t *dev, uint64_t *ino)
{
	char path[64];
	struct statx sx;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, STATX_INO, &sx) < 0)
		return -1;
	*dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	*ino = sx.stx_ino;
	return 0;
}

/* process.pid and, while the process lives, process.executable. */
void
who_pid_to_event(json_object *ev, pid_t pid)
{
	char path[64], exe[1024];
	json_object *proc;
	ssize_t n;

	if (pid <= 0)
		return;
	proc = event_obj(ev, "process");
	json_object_object_add(proc, "pid", json_object_new_int(pid));
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		event_put_path(proc, "executable", exe);
	}
}
