/* Runs files through a fuzz target's LLVMFuzzerTestOneInput without
 * libFuzzer, so a corpus is a regression test for any compiler:
 *   replay_conf tests/fuzz/corpus_conf [more files or dirs...]
 * Directories are read one level deep, files in name order. A crash or
 * sanitizer report ends the run with a non-zero status; otherwise the
 * last line is "replay: N passed, 0 failed". */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (fp == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (cap - len < 65536) {
			uint8_t *bigger;

			cap = cap ? cap * 2 : 65536;
			if ((bigger = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "replay: out of memory\n");
				free(buf);
				exit(2);
			}
			buf = bigger;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	if (ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	/* an exact-size copy, so ASan sees reads past the input */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (exact == NULL)
			exit(2);
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

static int
skip_name(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int
main(int argc, char **argv)
{
	size_t passed = 0, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct dirent **ents;
		struct stat st;
		int n;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) == 0)
				passed++;
			else
				failed++;
			continue;
		}
		if ((n = scandir(argv[i], &ents, skip_name, alphasort)) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			failed++;
			continue;
		}
		for (int k = 0; k < n; k++) {
			char *p;

			if (asprintf(&p, "%s/%s", argv[i], ents[k]->d_name) < 0)
				exit(2);
			if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
				if (replay_file(p) == 0)
					passed++;
				else
					failed++;
			}
			free(p);
			free(ents[k]);
		}
		free(ents);
	}
	if (passed + failed == 0) {
		fprintf(stderr, "replay: no input files\n");
		return 1;
	}
	printf("replay: %zu passed, %zu failed\n", passed, failed);
	return failed ? 1 : 0;
}
