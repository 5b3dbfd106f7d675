// SPDX-License-Identifier: GPL-2.0
/*
 * mdev_churn.c - the cost of creating and removing mdev instances through
 * sysfs, as the number of live instances grows, and the kernel memory an
 * idle instance costs.
 *
 *   mdev_churn [--levels 1,64,512,4096] [--time SEC] [--min-pairs N]
 *              [--mem-at N,...] TYPE_DIR [TYPE_DIR...]
 *
 * TYPE_DIR is an mdev type directory (.../mdev_supported_types/<type>).  For
 * each level L, L - 1 idle "background" instances are live and one more is
 * created and removed again and again for --time seconds (at least
 * --min-pairs times): every pair is one write of a UUID to the type's
 * create file and one write of "1" to the instance's remove file.  The
 * churned instance is always of the first TYPE_DIR; background instances
 * fill the directories from the last one backwards, so that with several
 * parents (mgpu's GPUs) the first keeps a free slot as long as possible.
 *
 * Results, per level L:
 *   pairs_per_s@L   create+remove pairs per second (pairs / their time)
 *   pair_us@L       the median time of one pair, in microseconds
 *   create_us@L     the median time of one create write
 *   remove_us@L     the median time of one remove write
 * and, with --mem-at N[,N...], measured first, for each N:
 *   mem_per_instance@N  (Slab + VmallocUsed with N idle instances) - (the
 *                       same with none), divided by N, in bytes
 * A level the driver cannot reach gives "capacity <instances>" and is
 * skipped, as is a --mem-at beyond the capacity.  The medians keep the
 * moments the VM's CPU was taken away (other VMs on the host) out of the
 * costs; the throughput keeps them.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_LEVELS	16
/* UUIDs: background instances count up from 1, the churned one is 0. */
#define CHURN_ID	0
/* Unmeasured pairs before each level, so that caches are warm. */
#define WARMUP_PAIRS	3

struct churn {
	char **dirs;		/* the type directories */
	int ndirs;
	int fill_dir;		/* the directory background fills now */
	unsigned int live;	/* background instances */
	unsigned int mem_at[MAX_LEVELS];	/* idle counts to measure at */
	int nmem;
	double seconds;
	unsigned int min_pairs;
};

/*
 * Creates background instances until @target are live.  Returns false if
 * every directory refused one (the driver's capacity is reached).
 */
static bool fill(struct churn *c, unsigned int target)
{
	char uuid[UUID_LEN];
	int ret;

	while (c->live < target) {
		bench_uuid(uuid, c->live + 1);
		ret = mdev_create(c->dirs[c->fill_dir], uuid);
		if (ret) {
			if (c->fill_dir == 0)
				return false;
			c->fill_dir--;	/* this parent is full: the next one */
			continue;
		}
		c->live++;
	}
	return true;
}

/* Removes background instances, newest first, until @target are live. */
static void drain(struct churn *c, unsigned int target)
{
	char uuid[UUID_LEN];
	int ret;

	for (; c->live > target; c->live--) {
		bench_uuid(uuid, c->live);
		ret = mdev_remove(uuid);
		if (ret)
			fprintf(stderr, "mdev_churn: remove %s: %s\n", uuid,
				strerror(-ret));
	}
	/* the freed parents' slots are taken again from the last one on */
	c->fill_dir = c->ndirs - 1;
}

/*
 * The kernel memory per idle instance at each --mem-at count, measured
 * before any level so that the churn leaves no partly used slabs behind in
 * the baseline.
 */
static void measure_memory(struct churn *c)
{
	long long base, mem;
	char metric[64];
	int i;

	base = kernel_mem_bytes();
	if (base < 0)
		die("cannot read /proc/meminfo: %s", strerror(-base));
	for (i = 0; i < c->nmem; i++) {
		if (!fill(c, c->mem_at[i])) {
			result("capacity", c->live, "count");
			break;
		}
		mem = kernel_mem_bytes();
		if (mem < 0)
			die("cannot read /proc/meminfo: %s", strerror(-mem));
		snprintf(metric, sizeof(metric), "mem_per_instance@%u",
			 c->live);
		result(metric, (double)(mem - base) / c->live, "B");
	}
	drain(c, 0);
}

/* One create+remove pair of the churned instance: its two times. */
static int pair(struct churn *c, double *t_create, double *t_remove)
{
	char uuid[UUID_LEN];
	double t0, t1, t2;
	int ret;

	bench_uuid(uuid, CHURN_ID);
	t0 = now_s();
	ret = mdev_create(c->dirs[0], uuid);
	if (ret)
		return ret;
	t1 = now_s();
	ret = mdev_remove(uuid);
	if (ret)
		return ret;
	t2 = now_s();
	*t_create = t1 - t0;
	*t_remove = t2 - t1;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @n values; sorts them. */
static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void level_result(const char *name, unsigned int level, double value,
			 const char *unit)
{
	char metric[64];

	snprintf(metric, sizeof(metric), "%s@%u", name, level);
	result(metric, value, unit);
}

/*
 * Measures one level: 0, or the error of the first create+remove pair
 * (the churned instance found no room: the driver's capacity).
 */
static int measure_level(struct churn *c, unsigned int level)
{
	double *create = NULL, *remove = NULL, *total = NULL;
	double start, sum = 0, tc, tr;
	unsigned int n = 0, cap = 0, i;
	int ret;

	for (i = 0; i < WARMUP_PAIRS; i++) {
		ret = pair(c, &tc, &tr);
		if (ret && i == 0)
			return ret;
		if (ret)
			die("create+remove with %u live: %s", c->live,
			    strerror(-ret));
	}
	start = now_s();
	while (n < c->min_pairs || now_s() - start < c->seconds) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			create = realloc(create, cap * sizeof(*create));
			remove = realloc(remove, cap * sizeof(*remove));
			total = realloc(total, cap * sizeof(*total));
			if (!create || !remove || !total)
				die("out of memory");
		}
		ret = pair(c, &create[n], &remove[n]);
		if (ret)
			die("create+remove with %u live: %s", c->live,
			    strerror(-ret));
		total[n] = create[n] + remove[n];
		sum += total[n];
		n++;
	}
	level_result("pairs_per_s", level, n / sum, "1/s");
	level_result("pair_us", level, median(total, n) * 1e6, "us");
	level_result("create_us", level, median(create, n) * 1e6, "us");
	level_result("remove_us", level, median(remove, n) * 1e6, "us");
	free(create);
	free(remove);
	free(total);
	return 0;
}

/* An increasing list of positive counts: "1,64,512". */
static int parse_levels(const char *s, unsigned int *levels)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_LEVELS)
			die("too many levels");
		levels[n] = strtoul(tok, NULL, 10);
		if (!levels[n] || (n && levels[n] <= levels[n - 1]))
			die("levels must be increasing and positive: %s", s);
		n++;
	}
	free(copy);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "levels", required_argument, NULL, 'l' },
		{ "time", required_argument, NULL, 't' },
		{ "min-pairs", required_argument, NULL, 'n' },
		{ "mem-at", required_argument, NULL, 'm' },
		{ }
	};
	struct churn c = { .seconds = 1.0, .min_pairs = 20 };
	unsigned int levels[MAX_LEVELS] = { 1 };
	int nlevels = 1, i, opt;
	double tc, tr;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			nlevels = parse_levels(optarg, levels);
			break;
		case 't':
			c.seconds = strtod(optarg, NULL);
			break;
		case 'n':
			c.min_pairs = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			c.nmem = parse_levels(optarg, c.mem_at);
			break;
		default:
			die("usage: mdev_churn [--levels L,...] [--time S] %s",
			    "[--min-pairs N] [--mem-at N,...] TYPE_DIR...");
		}
	}
	if (optind == argc)
		die("no type directory given");
	c.dirs = argv + optind;
	c.ndirs = argc - optind;
	c.fill_dir = c.ndirs - 1;

	/* Warm the slab caches before the memory baseline and the levels. */
	for (i = 0; i < WARMUP_PAIRS; i++)
		if (pair(&c, &tc, &tr))
			die("cannot create an instance in %s", c.dirs[0]);
	if (c.nmem)
		measure_memory(&c);

	for (i = 0; i < nlevels; i++) {
		/* L - 1 idle instances, and room for the churned one */
		drain(&c, levels[i] - 1);
		if (!fill(&c, levels[i] - 1) || measure_level(&c, levels[i])) {
			result("capacity", c.live, "count");
			break;
		}
	}
	drain(&c, 0);
	return 0;
}
