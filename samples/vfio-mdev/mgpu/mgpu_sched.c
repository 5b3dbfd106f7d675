// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_sched.c - the engine scheduler of an mgpu GPU: it shares the GPU's
 * one engine between the instances that have commands waiting, in
 * proportion to their weights, and accounts the engine time each used.
 *
 * Weighted fair queueing: every engine has a virtual time, the engine time
 * it used divided by its weight.  The executor (one work item per GPU)
 * always runs a slice of the runnable engine with the smallest virtual
 * time, then charges it what the slice took.  An engine that becomes
 * runnable starts at the virtual time of the engine picked last if it is
 * behind it, so that an instance that idled gets no burst at the others'
 * expense.  Under saturation the engine time used is then shared as the
 * weights are, whatever the size of the instances' commands: a flooding
 * instance only ever gets its own share.
 *
 * The instance's sysfs files (weight, engine_time_ns) are here too.
 */

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>

#include "mgpu.h"

/* A slice ends after the command that used this much engine time. */
#define MGPU_SLICE_NS		(2 * NSEC_PER_MSEC)
/* Virtual time is ns << this / weight: keeps precision for big weights. */
#define MGPU_VTIME_SHIFT	10

static struct mgpu_sched *mgpu_sched_of(struct mgpu_device *mgpu)
{
	return &mgpu->gpu->sched;
}

/* The runnable engine with the smallest virtual time, or NULL. */
static struct mgpu_engine *mgpu_sched_pick(struct mgpu_sched *sched)
{
	struct mgpu_engine *eng, *best = NULL;

	lockdep_assert_held(&sched->lock);
	list_for_each_entry(eng, &sched->runnable, run_node)
		if (!best || eng->vtime < best->vtime)
			best = eng;
	return best;
}

static void mgpu_sched_enqueue(struct mgpu_sched *sched,
			       struct mgpu_engine *eng)
{
	lockdep_assert_held(&sched->lock);
	if (eng->stop_count || !list_empty(&eng->run_node))
		return;
	eng->vtime = max(eng->vtime, sched->vclock);
	list_add_tail(&eng->run_node, &sched->runnable);
}

/* One slice of the next engine: false when no engine is runnable. */
static bool mgpu_sched_run_one(struct mgpu_sched *sched)
{
	struct mgpu_device *mgpu;
	struct mgpu_engine *eng;
	u64 start, used;
	bool busy;

	mutex_lock(&sched->exec_lock);
	spin_lock(&sched->lock);
	eng = mgpu_sched_pick(sched);
	if (eng) {
		list_del_init(&eng->run_node);
		sched->vclock = eng->vtime;
	}
	spin_unlock(&sched->lock);
	if (!eng) {
		mutex_unlock(&sched->exec_lock);
		return false;
	}

	mgpu = container_of(eng, struct mgpu_device, engine);
	start = ktime_get_ns();
	busy = mgpu_engine_run(mgpu, MGPU_SLICE_NS);
	used = ktime_get_ns() - start;
	atomic64_add(used, &eng->used_ns);

	spin_lock(&sched->lock);
	eng->vtime += div_u64(used << MGPU_VTIME_SHIFT, eng->weight);
	if (busy)
		mgpu_sched_enqueue(sched, eng);
	spin_unlock(&sched->lock);
	mutex_unlock(&sched->exec_lock);
	return true;
}

static void mgpu_sched_work(struct work_struct *work)
{
	struct mgpu_sched *sched = container_of(work, struct mgpu_sched, work);

	while (mgpu_sched_run_one(sched))
		cond_resched();
}

/**
 * mgpu_sched_init() - set up a GPU's scheduler
 * @sched: the scheduler, in a GPU being set up
 */
void mgpu_sched_init(struct mgpu_sched *sched)
{
	spin_lock_init(&sched->lock);
	INIT_LIST_HEAD(&sched->runnable);
	sched->vclock = 0;
	mutex_init(&sched->exec_lock);
	INIT_WORK(&sched->work, mgpu_sched_work);
}

/**
 * mgpu_sched_fini() - undo mgpu_sched_init()
 * @sched: the scheduler of a GPU without instances
 */
void mgpu_sched_fini(struct mgpu_sched *sched)
{
	cancel_work_sync(&sched->work);
	WARN_ON(!list_empty(&sched->runnable));
	mutex_destroy(&sched->exec_lock);
}

/**
 * mgpu_sched_engine_init() - an instance's engine joins its GPU, idle
 * @mgpu: the instance, at init_dev
 */
void mgpu_sched_engine_init(struct mgpu_device *mgpu)
{
	struct mgpu_engine *eng = &mgpu->engine;

	INIT_LIST_HEAD(&eng->run_node);
	eng->weight = MGPU_WEIGHT_DEFAULT;
	eng->vtime = 0;
	eng->stop_count = 0;
	atomic64_set(&eng->used_ns, 0);
}

/**
 * mgpu_sched_engine_fini() - an instance's engine leaves its GPU for good
 * @mgpu: the instance, at remove, closed for the last time
 *
 * The last close's mgpu_sched_start() kicks the engine, which then waits
 * on the runnable list until the executor is done with the slice in flight
 * of another instance: the instance must not be freed before it is off.
 *
 * Context: may sleep; mgpu->lock not held.
 */
void mgpu_sched_engine_fini(struct mgpu_device *mgpu)
{
	mgpu_sched_stop(mgpu);
}

/**
 * mgpu_sched_kick() - commands wait: give the engine slices
 * @mgpu: the instance
 *
 * Nothing happens while the engine is stopped; mgpu_sched_start() kicks it.
 *
 * Context: process; mgpu->lock may be held.
 */
void mgpu_sched_kick(struct mgpu_device *mgpu)
{
	struct mgpu_sched *sched = mgpu_sched_of(mgpu);

	spin_lock(&sched->lock);
	mgpu_sched_enqueue(sched, &mgpu->engine);
	spin_unlock(&sched->lock);
	queue_work(system_unbound_wq, &sched->work);
}

/**
 * mgpu_sched_stop() - take the engine off the GPU
 * @mgpu: the instance
 *
 * Returns once no slice of it is in flight; it gets none until as many
 * mgpu_sched_start() calls as stops.
 *
 * Context: may sleep; mgpu->lock not held.
 */
void mgpu_sched_stop(struct mgpu_device *mgpu)
{
	struct mgpu_sched *sched = mgpu_sched_of(mgpu);
	struct mgpu_engine *eng = &mgpu->engine;

	spin_lock(&sched->lock);
	eng->stop_count++;
	list_del_init(&eng->run_node);
	spin_unlock(&sched->lock);
	mgpu_sched_sync(mgpu);
}

/**
 * mgpu_sched_start() - undo one mgpu_sched_stop()
 * @mgpu: the instance
 *
 * When the last stop is undone, the engine runs what waits.
 *
 * Context: mgpu->lock not held.
 */
void mgpu_sched_start(struct mgpu_device *mgpu)
{
	struct mgpu_sched *sched = mgpu_sched_of(mgpu);
	struct mgpu_engine *eng = &mgpu->engine;

	spin_lock(&sched->lock);
	if (!WARN_ON(!eng->stop_count))
		eng->stop_count--;
	spin_unlock(&sched->lock);
	/* mgpu_engine_run() returns at once when nothing waits */
	mgpu_sched_kick(mgpu);
}

/**
 * mgpu_sched_sync() - wait for the slice in flight on the instance's GPU
 * @mgpu: the instance
 *
 * Context: may sleep; mgpu->lock not held.
 */
void mgpu_sched_sync(struct mgpu_device *mgpu)
{
	struct mgpu_sched *sched = mgpu_sched_of(mgpu);

	mutex_lock(&sched->exec_lock);
	mutex_unlock(&sched->exec_lock);
}

/**
 * mgpu_sched_weight() - the instance's weight
 * @mgpu: the instance
 *
 * Return: 1 to MGPU_WEIGHT_MAX.
 */
unsigned int mgpu_sched_weight(struct mgpu_device *mgpu)
{
	struct mgpu_sched *sched = mgpu_sched_of(mgpu);
	unsigned int weight;

	spin_lock(&sched->lock);
	weight = mgpu->engine.weight;
	spin_unlock(&sched->lock);
	return weight;
}

/**
 * mgpu_sched_set_weight() - change the instance's weight
 * @mgpu: the instance
 * @weight: 1 to MGPU_WEIGHT_MAX
 *
 * Takes effect from the next slice the engine is charged for.
 *
 * Return: 0, or -EINVAL for a weight out of range (nothing changes).
 */
int mgpu_sched_set_weight(struct mgpu_device *mgpu, unsigned int weight)
{
	struct mgpu_sched *sched = mgpu_sched_of(mgpu);

	if (weight < 1 || weight > MGPU_WEIGHT_MAX)
		return -EINVAL;
	spin_lock(&sched->lock);
	mgpu->engine.weight = weight;
	spin_unlock(&sched->lock);
	return 0;
}

/* ---- sysfs: files of the instance (the mdev device) ------------------------ */

static ssize_t weight_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%u\n", mgpu_sched_weight(dev_get_drvdata(dev)));
}

static ssize_t weight_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t count)
{
	unsigned int weight;
	int ret;

	ret = kstrtouint(buf, 10, &weight);
	if (ret)
		return ret;
	ret = mgpu_sched_set_weight(dev_get_drvdata(dev), weight);
	return ret ? ret : count;
}
static DEVICE_ATTR_RW(weight);

static ssize_t engine_time_ns_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct mgpu_device *mgpu = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lld\n", atomic64_read(&mgpu->engine.used_ns));
}
static DEVICE_ATTR_RO(engine_time_ns);

static struct attribute *mgpu_engine_attrs[] = {
	&dev_attr_weight.attr,
	&dev_attr_engine_time_ns.attr,
	NULL,
};

static const struct attribute_group mgpu_engine_group = {
	.attrs = mgpu_engine_attrs,
};

const struct attribute_group *mgpu_engine_groups[] = {
	&mgpu_engine_group,
	NULL,
};
