// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_vram_bar.c - the VRAM backend of PCI GPUs: an instance's VRAM is
 * its slices of the PCI function's BAR, as a vGPU's framebuffer is a part
 * of the physical GPU's VRAM aperture.
 *
 * The BAR is memremap()ed write-combining once per GPU (mgpu_pci.c); an
 * instance owns the range from its first slice on.  The BAR's memory
 * outlives instances: the next instance on the same slices, or the next
 * opener of the same instance, would find the previous user's data.  So a
 * bitmap says which pages were touched since the instance was created or
 * scrubbed: an untouched page reads as zeros whatever the BAR holds and is
 * zeroed at its first touch, which gives the same semantics as system RAM
 * pages on first touch, and makes creating and scrubbing an instance cost
 * a bitmap, never a pass over VRAM.
 *
 * Ordering: a first touch zeroes the page, then sets its bit (release);
 * readers test the bit (acquire) before they read the page, so a reader
 * that sees the bit sees the zeros, never the previous user's data.
 */

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "mgpu.h"

static bool mgpu_bar_touched(struct mgpu_device *mgpu, pgoff_t index)
{
	bool touched = test_bit(index, mgpu->vram.touched);

	/* pairs with the smp_wmb() in mgpu_bar_touch() */
	smp_rmb();
	return touched;
}

/* Where page @index of the instance is in the BAR (placement is known). */
static u64 mgpu_bar_offset(struct mgpu_device *mgpu, pgoff_t index)
{
	return mgpu->gpu->vram_size / MGPU_SLICES * mgpu->first_slice +
	       ((u64)index << PAGE_SHIFT);
}

static void *mgpu_bar_addr(struct mgpu_device *mgpu, pgoff_t index)
{
	return mgpu->gpu->vram_base + mgpu_bar_offset(mgpu, index);
}

/* At init_dev, before the instance is placed: only the bitmap. */
static int mgpu_bar_init(struct mgpu_device *mgpu)
{
	mgpu->vram.touched = bitmap_zalloc(mgpu_vram_pages(mgpu),
					   GFP_KERNEL_ACCOUNT);
	if (!mgpu->vram.touched)
		return -ENOMEM;
	mutex_init(&mgpu->vram.touch_lock);
	return 0;
}

static void mgpu_bar_free(struct mgpu_device *mgpu)
{
	mutex_destroy(&mgpu->vram.touch_lock);
	bitmap_free(mgpu->vram.touched);
}

static void mgpu_bar_scrub(struct mgpu_device *mgpu)
{
	mutex_lock(&mgpu->vram.touch_lock);
	bitmap_zero(mgpu->vram.touched, mgpu_vram_pages(mgpu));
	mutex_unlock(&mgpu->vram.touch_lock);
}

static pgoff_t mgpu_bar_next_present(struct mgpu_device *mgpu, pgoff_t from)
{
	pgoff_t index = find_next_bit(mgpu->vram.touched,
				      mgpu_vram_pages(mgpu), from);

	/* pairs with the smp_wmb() in mgpu_bar_touch(), as in _touched() */
	smp_rmb();
	return index;
}

static void *mgpu_bar_map(struct mgpu_device *mgpu, pgoff_t index)
{
	if (!mgpu_bar_touched(mgpu, index))
		return NULL;
	return mgpu_bar_addr(mgpu, index);
}

/* The BAR stays mapped as long as the GPU is bound. */
static void mgpu_bar_unmap(void *vaddr)
{
}

static int mgpu_bar_touch(struct mgpu_device *mgpu, pgoff_t index)
{
	if (mgpu_bar_touched(mgpu, index))
		return 0;

	mutex_lock(&mgpu->vram.touch_lock);
	if (!test_bit(index, mgpu->vram.touched)) {
		memset(mgpu_bar_addr(mgpu, index), 0, PAGE_SIZE);
		/* the zeros before the bit: see the top of this file */
		smp_wmb();
		set_bit(index, mgpu->vram.touched);
	}
	mutex_unlock(&mgpu->vram.touch_lock);
	return 0;
}

/*
 * Device memory with no struct page behind it: a PFN mapping,
 * write-combining like the kernel's own mapping of the BAR (mixing
 * memory types on one range is not allowed on x86).
 */
static void mgpu_bar_mmap_prepare(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = pgprot_writecombine(vma->vm_page_prot);
}

static vm_fault_t mgpu_bar_fault_insert(struct mgpu_device *mgpu,
					struct vm_fault *vmf)
{
	phys_addr_t phys = mgpu->gpu->vram_phys +
			   mgpu_bar_offset(mgpu, vmf->pgoff);

	return vmf_insert_pfn(vmf->vma, vmf->address, PHYS_PFN(phys));
}

const struct mgpu_vram_ops mgpu_vram_bar_ops = {
	.init = mgpu_bar_init,
	.free = mgpu_bar_free,
	.scrub = mgpu_bar_scrub,
	.next_present = mgpu_bar_next_present,
	.map = mgpu_bar_map,
	.unmap = mgpu_bar_unmap,
	.touch = mgpu_bar_touch,
	.mmap_prepare = mgpu_bar_mmap_prepare,
	.fault_insert = mgpu_bar_fault_insert,
	/* no .page: dma-bufs need struct pages, a BAR has none */
};
