// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_vram.c - the VRAM of an mgpu instance, served as BAR0: pages
 * allocated on first touch, bulk read and write of the region, and mmap.
 *
 * VRAM is an xarray of pages indexed by page number.  A page is allocated
 * the first time something writes to it, maps it or exports it, and stays
 * until the instance is removed, so the read/write path, the page-fault
 * path and the dma-buf exporter all see the same memory without taking
 * mgpu_device.lock: the xarray's own lock orders the first touches.
 * Reading a page nobody has touched yields zeros without allocating it.
 */

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "mgpu.h"

static pgoff_t mgpu_vram_pages(const struct mgpu_device *mgpu)
{
	return mgpu->vram_size >> PAGE_SHIFT;
}

/**
 * mgpu_vram_init() - start an instance with untouched VRAM
 * @mgpu: the instance; nothing else may use its VRAM yet
 */
void mgpu_vram_init(struct mgpu_device *mgpu)
{
	xa_init(&mgpu->vram);
}

/**
 * mgpu_vram_free() - drop the instance's reference on every VRAM page
 * @mgpu: the instance; closed, so nothing maps or reads its VRAM any more
 *
 * Pages that an exported dma-buf still holds stay alive until that dma-buf
 * is released.
 */
void mgpu_vram_free(struct mgpu_device *mgpu)
{
	struct page *page;
	unsigned long index;

	xa_for_each(&mgpu->vram, index, page)
		put_page(page);
	xa_destroy(&mgpu->vram);
}

/**
 * mgpu_vram_page() - a VRAM page, allocated and zeroed on first touch
 * @mgpu: the instance
 * @index: page number in BAR0
 *
 * Racing first touches of a page agree on one page: the loser frees its
 * own.  No reference is taken for the caller: the page stays until
 * mgpu_vram_free(), so a caller that may outlive the instance takes one.
 *
 * Context: may sleep.
 * Return: the page, or NULL if @index is beyond BAR0 or memory ran out.
 */
struct page *mgpu_vram_page(struct mgpu_device *mgpu, pgoff_t index)
{
	struct page *page, *old;

	if (index >= mgpu_vram_pages(mgpu))
		return NULL;

	page = xa_load(&mgpu->vram, index);
	if (page)
		return page;

	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		return NULL;

	old = xa_cmpxchg(&mgpu->vram, index, NULL, page, GFP_KERNEL_ACCOUNT);
	if (!old)
		return page;

	__free_page(page);
	return xa_is_err(old) ? NULL : old;
}

/* Copy @len bytes at @off of page @index to user space; holes read as 0. */
static int mgpu_vram_read_page(struct mgpu_device *mgpu, pgoff_t index,
			       size_t off, char __user *ubuf, size_t len)
{
	struct page *page = xa_load(&mgpu->vram, index);
	unsigned long left;
	void *vaddr;

	if (!page)
		return clear_user(ubuf, len) ? -EFAULT : 0;

	vaddr = kmap_local_page(page);
	left = copy_to_user(ubuf, vaddr + off, len);
	kunmap_local(vaddr);
	return left ? -EFAULT : 0;
}

static int mgpu_vram_write_page(struct mgpu_device *mgpu, pgoff_t index,
				size_t off, const char __user *ubuf, size_t len)
{
	struct page *page = mgpu_vram_page(mgpu, index);
	unsigned long left;
	void *vaddr;

	if (!page)
		return -ENOMEM;

	vaddr = kmap_local_page(page);
	left = copy_from_user(vaddr + off, ubuf, len);
	kunmap_local(vaddr);
	return left ? -EFAULT : 0;
}

/**
 * mgpu_vram_rw() - read or write BAR0 from or to a user buffer
 * @mgpu: the instance
 * @ubuf: the user buffer
 * @count: bytes
 * @pos: offset in BAR0
 * @write: copy from @ubuf into VRAM instead of the other way round
 *
 * Copies a page at a time, whatever the alignment; an access that runs
 * past the end of BAR0 is cut short there.
 *
 * Context: may sleep; needs no lock.
 * Return: bytes copied (short if the end of BAR0 was reached, or a fault or
 * allocation failure stopped the copy after some bytes), -EINVAL if @pos is
 * not inside BAR0, -EFAULT or -ENOMEM if nothing could be copied.
 */
ssize_t mgpu_vram_rw(struct mgpu_device *mgpu, char __user *ubuf,
		     size_t count, loff_t pos, bool write)
{
	size_t done = 0;
	int ret = 0;

	if (pos < 0 || pos >= mgpu->vram_size)
		return -EINVAL;
	count = min_t(u64, count, mgpu->vram_size - pos);

	while (done < count) {
		loff_t at = pos + done;
		size_t off = offset_in_page(at);
		size_t len = min_t(size_t, PAGE_SIZE - off, count - done);

		if (write)
			ret = mgpu_vram_write_page(mgpu, at >> PAGE_SHIFT, off,
						   ubuf + done, len);
		else
			ret = mgpu_vram_read_page(mgpu, at >> PAGE_SHIFT, off,
						  ubuf + done, len);
		if (ret)
			break;
		done += len;
		cond_resched();
	}
	return done ? (ssize_t)done : ret;
}

static vm_fault_t mgpu_vram_fault(struct vm_fault *vmf)
{
	struct mgpu_device *mgpu = vmf->vma->vm_private_data;
	struct page *page;

	/* vm_pgoff is relative to BAR0, and mmap checked the range */
	if (vmf->pgoff >= mgpu_vram_pages(mgpu))
		return VM_FAULT_SIGBUS;

	page = mgpu_vram_page(mgpu, vmf->pgoff);
	if (!page)
		return VM_FAULT_OOM;

	/* the core maps it and drops this reference when it is unmapped */
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct mgpu_vram_vm_ops = {
	.fault = mgpu_vram_fault,
};

/**
 * mgpu_vram_mmap() - map BAR0, or part of it
 * @mgpu: the instance
 * @vma: the mapping; its vm_pgoff is the page offset in BAR0
 *
 * Pages are faulted in one by one, the first touch allocating.  Only shared
 * mappings: a private copy of VRAM would not see the device's writes.
 *
 * Return: 0, or -EINVAL for a private mapping or one beyond BAR0.
 */
int mgpu_vram_mmap(struct mgpu_device *mgpu, struct vm_area_struct *vma)
{
	pgoff_t pages = mgpu_vram_pages(mgpu);

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= pages || vma_pages(vma) > pages - vma->vm_pgoff)
		return -EINVAL;

	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &mgpu_vram_vm_ops;
	vma->vm_private_data = mgpu;
	return 0;
}
