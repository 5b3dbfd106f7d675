// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_irq.c - interrupts of an mgpu instance as VFIO delivers them: the
 * INTx, MSI and REQ eventfds that user space configures with
 * VFIO_DEVICE_SET_IRQS, and the delivery of the control block's interrupt
 * (see mgpu.h) through them.
 *
 * Every path works with no eventfd configured: an interrupt raised before
 * user space set up a trigger only sets status bits.
 */

#include <linux/eventfd.h>
#include <linux/lockdep.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "mgpu.h"

/* What VFIO_DEVICE_GET_IRQ_INFO reports, by index. */
static const struct {
	u32 flags;
	u32 count;
} mgpu_irq_infos[VFIO_PCI_NUM_IRQS] = {
	[VFIO_PCI_INTX_IRQ_INDEX] = {
		.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
			 VFIO_IRQ_INFO_AUTOMASKED,
		.count = 1,
	},
	[VFIO_PCI_MSI_IRQ_INDEX] = {
		.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
		.count = 1,
	},
	[VFIO_PCI_MSIX_IRQ_INDEX] = { 0, 0 },
	[VFIO_PCI_ERR_IRQ_INDEX] = { 0, 0 },
	[VFIO_PCI_REQ_IRQ_INDEX] = {
		.flags = VFIO_IRQ_INFO_EVENTFD,
		.count = 1,
	},
};

static void mgpu_signal(struct eventfd_ctx *trigger)
{
	if (trigger)
		mdev_eventfd_signal(trigger);
}

/*
 * INTx: level-triggered, automasked once signalled (VFIO semantics).  A
 * stopped device signals nothing; the level is looked at again when it runs.
 */
static void mgpu_intx_deliver(struct mgpu_device *mgpu, bool asserted)
{
	struct mgpu_irq_state *irq = &mgpu->irq;

	if (!asserted || irq->intx_masked || !irq->intx || irq->stopped ||
	    mgpu_config_intx_disabled(mgpu))
		return;
	mdev_eventfd_signal(irq->intx);
	irq->intx_masked = true;
}

/*
 * MSI: edge-triggered.  A message goes out when an asserted cause has not
 * been signalled yet, and only when one can: an MSI eventfd is installed
 * and bus mastering is on (an MSI is a memory write by the function).
 * Until then the cause stays pending; a cause that is deasserted may be
 * signalled again when it is asserted again.  A stopped device sends no
 * message either: its causes stay pending in the same way.
 */
static void mgpu_msi_deliver(struct mgpu_device *mgpu, u32 asserted)
{
	struct mgpu_irq_state *irq = &mgpu->irq;

	irq->msi_sent &= asserted;
	if (!(asserted & ~irq->msi_sent) || !irq->msi || irq->stopped ||
	    !mgpu_config_bus_master(mgpu))
		return;
	mdev_eventfd_signal(irq->msi);
	irq->msi_sent = asserted;
}

/**
 * mgpu_irq_update() - deliver the control block's interrupt
 * @mgpu: the instance, with its lock held
 *
 * Called whenever IRQ_STATUS, IRQ_ENABLE, the command register, MSI
 * Enable, the INTx mask or a trigger may have changed.  Asserted causes are
 * IRQ_STATUS & IRQ_ENABLE.  With MSI enabled, a message goes out for causes
 * asserted and not yet signalled, if an MSI eventfd is installed and bus
 * mastering is on; otherwise INTx is signalled while asserted, unmasked and
 * not disabled, and then automasked.  Calling it when nothing changed
 * signals nothing.  While the device is stopped for migration
 * (@mgpu->irq.stopped) the status bit still follows the causes but nothing
 * is signalled; the migration code calls this again when it runs.
 */
void mgpu_irq_update(struct mgpu_device *mgpu)
{
	struct mgpu_irq_state *irq = &mgpu->irq;
	u32 asserted;

	lockdep_assert_held(&mgpu->lock);
	asserted = mgpu->regs.irq_status & mgpu->regs.irq_enable;

	if (mgpu_config_msi_enabled(mgpu)) {
		mgpu_config_set_intx_status(mgpu, false);
		mgpu_msi_deliver(mgpu, asserted);
		return;
	}

	irq->msi_sent = 0;
	mgpu_config_set_intx_status(mgpu, asserted);
	mgpu_intx_deliver(mgpu, asserted);
}

/**
 * mgpu_irq_reset() - put interrupt delivery in its power-on state
 * @mgpu: the instance, with its lock held
 *
 * Unmasks INTx and forgets sent MSIs.  The eventfds stay: like vfio-pci,
 * a device reset does not undo user space's VFIO setup (QEMU registers
 * the REQ eventfd only once, when the device is realized).
 */
void mgpu_irq_reset(struct mgpu_device *mgpu)
{
	lockdep_assert_held(&mgpu->lock);
	mgpu->irq.intx_masked = false;
	mgpu->irq.msi_sent = 0;
}

/**
 * mgpu_irq_info() - fill in VFIO_DEVICE_GET_IRQ_INFO
 * @mgpu: the instance (the answer does not depend on it)
 * @info: in: index; out: flags and count
 *
 * Return: 0, or -EINVAL for an index beyond VFIO_PCI_NUM_IRQS.
 */
int mgpu_irq_info(struct mgpu_device *mgpu, struct vfio_irq_info *info)
{
	u32 index = info->index;

	if (index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	/* User-controlled: no speculative read beyond the table either. */
	index = array_index_nospec(index, VFIO_PCI_NUM_IRQS);
	info->flags = mgpu_irq_infos[index].flags;
	info->count = mgpu_irq_infos[index].count;
	return 0;
}

/* Points *@slot at eventfd @fd, or at nothing for -1; drops the old one. */
static int mgpu_set_trigger(struct eventfd_ctx **slot, s32 fd)
{
	struct eventfd_ctx *ctx = NULL;

	if (fd < -1)
		return -EINVAL;
	if (fd >= 0) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = ctx;
	return 0;
}

static void mgpu_put_trigger(struct eventfd_ctx **slot)
{
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = NULL;
}

/*
 * An action's data, as the VFIO_IRQ_SET_DATA_* flags say.  Every index has
 * one vector, so count is 1 except for "count 0, no data", which means
 * "disable" for a trigger.
 */
struct mgpu_irq_args {
	u32 data_type;
	u32 count;
	const void *data;
};

/* DATA_NONE or a true DATA_BOOL: do the action; a false bool: don't. */
static int mgpu_irq_args_act(const struct mgpu_irq_args *args, bool *act)
{
	if (args->count != 1)
		return -EINVAL;
	switch (args->data_type) {
	case VFIO_IRQ_SET_DATA_NONE:
		*act = true;
		return 0;
	case VFIO_IRQ_SET_DATA_BOOL:
		*act = *(const u8 *)args->data;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * ACTION_TRIGGER on any index: count 0 without data disables, an eventfd
 * (-1 for none) is installed, DATA_NONE or a true bool fires the trigger
 * as a loopback test, as vfio-pci does.
 */
static int mgpu_irq_trigger(struct mgpu_device *mgpu,
			    struct eventfd_ctx **slot,
			    const struct mgpu_irq_args *args)
{
	bool fire;
	int ret;

	if (args->data_type == VFIO_IRQ_SET_DATA_NONE && !args->count) {
		mgpu_put_trigger(slot);
		return 0;
	}
	if (args->data_type == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (args->count != 1)
			return -EINVAL;
		ret = mgpu_set_trigger(slot, *(const s32 *)args->data);
		if (ret)
			return ret;
		/*
		 * A level still asserted reaches a new INTx trigger now, and
		 * causes pending for MSI reach a new MSI trigger.
		 */
		mgpu_irq_update(mgpu);
		return 0;
	}
	ret = mgpu_irq_args_act(args, &fire);
	if (!ret && fire)
		mgpu_signal(*slot);
	return ret;
}

static int mgpu_intx_trigger(struct mgpu_device *mgpu,
			     const struct mgpu_irq_args *args)
{
	/*
	 * A new or no trigger starts unmasked, as in vfio-pci: an automask
	 * left from before a switch to MSI must not silence INTx later.
	 */
	bool was_masked = mgpu->irq.intx_masked;
	int ret;

	if (args->data_type == VFIO_IRQ_SET_DATA_EVENTFD ||
	    (args->data_type == VFIO_IRQ_SET_DATA_NONE && !args->count))
		mgpu->irq.intx_masked = false;
	ret = mgpu_irq_trigger(mgpu, &mgpu->irq.intx, args);
	if (ret)
		mgpu->irq.intx_masked = was_masked;
	return ret;
}

static int mgpu_msi_trigger(struct mgpu_device *mgpu,
			    const struct mgpu_irq_args *args)
{
	return mgpu_irq_trigger(mgpu, &mgpu->irq.msi, args);
}

static int mgpu_req_trigger(struct mgpu_device *mgpu,
			    const struct mgpu_irq_args *args)
{
	return mgpu_irq_trigger(mgpu, &mgpu->irq.req, args);
}

static int mgpu_intx_mask(struct mgpu_device *mgpu,
			  const struct mgpu_irq_args *args)
{
	bool mask;
	int ret;

	ret = mgpu_irq_args_act(args, &mask);
	if (!ret && mask)
		mgpu->irq.intx_masked = true;
	return ret;
}

static int mgpu_intx_unmask(struct mgpu_device *mgpu,
			    const struct mgpu_irq_args *args)
{
	bool unmask;
	int ret;

	ret = mgpu_irq_args_act(args, &unmask);
	if (!ret && unmask) {
		mgpu->irq.intx_masked = false;
		/* Level-triggered: still asserted means signalled again. */
		mgpu_irq_update(mgpu);
	}
	return ret;
}

/* The SET_IRQS actions mgpu supports; anything else is -EINVAL. */
static const struct {
	u32 index;
	u32 action;
	int (*handler)(struct mgpu_device *mgpu,
		       const struct mgpu_irq_args *args);
} mgpu_irq_actions[] = {
	{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_MASK, mgpu_intx_mask },
	{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, mgpu_intx_unmask },
	{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, mgpu_intx_trigger },
	{ VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, mgpu_msi_trigger },
	{ VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, mgpu_req_trigger },
};

/**
 * mgpu_set_irqs() - VFIO_DEVICE_SET_IRQS
 * @mgpu: the instance; takes its lock
 * @hdr: the ioctl's header, copied in; argsz covers the data
 * @data: the user's data following the header
 *
 * Supports INTx MASK, UNMASK and TRIGGER, MSI TRIGGER and REQ TRIGGER, with
 * the data types documented for each in include/uapi/linux/vfio.h.
 *
 * Return: 0, -EINVAL for a malformed request or an unsupported action,
 * -EFAULT, -ENOMEM, or the error of looking up an eventfd (-EBADF).
 */
int mgpu_set_irqs(struct mgpu_device *mgpu, struct vfio_irq_set *hdr,
		  void __user *data)
{
	struct mgpu_irq_args args = { };
	u32 action = hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	size_t data_size;
	void *buf = NULL;
	unsigned int i;
	int ret;

	if (hdr->index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	hdr->index = array_index_nospec(hdr->index, VFIO_PCI_NUM_IRQS);
	ret = vfio_set_irqs_validate_and_prepare(hdr,
						 mgpu_irq_infos[hdr->index].count,
						 VFIO_PCI_NUM_IRQS, &data_size);
	if (ret)
		return ret;

	for (i = 0; i < ARRAY_SIZE(mgpu_irq_actions); i++)
		if (mgpu_irq_actions[i].index == hdr->index &&
		    mgpu_irq_actions[i].action == action)
			break;
	if (i == ARRAY_SIZE(mgpu_irq_actions))
		return -EINVAL;

	if (data_size) {
		buf = memdup_user(data, data_size);
		if (IS_ERR(buf))
			return PTR_ERR(buf);
	}
	args.data_type = hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	args.count = hdr->count;
	args.data = buf;

	mutex_lock(&mgpu->lock);
	ret = mgpu_irq_actions[i].handler(mgpu, &args);
	mutex_unlock(&mgpu->lock);

	kfree(buf);
	return ret;
}

/**
 * mgpu_irq_disable_all() - drop every trigger
 * @mgpu: the instance, with its lock held
 *
 * For close: releases the eventfd references that SET_IRQS took, so that
 * a closed device holds none, and unmasks INTx for the next user.
 */
void mgpu_irq_disable_all(struct mgpu_device *mgpu)
{
	lockdep_assert_held(&mgpu->lock);
	mgpu_put_trigger(&mgpu->irq.intx);
	mgpu_put_trigger(&mgpu->irq.msi);
	mgpu_put_trigger(&mgpu->irq.req);
	mgpu_irq_reset(mgpu);
}

/**
 * mgpu_request() - &vfio_device_ops.request: ask user space to release
 * @vdev: the instance's VFIO device
 * @count: how many times it was asked before (0 the first time)
 *
 * Called by vfio_unregister_group_dev() while the device is open, then
 * every 10 seconds.  Signals the REQ eventfd, on which QEMU unplugs the
 * device from its guest; without one, says once that removal waits.
 */
void mgpu_request(struct vfio_device *vdev, unsigned int count)
{
	struct mgpu_device *mgpu = vdev_to_mgpu(vdev);

	mutex_lock(&mgpu->lock);
	if (mgpu->irq.req)
		mdev_eventfd_signal(mgpu->irq.req);
	else if (!count)
		dev_notice(vdev->dev,
			   "no REQ eventfd: removal waits until user space closes the device\n");
	mutex_unlock(&mgpu->lock);
}
