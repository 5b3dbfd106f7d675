// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_display.c - the display of an mgpu instance as VFIO gfx planes: the
 * primary plane decoded from the bochs dispi registers, described either as
 * a part of the VRAM region (VFIO_GFX_PLANE_TYPE_REGION) or as a dma-buf
 * (VFIO_GFX_PLANE_TYPE_DMABUF), and the dma-buf exporter for the latter.
 *
 * Each distinct plane layout gets an id, kept in a short most-recent-first
 * list on the instance so that a client sees the same id for as long as the
 * guest keeps the same layout.  VFIO_DEVICE_GET_GFX_DMABUF exports a new
 * dma-buf for an id each time: the dma-buf owns a reference on every VRAM
 * page it covers and nothing else, so it may outlive the device's close and
 * the instance itself without touching either.
 */

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/fcntl.h>
#include <linux/iosys-map.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <drm/drm_fourcc.h>
#include <drm/drm_plane.h>

#include "mgpu.h"

MODULE_IMPORT_NS(DMA_BUF);

/*
 * QEMU prefers DMABUF planes when both kinds are offered, and needs OpenGL
 * for them: display=on fails to start without it.  So REGION planes, which
 * QEMU shows without OpenGL, are the default, and DMABUF planes are offered
 * only when a user with OpenGL asks for them.
 */
static bool dmabuf_planes;
module_param(dmabuf_planes, bool, 0644);
MODULE_PARM_DESC(dmabuf_planes,
		 "Offer DMABUF display planes too (default: N, so that QEMU display=on works without OpenGL)");

/* Plane ids remembered per instance; the least recently seen is reused. */
#define MGPU_DMABUF_IDS		16

/**
 * struct mgpu_plane - a displayable primary plane
 * @drm_format: DRM_FORMAT_*
 * @width: pixels
 * @height: lines
 * @stride: bytes from one line to the next
 * @size: bytes the plane spans, rounded up to whole pages
 * @offset: where it starts in BAR0
 */
struct mgpu_plane {
	u32 drm_format;
	u32 width;
	u32 height;
	u32 stride;
	u32 size;
	u64 offset;
};

/**
 * struct mgpu_dmabuf - the id of a plane layout
 * @link: in mgpu_device.dmabufs, most recently seen first
 * @plane: the layout
 * @id: what VFIO_DEVICE_QUERY_GFX_PLANE reports as dmabuf_id
 */
struct mgpu_dmabuf {
	struct list_head link;
	struct mgpu_plane plane;
	u32 id;
};

/**
 * struct mgpu_dmabuf_pages - what an exported dma-buf owns
 * @count: number of pages
 * @pages: the VRAM pages of the plane, one reference held on each
 */
struct mgpu_dmabuf_pages {
	unsigned int count;
	struct page *pages[];
};

/* ---- the plane from the dispi registers ----------------------------------- */

/* Depths bochs-drm scans out; its big-endian mode swaps the 32-bit pixels. */
static const struct mgpu_format {
	u16 bpp;
	bool big_endian;
	u32 drm_format;
} mgpu_formats[] = {
	{ 32, false, DRM_FORMAT_XRGB8888 },
	{ 32, true, DRM_FORMAT_BGRX8888 },
	{ 16, false, DRM_FORMAT_RGB565 },
};

static const struct mgpu_format *mgpu_format_find(u16 bpp, bool big_endian)
{
	const struct mgpu_format *fmt;

	for (fmt = mgpu_formats; fmt < mgpu_formats + ARRAY_SIZE(mgpu_formats);
	     fmt++)
		if (fmt->bpp == bpp && fmt->big_endian == big_endian)
			return fmt;
	return NULL;
}

/*
 * Decode the registers into @plane.  False when the display is off or its
 * setup cannot be scanned out: an unknown depth, an empty mode, lines that
 * do not fit the virtual width, or a plane that does not fit in VRAM.
 */
static bool mgpu_plane_get(struct mgpu_device *mgpu, struct mgpu_plane *plane)
{
	const u16 *dispi = mgpu->regs.dispi;
	const struct mgpu_format *fmt;
	u32 xres = dispi[MGPU_DISPI_XRES];
	u32 yres = dispi[MGPU_DISPI_YRES];
	u32 xoff = dispi[MGPU_DISPI_X_OFFSET];
	u32 vwidth = dispi[MGPU_DISPI_VIRT_WIDTH] ?: xres;
	u32 cpp, stride;
	u64 offset, size;

	lockdep_assert_held(&mgpu->lock);

	if (!(dispi[MGPU_DISPI_ENABLE] & MGPU_DISPI_ENABLED))
		return false;
	fmt = mgpu_format_find(dispi[MGPU_DISPI_BPP],
			       mgpu->regs.endian == MGPU_QEXT_BIG);
	if (!fmt || !xres || !yres || xoff + xres > vwidth)
		return false;

	cpp = fmt->bpp / 8;
	stride = vwidth * cpp;
	offset = ((u64)dispi[MGPU_DISPI_Y_OFFSET] * vwidth + xoff) * cpp;
	size = PAGE_ALIGN((u64)stride * yres);
	if (offset > mgpu->vram_size || size > mgpu->vram_size - offset ||
	    size > U32_MAX)
		return false;

	*plane = (struct mgpu_plane) {
		.drm_format = fmt->drm_format,
		.width = xres,
		.height = yres,
		.stride = stride,
		.size = size,
		.offset = offset,
	};
	return true;
}

static bool mgpu_plane_equal(const struct mgpu_plane *a,
			     const struct mgpu_plane *b)
{
	return a->drm_format == b->drm_format && a->width == b->width &&
	       a->height == b->height && a->stride == b->stride &&
	       a->size == b->size && a->offset == b->offset;
}

/* ---- plane ids ---------------------------------------------------------- */

/*
 * The id of @plane's layout: an existing one, else a new record, else the
 * least recently seen record renamed, so that a guest cycling through modes
 * cannot grow the list.
 */
static int mgpu_dmabuf_id(struct mgpu_device *mgpu,
			  const struct mgpu_plane *plane, u32 *id)
{
	struct mgpu_dmabuf *rec;
	unsigned int n = 0;

	lockdep_assert_held(&mgpu->lock);

	list_for_each_entry(rec, &mgpu->dmabufs, link) {
		if (mgpu_plane_equal(&rec->plane, plane))
			goto found;
		n++;
	}

	if (n < MGPU_DMABUF_IDS) {
		rec = kzalloc(sizeof(*rec), GFP_KERNEL_ACCOUNT);
		if (!rec)
			return -ENOMEM;
		list_add(&rec->link, &mgpu->dmabufs);
	} else {
		rec = list_last_entry(&mgpu->dmabufs, struct mgpu_dmabuf, link);
	}
	rec->plane = *plane;
	/* 0 is "no plane" */
	if (!++mgpu->next_dmabuf_id)
		++mgpu->next_dmabuf_id;
	rec->id = mgpu->next_dmabuf_id;
found:
	list_move(&rec->link, &mgpu->dmabufs);
	*id = rec->id;
	return 0;
}

static int mgpu_dmabuf_lookup(struct mgpu_device *mgpu, u32 id,
			      struct mgpu_plane *plane)
{
	struct mgpu_dmabuf *rec;

	lockdep_assert_held(&mgpu->lock);

	list_for_each_entry(rec, &mgpu->dmabufs, link) {
		if (rec->id == id) {
			*plane = rec->plane;
			return 0;
		}
	}
	return -ENOENT;
}

/**
 * mgpu_display_init() - start an instance with no plane ids
 * @mgpu: the instance, not yet openable
 */
void mgpu_display_init(struct mgpu_device *mgpu)
{
	INIT_LIST_HEAD(&mgpu->dmabufs);
	mgpu->next_dmabuf_id = 0;
}

/**
 * mgpu_display_release() - forget the plane ids when the device is closed
 * @mgpu: the instance
 *
 * Exported dma-bufs do not refer to the records, so they stay valid.  Ids
 * keep counting up, so the next opener never sees an id of the last one.
 *
 * Context: close_device.  No ioctl can run on a closed device, so this
 * needs mgpu->lock neither held nor free.
 */
void mgpu_display_release(struct mgpu_device *mgpu)
{
	struct mgpu_dmabuf *rec, *tmp;

	list_for_each_entry_safe(rec, tmp, &mgpu->dmabufs, link) {
		list_del(&rec->link);
		kfree(rec);
	}
}

/* ---- VFIO_DEVICE_QUERY_GFX_PLANE ------------------------------------------ */

/**
 * struct mgpu_plane_kind - a VFIO_GFX_PLANE_TYPE_* mgpu offers
 * @type: the flag
 * @offset_mask: bits of the plane's offset that must be 0: the uAPI has no
 *	offset, so a REGION plane must start at the start of BAR0 (that is
 *	where QEMU shows it from) and a DMABUF plane at a page
 * @offered: whether it is offered now
 * @describe: fill in the type-specific fields of @info for @plane
 */
struct mgpu_plane_kind {
	u32 type;
	u64 offset_mask;
	bool (*offered)(const struct mgpu_device *mgpu);
	int (*describe)(struct mgpu_device *mgpu,
			const struct mgpu_plane *plane,
			struct vfio_device_gfx_plane_info *info);
};

static bool mgpu_always(const struct mgpu_device *mgpu)
{
	return true;
}

/* A dma-buf is made of VRAM's struct pages: a PCI BAR has none. */
static bool mgpu_dmabuf_planes(const struct mgpu_device *mgpu)
{
	return READ_ONCE(dmabuf_planes) && mgpu_vram_has_pages(mgpu);
}

static int mgpu_describe_region(struct mgpu_device *mgpu,
				const struct mgpu_plane *plane,
				struct vfio_device_gfx_plane_info *info)
{
	info->region_index = MGPU_VRAM_BAR;
	return 0;
}

static int mgpu_describe_dmabuf(struct mgpu_device *mgpu,
				const struct mgpu_plane *plane,
				struct vfio_device_gfx_plane_info *info)
{
	return mgpu_dmabuf_id(mgpu, plane, &info->dmabuf_id);
}

static const struct mgpu_plane_kind mgpu_plane_kinds[] = {
	{
		.type = VFIO_GFX_PLANE_TYPE_REGION,
		.offset_mask = U64_MAX,
		.offered = mgpu_always,
		.describe = mgpu_describe_region,
	}, {
		.type = VFIO_GFX_PLANE_TYPE_DMABUF,
		.offset_mask = PAGE_SIZE - 1,
		.offered = mgpu_dmabuf_planes,
		.describe = mgpu_describe_dmabuf,
	},
};

static const struct mgpu_plane_kind *
mgpu_plane_kind_find(const struct mgpu_device *mgpu, u32 type)
{
	const struct mgpu_plane_kind *kind;

	for (kind = mgpu_plane_kinds;
	     kind < mgpu_plane_kinds + ARRAY_SIZE(mgpu_plane_kinds); kind++)
		if (kind->type == type)
			return kind->offered(mgpu) ? kind : NULL;
	return NULL;
}

/*
 * Fill in the output fields of @info.  With nothing to show, the plane is
 * all zeros: per the uAPI that is success, and QEMU then keeps its picture.
 * mgpu has only a primary plane; QEMU's REGION path asks with type 0.
 */
static int mgpu_plane_describe(struct mgpu_device *mgpu,
			       const struct mgpu_plane_kind *kind,
			       struct vfio_device_gfx_plane_info *info)
{
	struct mgpu_plane plane;

	lockdep_assert_held(&mgpu->lock);

	info->drm_format = 0;
	info->drm_format_mod = DRM_FORMAT_MOD_LINEAR;
	info->width = 0;
	info->height = 0;
	info->stride = 0;
	info->size = 0;
	info->x_pos = 0;
	info->y_pos = 0;
	info->x_hot = U32_MAX;		/* no hotspot */
	info->y_hot = U32_MAX;
	info->dmabuf_id = 0;		/* or region_index: the same field */

	if (info->drm_plane_type == DRM_PLANE_TYPE_CURSOR ||
	    !mgpu_plane_get(mgpu, &plane) || plane.offset & kind->offset_mask)
		return 0;

	info->drm_format = plane.drm_format;
	info->width = plane.width;
	info->height = plane.height;
	info->stride = plane.stride;
	info->size = plane.size;
	return kind->describe(mgpu, &plane, info);
}

/**
 * mgpu_query_gfx_plane() - VFIO_DEVICE_QUERY_GFX_PLANE
 * @mgpu: the instance
 * @arg: user pointer to a struct vfio_device_gfx_plane_info
 *
 * PROBE with REGION or DMABUF asks whether that kind is offered; REGION or
 * DMABUF alone describes the primary plane as it is now.
 *
 * Context: takes mgpu->lock.
 * Return: 0 (also when there is nothing to show), -EINVAL for a kind not
 * offered or malformed flags or argsz, -EFAULT, or -ENOMEM.
 */
int mgpu_query_gfx_plane(struct mgpu_device *mgpu, unsigned long arg)
{
	const size_t minsz =
		offsetofend(struct vfio_device_gfx_plane_info, dmabuf_id);
	void __user *uarg = (void __user *)arg;
	struct vfio_device_gfx_plane_info info;
	const struct mgpu_plane_kind *kind;
	int ret;

	if (copy_from_user(&info, uarg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	kind = mgpu_plane_kind_find(mgpu,
				    info.flags & ~VFIO_GFX_PLANE_TYPE_PROBE);
	if (!kind)
		return -EINVAL;
	if (info.flags & VFIO_GFX_PLANE_TYPE_PROBE)
		return 0;

	mutex_lock(&mgpu->lock);
	ret = mgpu_plane_describe(mgpu, kind, &info);
	mutex_unlock(&mgpu->lock);
	if (ret)
		return ret;

	return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
}

/* ---- the dma-buf exporter ------------------------------------------------- */

static void mgpu_dmabuf_pages_put(struct mgpu_dmabuf_pages *p,
				  unsigned int count)
{
	while (count)
		put_page(p->pages[--count]);
	kvfree(p);
}

/* Reference the VRAM pages under @plane, allocating untouched ones. */
static struct mgpu_dmabuf_pages *
mgpu_dmabuf_pages_get(struct mgpu_device *mgpu, const struct mgpu_plane *plane)
{
	unsigned int count = plane->size >> PAGE_SHIFT;
	pgoff_t first = plane->offset >> PAGE_SHIFT;
	struct mgpu_dmabuf_pages *p;
	unsigned int i;

	p = kvzalloc(struct_size(p, pages, count), GFP_KERNEL_ACCOUNT);
	if (!p)
		return ERR_PTR(-ENOMEM);
	p->count = count;

	for (i = 0; i < count; i++) {
		p->pages[i] = mgpu_vram_page(mgpu, first + i);
		if (!p->pages[i]) {
			mgpu_dmabuf_pages_put(p, i);
			return ERR_PTR(-ENOMEM);
		}
		get_page(p->pages[i]);
	}
	return p;
}

static struct sg_table *mgpu_dmabuf_map(struct dma_buf_attachment *at,
					enum dma_data_direction dir)
{
	struct mgpu_dmabuf_pages *p = at->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);

	ret = sg_alloc_table_from_pages(sgt, p->pages, p->count, 0,
					(unsigned long)p->count << PAGE_SHIFT,
					GFP_KERNEL);
	if (ret)
		goto err_free_sgt;
	ret = dma_map_sgtable(at->dev, sgt, dir, 0);
	if (ret)
		goto err_free_table;
	return sgt;

err_free_table:
	sg_free_table(sgt);
err_free_sgt:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void mgpu_dmabuf_unmap(struct dma_buf_attachment *at,
			      struct sg_table *sgt,
			      enum dma_data_direction dir)
{
	dma_unmap_sgtable(at->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

static void mgpu_dmabuf_release(struct dma_buf *buf)
{
	struct mgpu_dmabuf_pages *p = buf->priv;

	mgpu_dmabuf_pages_put(p, p->count);
}

static vm_fault_t mgpu_dmabuf_fault(struct vm_fault *vmf)
{
	struct mgpu_dmabuf_pages *p = vmf->vma->vm_private_data;
	pgoff_t index = vmf->pgoff;

	/* dma_buf_mmap_internal() checked the range against the size */
	if (index >= p->count)
		return VM_FAULT_SIGBUS;
	index = array_index_nospec(index, p->count);

	/* the core maps it and drops this reference when it is unmapped */
	get_page(p->pages[index]);
	vmf->page = p->pages[index];
	return 0;
}

static const struct vm_operations_struct mgpu_dmabuf_vm_ops = {
	.fault = mgpu_dmabuf_fault,
};

/* Shared only: the plane is the guest's VRAM, not a snapshot of it. */
static int mgpu_dmabuf_mmap(struct dma_buf *buf, struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;

	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &mgpu_dmabuf_vm_ops;
	vma->vm_private_data = buf->priv;
	return 0;
}

static int mgpu_dmabuf_vmap(struct dma_buf *buf, struct iosys_map *map)
{
	struct mgpu_dmabuf_pages *p = buf->priv;
	void *vaddr;

	vaddr = vmap(p->pages, p->count, VM_MAP, PAGE_KERNEL);
	if (!vaddr)
		return -ENOMEM;
	iosys_map_set_vaddr(map, vaddr);
	return 0;
}

static void mgpu_dmabuf_vunmap(struct dma_buf *buf, struct iosys_map *map)
{
	vunmap(map->vaddr);
}

static const struct dma_buf_ops mgpu_dmabuf_ops = {
	.map_dma_buf = mgpu_dmabuf_map,
	.unmap_dma_buf = mgpu_dmabuf_unmap,
	.release = mgpu_dmabuf_release,
	.mmap = mgpu_dmabuf_mmap,
	.vmap = mgpu_dmabuf_vmap,
	.vunmap = mgpu_dmabuf_vunmap,
};

/* A new dma-buf over @plane's pages, installed as a new file descriptor. */
static int mgpu_dmabuf_export(struct mgpu_device *mgpu,
			      const struct mgpu_plane *plane)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct mgpu_dmabuf_pages *p;
	struct dma_buf *buf;
	int fd;

	p = mgpu_dmabuf_pages_get(mgpu, plane);
	if (IS_ERR(p))
		return PTR_ERR(p);

	exp.ops = &mgpu_dmabuf_ops;
	exp.size = (size_t)p->count << PAGE_SHIFT;
	/* the file's mode: O_RDWR lets the fd be mapped shared and writable */
	exp.flags = O_RDWR;
	exp.priv = p;
	buf = dma_buf_export(&exp);
	if (IS_ERR(buf)) {
		mgpu_dmabuf_pages_put(p, p->count);
		return PTR_ERR(buf);
	}

	fd = dma_buf_fd(buf, O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(buf);	/* its release puts the pages */
	return fd;
}

/**
 * mgpu_get_gfx_dmabuf() - VFIO_DEVICE_GET_GFX_DMABUF
 * @mgpu: the instance
 * @arg: user pointer to a __u32 dmabuf_id from VFIO_DEVICE_QUERY_GFX_PLANE
 *
 * Exports the pages of the plane layout the id names, whatever the guest
 * shows now: the layout stays valid, as VRAM never moves or shrinks.  The
 * file descriptor is close-on-exec and read-write.
 *
 * Context: takes mgpu->lock.
 * Return: a new dma-buf file descriptor, -ENOENT for an unknown id, -EFAULT,
 * -ENOMEM, or what dma_buf_export() or dma_buf_fd() failed with.
 */
int mgpu_get_gfx_dmabuf(struct mgpu_device *mgpu, unsigned long arg)
{
	struct mgpu_plane plane;
	u32 id;
	int ret;

	if (get_user(id, (u32 __user *)arg))
		return -EFAULT;

	mutex_lock(&mgpu->lock);
	ret = mgpu_dmabuf_lookup(mgpu, id, &plane);
	mutex_unlock(&mgpu->lock);
	if (ret)
		return ret;

	return mgpu_dmabuf_export(mgpu, &plane);
}
