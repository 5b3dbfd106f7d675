// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_vram.c - the VRAM of an mgpu instance, served as BAR0: bulk read and
 * write of the region and mmap, on top of a backend (struct mgpu_vram_ops),
 * and the backend of virtual GPUs: pages of system RAM allocated on first
 * touch.  The PCI BAR backend is mgpu_vram_bar.c.
 *
 * A page of VRAM is touched the first time something writes to it, maps it
 * or exports it; it is zeroed then and keeps its contents until the
 * instance is closed (scrubbed for the next opener) or removed.  Reading a
 * page nobody has touched yields zeros without touching it.  The read/write
 * path, the page-fault path and the dma-buf exporter see the same memory
 * without taking mgpu_device.lock: the backend orders the first touches.
 */

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "mgpu.h"

static const struct mgpu_vram_ops *mgpu_vram_ops(const struct mgpu_device *mgpu)
{
	return mgpu->gpu->vram_ops;
}

/**
 * mgpu_vram_pages() - the number of pages of an instance's VRAM
 * @mgpu: the instance
 *
 * Return: BAR0's size in pages.
 */
pgoff_t mgpu_vram_pages(const struct mgpu_device *mgpu)
{
	return mgpu->vram_size >> PAGE_SHIFT;
}

/**
 * mgpu_vram_init() - start an instance with untouched VRAM
 * @mgpu: the instance, with @gpu, @first_slice and @vram_size set; nothing
 *	else may use its VRAM yet
 *
 * Return: 0 or -ENOMEM.
 */
int mgpu_vram_init(struct mgpu_device *mgpu)
{
	return mgpu_vram_ops(mgpu)->init(mgpu);
}

/**
 * mgpu_vram_free() - release the instance's VRAM
 * @mgpu: the instance; closed, so nothing maps or reads its VRAM any more
 *
 * Pages that an exported dma-buf still holds stay alive until that dma-buf
 * is released.
 */
void mgpu_vram_free(struct mgpu_device *mgpu)
{
	mgpu_vram_ops(mgpu)->free(mgpu);
}

/**
 * mgpu_vram_scrub() - hand the VRAM over to the next opener, empty
 * @mgpu: the instance, being closed: nothing maps its VRAM any more
 *
 * Cheap whatever the VRAM size: system RAM pages are dropped, a BAR's
 * touched bitmap is cleared (its pages are zeroed lazily, at their next
 * first touch).  Exported dma-bufs keep the pages they hold, so a previous
 * user's dma-buf never shows the next user's frames.
 */
void mgpu_vram_scrub(struct mgpu_device *mgpu)
{
	mgpu_vram_ops(mgpu)->scrub(mgpu);
}

/**
 * mgpu_vram_next_present() - the next touched page
 * @mgpu: the instance
 * @from: the page index to start at
 *
 * Return: the index of the first touched page at or after @from, or
 * mgpu_vram_pages() when there is none.
 */
pgoff_t mgpu_vram_next_present(struct mgpu_device *mgpu, pgoff_t from)
{
	if (from >= mgpu_vram_pages(mgpu))
		return mgpu_vram_pages(mgpu);
	return mgpu_vram_ops(mgpu)->next_present(mgpu, from);
}

/**
 * mgpu_vram_map() - a touched page's contents, for the kernel
 * @mgpu: the instance
 * @index: page number in BAR0
 *
 * Mappings nest like kmap_local_page(): unmap in reverse order.
 *
 * Return: the page's kernel address, or NULL if it is untouched (its
 * contents are zeros) or beyond BAR0.
 */
void *mgpu_vram_map(struct mgpu_device *mgpu, pgoff_t index)
{
	if (index >= mgpu_vram_pages(mgpu))
		return NULL;
	/* the offset of a user's access: no speculation beyond BAR0 */
	index = array_index_nospec(index, mgpu_vram_pages(mgpu));
	return mgpu_vram_ops(mgpu)->map(mgpu, index);
}

/**
 * mgpu_vram_unmap() - undo mgpu_vram_map()
 * @mgpu: the instance
 * @vaddr: what mgpu_vram_map() returned
 */
void mgpu_vram_unmap(struct mgpu_device *mgpu, void *vaddr)
{
	mgpu_vram_ops(mgpu)->unmap(vaddr);
}

/**
 * mgpu_vram_touch() - make a page present, zeroed if it was untouched
 * @mgpu: the instance
 * @index: page number in BAR0
 *
 * Context: may sleep.
 * Return: 0, -EINVAL beyond BAR0, or -ENOMEM.
 */
int mgpu_vram_touch(struct mgpu_device *mgpu, pgoff_t index)
{
	if (index >= mgpu_vram_pages(mgpu))
		return -EINVAL;
	index = array_index_nospec(index, mgpu_vram_pages(mgpu));
	return mgpu_vram_ops(mgpu)->touch(mgpu, index);
}

/**
 * mgpu_vram_has_pages() - whether the VRAM is made of struct pages
 * @mgpu: the instance
 *
 * Return: true for system RAM, which dma-bufs can be made of; false for a
 * PCI BAR.
 */
bool mgpu_vram_has_pages(const struct mgpu_device *mgpu)
{
	return mgpu_vram_ops(mgpu)->page;
}

/**
 * mgpu_vram_page() - a VRAM page, touched first if it was not
 * @mgpu: the instance
 * @index: page number in BAR0
 *
 * No reference is taken for the caller: the page stays until the VRAM is
 * scrubbed or freed, so a caller that may outlive that takes one.
 *
 * Context: may sleep.
 * Return: the page, or NULL if @index is beyond BAR0, memory ran out or the
 * VRAM has no struct pages (mgpu_vram_has_pages()).
 */
struct page *mgpu_vram_page(struct mgpu_device *mgpu, pgoff_t index)
{
	if (!mgpu_vram_has_pages(mgpu) || mgpu_vram_touch(mgpu, index))
		return NULL;
	index = array_index_nospec(index, mgpu_vram_pages(mgpu));
	return mgpu_vram_ops(mgpu)->page(mgpu, index);
}

/* Copy @len bytes at @off of page @index to user space; holes read as 0. */
static int mgpu_vram_read_page(struct mgpu_device *mgpu, pgoff_t index,
			       size_t off, char __user *ubuf, size_t len)
{
	unsigned long left;
	void *vaddr;

	vaddr = mgpu_vram_map(mgpu, index);
	if (!vaddr)
		return clear_user(ubuf, len) ? -EFAULT : 0;

	left = copy_to_user(ubuf, vaddr + off, len);
	mgpu_vram_unmap(mgpu, vaddr);
	return left ? -EFAULT : 0;
}

static int mgpu_vram_write_page(struct mgpu_device *mgpu, pgoff_t index,
				size_t off, const char __user *ubuf, size_t len)
{
	unsigned long left;
	void *vaddr;
	int ret;

	ret = mgpu_vram_touch(mgpu, index);
	if (ret)
		return ret;

	vaddr = mgpu_vram_map(mgpu, index);
	left = copy_from_user(vaddr + off, ubuf, len);
	mgpu_vram_unmap(mgpu, vaddr);
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
	int ret;

	/* vm_pgoff is relative to BAR0, and mmap checked the range */
	ret = mgpu_vram_touch(mgpu, vmf->pgoff);
	if (ret)
		return ret == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	return mgpu_vram_ops(mgpu)->fault_insert(mgpu, vmf);
}

static const struct vm_operations_struct mgpu_vram_vm_ops = {
	.fault = mgpu_vram_fault,
};

/**
 * mgpu_vram_mmap() - map BAR0, or part of it
 * @mgpu: the instance
 * @vma: the mapping; its vm_pgoff is the page offset in BAR0
 *
 * Pages are faulted in one by one, the first touch zeroing.  Only shared
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

	mgpu_vram_ops(mgpu)->mmap_prepare(vma);
	vma->vm_ops = &mgpu_vram_vm_ops;
	vma->vm_private_data = mgpu;
	return 0;
}

/* ---- the system RAM backend -------------------------------------------- */

static int mgpu_ram_init(struct mgpu_device *mgpu)
{
	xa_init(&mgpu->vram.pages);
	return 0;
}

static void mgpu_ram_free(struct mgpu_device *mgpu)
{
	struct page *page;
	unsigned long index;

	xa_for_each(&mgpu->vram.pages, index, page)
		put_page(page);
	xa_destroy(&mgpu->vram.pages);
}

static pgoff_t mgpu_ram_next_present(struct mgpu_device *mgpu, pgoff_t from)
{
	unsigned long index = from;

	if (xa_find(&mgpu->vram.pages, &index, mgpu_vram_pages(mgpu) - 1,
		    XA_PRESENT))
		return index;
	return mgpu_vram_pages(mgpu);
}

static void *mgpu_ram_map(struct mgpu_device *mgpu, pgoff_t index)
{
	struct page *page = xa_load(&mgpu->vram.pages, index);

	return page ? kmap_local_page(page) : NULL;
}

static void mgpu_ram_unmap(void *vaddr)
{
	kunmap_local(vaddr);
}

/* Racing first touches agree on one page: the loser frees its own. */
static int mgpu_ram_touch(struct mgpu_device *mgpu, pgoff_t index)
{
	struct page *page, *old;

	if (xa_load(&mgpu->vram.pages, index))
		return 0;

	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		return -ENOMEM;

	old = xa_cmpxchg(&mgpu->vram.pages, index, NULL, page,
			 GFP_KERNEL_ACCOUNT);
	if (!old)
		return 0;

	__free_page(page);
	return xa_is_err(old) ? xa_err(old) : 0;
}

static struct page *mgpu_ram_page(struct mgpu_device *mgpu, pgoff_t index)
{
	return xa_load(&mgpu->vram.pages, index);
}

static void mgpu_ram_mmap_prepare(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
}

static vm_fault_t mgpu_ram_fault_insert(struct mgpu_device *mgpu,
					struct vm_fault *vmf)
{
	struct page *page = mgpu_ram_page(mgpu, vmf->pgoff);

	/* the core maps it and drops this reference when it is unmapped */
	get_page(page);
	vmf->page = page;
	return 0;
}

const struct mgpu_vram_ops mgpu_vram_ram_ops = {
	.init = mgpu_ram_init,
	.free = mgpu_ram_free,
	/* an empty xarray is what a new instance has */
	.scrub = mgpu_ram_free,
	.next_present = mgpu_ram_next_present,
	.map = mgpu_ram_map,
	.unmap = mgpu_ram_unmap,
	.touch = mgpu_ram_touch,
	.mmap_prepare = mgpu_ram_mmap_prepare,
	.fault_insert = mgpu_ram_fault_insert,
	.page = mgpu_ram_page,
};
