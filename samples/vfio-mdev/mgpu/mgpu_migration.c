// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_migration.c - live migration of an mgpu instance with VFIO migration
 * v2 (VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P): the state machine,
 * the saving file that streams a snapshot of the instance in STOP_COPY, and
 * the resuming file whose stream is checked and applied as a whole when
 * RESUMING ends.  mgpu_stream.h has the stream's layout.
 *
 * What the states mean for the device.  An instance delivers interrupts
 * only in RUNNING.  From RUNNING_P2P on it signals nothing: the only DMA an
 * mgpu does is an MSI, whose address the guest chose, so mgpu cannot tell a
 * peer-to-peer write from another one and, as the uAPI asks in that case,
 * stops them all; INTx is held back with it so that "stopped" has one
 * meaning.  Causes raised meanwhile stay pending in IRQ_STATUS and go out on
 * the way back to RUNNING.  Region accesses keep working in every state,
 * with the emulation's usual effects (config space must, per the uAPI; the
 * user is asked not to touch the rest): the device itself never changes
 * anything on its own, and the stream is a snapshot taken when STOP_COPY is
 * entered, so later accesses cannot make it inconsistent.
 *
 * Failures.  Every arc either completes or fails leaving the device in the
 * state its arc table entry names, with nothing changed; mgpu never enters
 * ERROR (vfio_mig_get_next_state() refuses ERROR as a target).  The one arc
 * whose failure moves the state is RESUMING -> STOP: a refused stream ends
 * the session and leaves the device in STOP exactly as it was before
 * RESUMING, usable without a reset.  The 6.1 core passes the errno of a
 * failed transition on and keeps no state of its own, so what
 * migration_get_state() reports afterwards is the truth.
 *
 * Locking: mgpu_migration.lock serializes transitions; a session file's own
 * lock is taken under it, and mgpu_device.lock last.  The files' read and
 * write take only the file's lock, and the file never refers to the device
 * once its session has ended, so the fds may outlive the device.
 */

#include <linux/anon_inodes.h>
#include <linux/crc32.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vmalloc.h>

#include "mgpu.h"
#include "mgpu_stream.h"

/* Stream pages in one host page (the stream's unit is fixed at 4 KiB). */
#define MGPU_UNITS_PER_PAGE	(PAGE_SIZE / MGPU_STREAM_PAGE_SIZE)
/* The CRC is computed in pieces of this size, rescheduling in between. */
#define MGPU_CRC_CHUNK		SZ_1M

/**
 * struct mgpu_mig_file - a data transfer session: a saving or resuming file
 * @filp: the anon-inode file handed to user space
 * @lock: protects the fields below
 * @disabled: the session has ended (the device left its state): every
 *	read or write fails with -ENODEV and @buf is gone
 * @buf: the stream: saving, the whole snapshot; resuming, the stream as
 *	it arrives (the header copied in first), allocated once the header
 *	says how long it is
 * @len: saving, bytes in @buf; resuming, bytes received (header included)
 * @size: resuming, the stream length the header announced
 * @hdr: resuming, the header as it arrives
 * @error: resuming, the first error a write met; every later write and
 *	the end of RESUMING fail with it
 * @mgpu: resuming, the target; only used while not @disabled, and the
 *	device disables the file under @lock before it can go away
 */
struct mgpu_mig_file {
	struct file *filp;
	struct mutex lock;	/* protects the fields below */
	bool disabled;
	u8 *buf;
	size_t len;
	size_t size;
	struct mgpu_stream_header hdr;
	int error;
	struct mgpu_device *mgpu;
};

/* ---- sections ----------------------------------------------------------- */

/**
 * struct mgpu_section - how one section is saved and restored
 * @size: bytes of payload (for VRAM: before the pages)
 * @save: writes the instance's state as the payload; mgpu->lock held
 * @load: replays a payload onto an instance fresh from reset through the
 *	paths a guest's writes take; mgpu->lock held; 0 or -EINVAL
 * @exact: the instance must then save to exactly the payload again
 *
 * The VRAM section has neither callback: its pages are copied outside
 * mgpu->lock.
 */
struct mgpu_section {
	size_t size;
	void (*save)(struct mgpu_device *mgpu, void *payload);
	int (*load)(struct mgpu_device *mgpu, const void *payload);
	bool exact;
};

/* ---- the register file sections ----------------------------------------- */

static void mgpu_save_config(struct mgpu_device *mgpu, void *payload)
{
	struct mgpu_stream_config *s = payload;
	unsigned int i;

	memcpy(s->config, mgpu->config, sizeof(s->config));
	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		s->bar[i] = cpu_to_le32(mgpu->bar[i]);
}

/* Config space, then the BARs as written (the config bytes hold them masked). */
static int mgpu_load_config(struct mgpu_device *mgpu, const void *payload)
{
	const struct mgpu_stream_config *s = payload;
	ssize_t ret;

	/* mgpu_config_rw() only reads the buffer of a write. */
	ret = mgpu_config_rw(mgpu, (void *)s->config, sizeof(s->config), 0,
			     true);
	if (ret >= 0)
		ret = mgpu_config_rw(mgpu, (void *)s->bar, sizeof(s->bar),
				     PCI_BASE_ADDRESS_0, true);
	return ret < 0 ? -EINVAL : 0;
}

static void mgpu_save_regs(struct mgpu_device *mgpu, void *payload)
{
	const struct mgpu_regs *regs = &mgpu->regs;
	struct mgpu_stream_regs *s = payload;
	unsigned int i;

	for (i = 0; i < MGPU_DISPI_REGS; i++)
		s->dispi[i] = cpu_to_le16(regs->dispi[i]);
	memcpy(s->vga, regs->vga, sizeof(s->vga));
	s->endian = cpu_to_le32(regs->endian);
	s->irq_status = cpu_to_le32(regs->irq_status);
	s->irq_enable = cpu_to_le32(regs->irq_enable);
	s->scratch = cpu_to_le32(regs->scratch);
}

/*
 * The guest writes that take a register file from power-on to a saved one,
 * in order: where in BAR2, how wide, how many registers of that width one
 * after the other, and where their little-endian values are in struct
 * mgpu_stream_regs (the BAR takes little-endian data).  IRQ_STATUS can only
 * be set through IRQ_RAISE.
 */
static const struct mgpu_regs_replay {
	u16 pos;
	u8 width;
	u8 count;
	u16 field;
} mgpu_regs_replay[] = {
	{ MGPU_MMIO_DISPI, 2, MGPU_DISPI_REGS,
	  offsetof(struct mgpu_stream_regs, dispi) },
	{ MGPU_MMIO_VGA, 1, MGPU_MMIO_VGA_SIZE,
	  offsetof(struct mgpu_stream_regs, vga) },
	{ MGPU_MMIO_QEXT + MGPU_QEXT_ENDIAN, 4, 1,
	  offsetof(struct mgpu_stream_regs, endian) },
	{ MGPU_MMIO_CTRL + MGPU_CTRL_SCRATCH, 4, 1,
	  offsetof(struct mgpu_stream_regs, scratch) },
	{ MGPU_MMIO_CTRL + MGPU_CTRL_IRQ_ENABLE, 4, 1,
	  offsetof(struct mgpu_stream_regs, irq_enable) },
	{ MGPU_MMIO_CTRL + MGPU_CTRL_IRQ_RAISE, 4, 1,
	  offsetof(struct mgpu_stream_regs, irq_status) },
};

static int mgpu_load_regs(struct mgpu_device *mgpu, const void *payload)
{
	const struct mgpu_regs_replay *r;
	unsigned int i;

	for (r = mgpu_regs_replay;
	     r < mgpu_regs_replay + ARRAY_SIZE(mgpu_regs_replay); r++) {
		for (i = 0; i < r->count; i++) {
			/* mgpu_mmio_rw() only reads the buffer of a write. */
			void *val = (void *)payload + r->field + i * r->width;

			if (mgpu_mmio_rw(mgpu, val, r->width,
					 r->pos + i * r->width, true) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

static void mgpu_save_irq(struct mgpu_device *mgpu, void *payload)
{
	struct mgpu_stream_irq *s = payload;

	memset(s, 0, sizeof(*s));
	s->intx_masked = mgpu->irq.intx_masked;
	s->msi_sent = cpu_to_le32(mgpu->irq.msi_sent);
}

/*
 * Runs after config and registers, so it can check what mgpu_irq_update()
 * guarantees: MSI counted as sent only for asserted causes, and only while
 * MSI is enabled.
 */
static int mgpu_load_irq(struct mgpu_device *mgpu, const void *payload)
{
	const struct mgpu_stream_irq *s = payload;
	u32 msi_sent = le32_to_cpu(s->msi_sent);
	u32 may_be_sent = 0;

	if (mgpu_config_msi_enabled(mgpu))
		may_be_sent = mgpu->regs.irq_status & mgpu->regs.irq_enable;
	if (s->intx_masked > 1 || msi_sent & ~may_be_sent ||
	    memchr_inv(s->reserved, 0, sizeof(s->reserved)))
		return -EINVAL;
	mgpu->irq.intx_masked = s->intx_masked;
	mgpu->irq.msi_sent = msi_sent;
	return 0;
}

static void mgpu_save_display(struct mgpu_device *mgpu, void *payload)
{
	struct mgpu_stream_display *s = payload;

	s->next_dmabuf_id = cpu_to_le32(mgpu->next_dmabuf_id);
	s->reserved = 0;
}

/*
 * Plane ids keep counting up for the life of an instance (see
 * mgpu_display.c): the target continues after the larger of its own ids and
 * the source's, so neither side's users ever see an id twice.
 */
static int mgpu_load_display(struct mgpu_device *mgpu, const void *payload)
{
	const struct mgpu_stream_display *s = payload;

	if (s->reserved)
		return -EINVAL;
	mgpu->next_dmabuf_id = max(mgpu->next_dmabuf_id,
				   le32_to_cpu(s->next_dmabuf_id));
	return 0;
}

static const struct mgpu_section mgpu_sections[MGPU_STREAM_SECTIONS] = {
	[MGPU_SECTION_CONFIG] = {
		.size = sizeof(struct mgpu_stream_config),
		.save = mgpu_save_config,
		.load = mgpu_load_config,
		.exact = true,
	},
	[MGPU_SECTION_REGS] = {
		.size = sizeof(struct mgpu_stream_regs),
		.save = mgpu_save_regs,
		.load = mgpu_load_regs,
		.exact = true,
	},
	[MGPU_SECTION_IRQ] = {
		.size = sizeof(struct mgpu_stream_irq),
		.save = mgpu_save_irq,
		.load = mgpu_load_irq,
		.exact = true,
	},
	[MGPU_SECTION_DISPLAY] = {
		.size = sizeof(struct mgpu_stream_display),
		.save = mgpu_save_display,
		.load = mgpu_load_display,
	},
	[MGPU_SECTION_VRAM] = {
		.size = sizeof(struct mgpu_stream_vram),
	},
};

/* Writes the header of section @id of @len payload bytes at @at. */
static void *mgpu_section_put(u8 *at, unsigned int id, u64 len)
{
	struct mgpu_stream_section *sec = (void *)at;

	sec->id = cpu_to_le32(id);
	sec->reserved = 0;
	sec->length = cpu_to_le64(len);
	return sec + 1;
}

/* ---- stream sizes ------------------------------------------------------- */

/* A stream with no VRAM page: header, section headers, fixed payloads. */
static size_t mgpu_stream_min_len(void)
{
	size_t len = sizeof(struct mgpu_stream_header);
	unsigned int id;

	for (id = 0; id < MGPU_STREAM_SECTIONS; id++)
		len += sizeof(struct mgpu_stream_section) +
		       mgpu_sections[id].size;
	return len;
}

static u64 mgpu_stream_units(const struct mgpu_device *mgpu)
{
	return mgpu->vram_size / MGPU_STREAM_PAGE_SIZE;
}

/* The longest stream @mgpu can take: every page of its BAR0. */
static u64 mgpu_stream_max_len(const struct mgpu_device *mgpu)
{
	return mgpu_stream_min_len() +
	       mgpu_stream_units(mgpu) * sizeof(struct mgpu_stream_page);
}

/* A stream of a whole 2 GiB BAR passes INT_MAX, where kvmalloc() stops. */
static void *mgpu_stream_alloc(size_t size)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_NOWARN;

	if (size <= INT_MAX)
		return kvmalloc(size, gfp);
	return __vmalloc(size, gfp);
}

/* zlib's CRC-32, in pieces: a stream may be gigabytes. */
static u32 mgpu_stream_crc(const u8 *p, size_t len)
{
	u32 crc = ~0U;

	while (len) {
		size_t n = min_t(size_t, len, MGPU_CRC_CHUNK);

		crc = crc32_le(crc, p, n);
		p += n;
		len -= n;
		cond_resched();
	}
	return ~crc;
}

/* ---- saving ------------------------------------------------------------- */

static u64 mgpu_vram_units_present(struct mgpu_device *mgpu)
{
	pgoff_t index;
	u64 units = 0;

	for (index = mgpu_vram_next_present(mgpu, 0);
	     index < mgpu_vram_pages(mgpu);
	     index = mgpu_vram_next_present(mgpu, index + 1))
		units += MGPU_UNITS_PER_PAGE;
	return units;
}

/*
 * The VRAM section at @at: every stream page of the touched host pages that
 * holds something else than zeros, at most @max of them (pages touched
 * after they were counted are left out: they are not part of the snapshot).
 * Returns the end of the section.
 */
static u8 *mgpu_save_vram(struct mgpu_device *mgpu, u8 *at, u64 max)
{
	struct mgpu_stream_vram *vram =
		(void *)(at + sizeof(struct mgpu_stream_section));
	struct mgpu_stream_page *rec = (void *)(vram + 1);
	unsigned int i;
	pgoff_t index;
	u64 nr = 0;

	for (index = mgpu_vram_next_present(mgpu, 0);
	     index < mgpu_vram_pages(mgpu);
	     index = mgpu_vram_next_present(mgpu, index + 1)) {
		u8 *vaddr = mgpu_vram_map(mgpu, index);

		for (i = 0; i < MGPU_UNITS_PER_PAGE && nr < max; i++) {
			memcpy(rec[nr].data, vaddr + i * MGPU_STREAM_PAGE_SIZE,
			       MGPU_STREAM_PAGE_SIZE);
			if (!memchr_inv(rec[nr].data, 0, MGPU_STREAM_PAGE_SIZE))
				continue;
			rec[nr].index = cpu_to_le64((u64)index *
						    MGPU_UNITS_PER_PAGE + i);
			nr++;
		}
		mgpu_vram_unmap(mgpu, vaddr);
		cond_resched();
	}
	mgpu_section_put(at, MGPU_SECTION_VRAM,
			 sizeof(*vram) + nr * sizeof(*rec));
	vram->pages = cpu_to_le64(nr);
	return (u8 *)(rec + nr);
}

static void mgpu_save_header(struct mgpu_device *mgpu, u8 *buf, size_t len)
{
	struct mgpu_stream_header *hdr = (void *)buf;

	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr->magic, MGPU_STREAM_MAGIC, MGPU_STREAM_MAGIC_LEN);
	hdr->version = cpu_to_le32(mgpu->gpu->stream_version);
	hdr->slices = cpu_to_le32(mgpu->profile->slices);
	hdr->vram_size = cpu_to_le64(mgpu->vram_size);
	hdr->sections = cpu_to_le32(MGPU_STREAM_SECTIONS);
	hdr->length = cpu_to_le64(len);
	hdr->crc32 = cpu_to_le32(mgpu_stream_crc(buf + sizeof(*hdr),
						 len - sizeof(*hdr)));
}

/*
 * The snapshot, taken at STOP_COPY entry, whole: the register file under
 * mgpu->lock, then a copy of the VRAM pages with data.  Reads of the file
 * only copy it out, so they see one consistent state however long they take.
 */
static int mgpu_save_snapshot(struct mgpu_device *mgpu,
			      struct mgpu_mig_file *migf)
{
	u64 max = mgpu_vram_units_present(mgpu);
	unsigned int id;
	u8 *buf, *p;

	buf = mgpu_stream_alloc(mgpu_stream_min_len() +
				max * sizeof(struct mgpu_stream_page));
	if (!buf)
		return -ENOMEM;

	p = buf + sizeof(struct mgpu_stream_header);
	mutex_lock(&mgpu->lock);
	for (id = 0; id < MGPU_SECTION_VRAM; id++) {
		void *payload = mgpu_section_put(p, id, mgpu_sections[id].size);

		mgpu_sections[id].save(mgpu, payload);
		p = payload + mgpu_sections[id].size;
	}
	mutex_unlock(&mgpu->lock);
	p = mgpu_save_vram(mgpu, p, max);
	mgpu_save_header(mgpu, buf, p - buf);

	migf->buf = buf;
	migf->len = p - buf;
	return 0;
}

static ssize_t mgpu_save_read(struct file *filp, char __user *ubuf,
			      size_t len, loff_t *pos)
{
	struct mgpu_mig_file *migf = filp->private_data;
	ssize_t ret;

	/* A stream file: read() passes no position, pread() never gets here. */
	if (pos)
		return -ESPIPE;

	mutex_lock(&migf->lock);
	if (migf->disabled)
		ret = -ENODEV;
	else
		ret = simple_read_from_buffer(ubuf, len, &filp->f_pos,
					      migf->buf, migf->len);
	mutex_unlock(&migf->lock);
	return ret;
}

/* ---- resuming: receiving ------------------------------------------------ */

static const struct mgpu_profile *mgpu_profile_of(u32 slices)
{
	unsigned int i;

	for (i = 0; i < mgpu_nr_profiles; i++)
		if (mgpu_profiles[i].slices == slices)
			return &mgpu_profiles[i];
	return NULL;
}

/*
 * Checked as soon as it has arrived, so that a stream the target cannot take
 * fails its first write: not an mgpu stream (-EINVAL), a source the version
 * rule refuses (-EPROTO, the same judge as the version file), a length no
 * stream of this target can have (-EFBIG if too long, -EINVAL if too short).
 */
static int mgpu_resume_check_header(struct mgpu_device *mgpu,
				    const struct mgpu_stream_header *hdr)
{
	const struct mgpu_compat src = {
		.profile = mgpu_profile_of(le32_to_cpu(hdr->slices)),
		.vram_size = le64_to_cpu(hdr->vram_size),
		.stream_version = le32_to_cpu(hdr->version),
	};
	u64 len = le64_to_cpu(hdr->length);

	if (memcmp(hdr->magic, MGPU_STREAM_MAGIC, MGPU_STREAM_MAGIC_LEN))
		return -EINVAL;
	if (!mgpu_type_accepts(mgpu->mdev->type, &src))
		return -EPROTO;
	if (le32_to_cpu(hdr->sections) != MGPU_STREAM_SECTIONS ||
	    hdr->reserved)
		return -EINVAL;
	if (len > mgpu_stream_max_len(mgpu))
		return -EFBIG;
	if (len < mgpu_stream_min_len())
		return -EINVAL;
	return 0;
}

/* The header is complete: check it and make room for the whole stream. */
static int mgpu_resume_start_body(struct mgpu_mig_file *migf)
{
	int ret = mgpu_resume_check_header(migf->mgpu, &migf->hdr);

	if (ret)
		return ret;
	migf->size = le64_to_cpu(migf->hdr.length);
	migf->buf = mgpu_stream_alloc(migf->size);
	if (!migf->buf)
		return -ENOMEM;
	memcpy(migf->buf, &migf->hdr, sizeof(migf->hdr));
	return 0;
}

/*
 * Takes @len bytes of a write: first the header, then the rest into the
 * buffer it sized.  Bytes past the announced length are -EFBIG, and the
 * write that brings them takes nothing.  Errors other than a fault are kept
 * in @migf->error.
 */
static ssize_t mgpu_resume_take(struct mgpu_mig_file *migf,
				const char __user *ubuf, size_t len)
{
	const size_t hdr_len = sizeof(migf->hdr);
	size_t done = 0, left;

	lockdep_assert_held(&migf->lock);
	if (migf->len < hdr_len) {
		done = min(len, hdr_len - migf->len);
		if (copy_from_user((u8 *)&migf->hdr + migf->len, ubuf, done))
			return -EFAULT;
		migf->len += done;
		if (migf->len < hdr_len)
			return done;
		migf->error = mgpu_resume_start_body(migf);
		if (migf->error)
			return migf->error;
	}

	if (len - done > migf->size - migf->len) {
		migf->error = -EFBIG;
		return migf->error;
	}
	left = copy_from_user(migf->buf + migf->len, ubuf + done, len - done);
	migf->len += len - done - left;
	done = len - left;
	return done ? done : -EFAULT;
}

static ssize_t mgpu_resume_write(struct file *filp, const char __user *ubuf,
				 size_t len, loff_t *pos)
{
	struct mgpu_mig_file *migf = filp->private_data;
	ssize_t ret;

	if (pos)
		return -ESPIPE;
	if (!len)
		return 0;

	mutex_lock(&migf->lock);
	if (migf->disabled)
		ret = -ENODEV;
	else if (migf->error)
		ret = migf->error;
	else
		ret = mgpu_resume_take(migf, ubuf, len);
	mutex_unlock(&migf->lock);
	return ret;
}

/* ---- resuming: checking and applying ------------------------------------ */

/**
 * struct mgpu_stream_view - a received stream, checked, in pieces
 * @payload: the payload of each section, by id
 * @pages: the VRAM pages
 * @nr_pages: how many
 */
struct mgpu_stream_view {
	const void *payload[MGPU_STREAM_SECTIONS];
	const struct mgpu_stream_page *pages;
	u64 nr_pages;
};

/* The VRAM pages: inside the target's BAR0, in increasing index order. */
static int mgpu_parse_vram(struct mgpu_device *mgpu, u64 len,
			   struct mgpu_stream_view *v)
{
	const struct mgpu_stream_vram *vram = v->payload[MGPU_SECTION_VRAM];
	u64 units = mgpu_stream_units(mgpu);
	u64 i, index, next = 0;

	v->nr_pages = le64_to_cpu(vram->pages);
	if (v->nr_pages > units ||
	    len != sizeof(*vram) + v->nr_pages * sizeof(*v->pages))
		return -EINVAL;
	v->pages = (const void *)(vram + 1);

	for (i = 0; i < v->nr_pages; i++) {
		index = le64_to_cpu(v->pages[i].index);
		if (index < next || index >= units)
			return -EINVAL;
		next = index + 1;
	}
	return 0;
}

/*
 * Checks what the header cannot: that all of it arrived (-EINVAL), its CRC
 * (-EBADMSG), and the sections' order and lengths (-EINVAL).
 */
static int mgpu_stream_parse(struct mgpu_device *mgpu,
			     struct mgpu_mig_file *migf,
			     struct mgpu_stream_view *v)
{
	const u8 *p, *end;
	u64 len = 0;
	unsigned int id;

	if (migf->len < sizeof(migf->hdr) || migf->len < migf->size)
		return -EINVAL;
	p = migf->buf + sizeof(struct mgpu_stream_header);
	end = migf->buf + migf->size;
	if (mgpu_stream_crc(p, end - p) != le32_to_cpu(migf->hdr.crc32))
		return -EBADMSG;

	for (id = 0; id < MGPU_STREAM_SECTIONS; id++) {
		const struct mgpu_stream_section *sec = (const void *)p;

		if (end - p < sizeof(*sec))
			return -EINVAL;
		len = le64_to_cpu(sec->length);
		p += sizeof(*sec);
		if (le32_to_cpu(sec->id) != id || sec->reserved ||
		    len > end - p || len < mgpu_sections[id].size ||
		    (id != MGPU_SECTION_VRAM && len != mgpu_sections[id].size))
			return -EINVAL;
		v->payload[id] = p;
		p += len;
	}
	if (p != end)
		return -EINVAL;
	/* VRAM is the last section: @len is still its length. */
	return mgpu_parse_vram(mgpu, len, v);
}

/**
 * struct mgpu_mig_undo - what restoring the register file may change
 * @config: mgpu_device.config
 * @bar: mgpu_device.bar
 * @regs: mgpu_device.regs
 * @intx_masked: mgpu_irq_state.intx_masked
 * @msi_sent: mgpu_irq_state.msi_sent
 * @next_dmabuf_id: mgpu_device.next_dmabuf_id
 */
struct mgpu_mig_undo {
	u8 config[PCI_CFG_SPACE_SIZE];
	u32 bar[PCI_STD_NUM_BARS];
	struct mgpu_regs regs;
	bool intx_masked;
	u32 msi_sent;
	u32 next_dmabuf_id;
};

static void mgpu_undo_save(struct mgpu_device *mgpu,
			   struct mgpu_mig_undo *undo)
{
	memcpy(undo->config, mgpu->config, sizeof(undo->config));
	memcpy(undo->bar, mgpu->bar, sizeof(undo->bar));
	undo->regs = mgpu->regs;
	undo->intx_masked = mgpu->irq.intx_masked;
	undo->msi_sent = mgpu->irq.msi_sent;
	undo->next_dmabuf_id = mgpu->next_dmabuf_id;
}

static void mgpu_undo_restore(struct mgpu_device *mgpu,
			      const struct mgpu_mig_undo *undo)
{
	memcpy(mgpu->config, undo->config, sizeof(mgpu->config));
	memcpy(mgpu->bar, undo->bar, sizeof(mgpu->bar));
	mgpu->regs = undo->regs;
	mgpu->irq.intx_masked = undo->intx_masked;
	mgpu->irq.msi_sent = undo->msi_sent;
	mgpu->next_dmabuf_id = undo->next_dmabuf_id;
}

/*
 * Replays the sections in stream order, then compares: only the whole
 * replay gives the final state (the INTx status bit in config space, for
 * one, follows the registers that come after it).
 */
static int mgpu_load_sections(struct mgpu_device *mgpu,
			      const struct mgpu_stream_view *v)
{
	union {
		struct mgpu_stream_config config;
		struct mgpu_stream_regs regs;
		struct mgpu_stream_irq irq;
		struct mgpu_stream_display display;
	} now;
	const struct mgpu_section *sec;
	unsigned int id;
	int ret;

	for (id = 0; id < MGPU_SECTION_VRAM; id++) {
		ret = mgpu_sections[id].load(mgpu, v->payload[id]);
		if (ret)
			return ret;
	}
	for (id = 0; id < MGPU_SECTION_VRAM; id++) {
		sec = &mgpu_sections[id];
		if (!sec->exact)
			continue;
		sec->save(mgpu, &now);
		if (memcmp(&now, v->payload[id], sec->size))
			return -EINVAL;
	}
	return 0;
}

/*
 * Restores the register file: reset, then each section replayed through the
 * paths a guest's writes take, so that read-only bits, clamps and filters
 * apply as they would to the guest.  A section the instance does not then
 * save back byte for byte describes a state no guest could have reached:
 * -EINVAL.  On any error the instance is put back as it was.  The device is
 * stopped, so the replay signals no interrupt.
 */
static int mgpu_load_state(struct mgpu_device *mgpu,
			   const struct mgpu_stream_view *v)
{
	struct mgpu_mig_undo undo;
	int ret;

	mutex_lock(&mgpu->lock);
	mgpu_undo_save(mgpu, &undo);
	mgpu_config_reset(mgpu);
	mgpu_regs_reset(mgpu);
	ret = mgpu_load_sections(mgpu, v);
	if (ret)
		mgpu_undo_restore(mgpu, &undo);
	mutex_unlock(&mgpu->lock);
	return ret;
}

/*
 * Allocates the target's host pages under the stream's pages, so that the
 * copy that follows cannot fail.  Untouched pages read as zeros and new
 * ones are zeroed: what the instance shows does not change.
 */
static int mgpu_reserve_vram(struct mgpu_device *mgpu,
			     const struct mgpu_stream_view *v)
{
	u64 i;

	for (i = 0; i < v->nr_pages; i++) {
		if (mgpu_vram_touch(mgpu, le64_to_cpu(v->pages[i].index) /
				    MGPU_UNITS_PER_PAGE))
			return -ENOMEM;
		cond_resched();
	}
	return 0;
}

/*
 * Makes VRAM what the stream says: its pages get their data, every other
 * stream page of a present host page is zeroed (the source had nothing
 * there).  Walks the host pages in index order beside the sorted stream
 * pages, all of whose host pages mgpu_reserve_vram() made present.
 */
static void mgpu_load_vram(struct mgpu_device *mgpu,
			   const struct mgpu_stream_view *v)
{
	unsigned int i;
	pgoff_t index;
	u64 next = 0;

	for (index = mgpu_vram_next_present(mgpu, 0);
	     index < mgpu_vram_pages(mgpu);
	     index = mgpu_vram_next_present(mgpu, index + 1)) {
		u8 *vaddr = mgpu_vram_map(mgpu, index);

		for (i = 0; i < MGPU_UNITS_PER_PAGE; i++) {
			u64 unit = (u64)index * MGPU_UNITS_PER_PAGE + i;
			u8 *dst = vaddr + i * MGPU_STREAM_PAGE_SIZE;

			if (next < v->nr_pages &&
			    le64_to_cpu(v->pages[next].index) == unit)
				memcpy(dst, v->pages[next++].data,
				       MGPU_STREAM_PAGE_SIZE);
			else
				memset(dst, 0, MGPU_STREAM_PAGE_SIZE);
		}
		mgpu_vram_unmap(mgpu, vaddr);
		cond_resched();
	}
	WARN_ON_ONCE(next != v->nr_pages);
}

/*
 * RESUMING -> STOP: everything that can fail comes before the first change
 * (checks, then page allocation, then the register file, which undoes
 * itself), and the VRAM copy that comes last cannot fail.  So the instance
 * takes the whole stream or nothing of it.
 */
static int mgpu_resume_apply(struct mgpu_device *mgpu,
			     struct mgpu_mig_file *migf)
{
	struct mgpu_stream_view v;
	int ret;

	mutex_lock(&migf->lock);
	ret = migf->error;
	if (!ret)
		ret = mgpu_stream_parse(mgpu, migf, &v);
	if (!ret)
		ret = mgpu_reserve_vram(mgpu, &v);
	if (!ret)
		ret = mgpu_load_state(mgpu, &v);
	if (!ret)
		mgpu_load_vram(mgpu, &v);
	mutex_unlock(&migf->lock);
	return ret;
}

/* ---- session files ------------------------------------------------------ */

static int mgpu_mig_file_release(struct inode *inode, struct file *filp)
{
	struct mgpu_mig_file *migf = filp->private_data;

	kvfree(migf->buf);
	mutex_destroy(&migf->lock);
	kfree(migf);
	return 0;
}

static const struct file_operations mgpu_save_fops = {
	.owner = THIS_MODULE,
	.read = mgpu_save_read,
	.release = mgpu_mig_file_release,
	.llseek = no_llseek,
};

static const struct file_operations mgpu_resume_fops = {
	.owner = THIS_MODULE,
	.write = mgpu_resume_write,
	.release = mgpu_mig_file_release,
	.llseek = no_llseek,
};

/* A session file, read-only or write-only as @flags says, with no position. */
static struct mgpu_mig_file *
mgpu_mig_file_create(const struct file_operations *fops, int flags)
{
	struct mgpu_mig_file *migf;
	struct file *filp;

	migf = kzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&migf->lock);

	filp = anon_inode_getfile("[mgpu-migration]", fops, migf, flags);
	if (IS_ERR(filp)) {
		mutex_destroy(&migf->lock);
		kfree(migf);
		return ERR_CAST(filp);
	}
	stream_open(filp->f_inode, filp);
	migf->filp = filp;
	return migf;
}

/*
 * Ends the session in *@slot: its file fails every later read or write, its
 * buffer goes now, and the device drops its own reference to the file.
 */
static void mgpu_mig_file_end(struct mgpu_mig_file **slot)
{
	struct mgpu_mig_file *migf = *slot;

	if (!migf)
		return;
	mutex_lock(&migf->lock);
	migf->disabled = true;
	kvfree(migf->buf);
	migf->buf = NULL;
	migf->len = 0;
	migf->size = 0;
	migf->mgpu = NULL;
	mutex_unlock(&migf->lock);
	fput(migf->filp);
	*slot = NULL;
}

/*
 * Starts a session: the device keeps a reference to the file for as long as
 * it is in the session's state, user space gets the one returned.
 */
static struct file *mgpu_mig_file_start(struct mgpu_mig_file *migf,
					struct mgpu_mig_file **slot)
{
	get_file(migf->filp);
	*slot = migf;
	return migf->filp;
}

/* ---- the state machine -------------------------------------------------- */

typedef struct file *(*mgpu_mig_step_t)(struct mgpu_device *mgpu);

/* RUNNING -> RUNNING_P2P: nothing is signalled any more (see the top). */
static struct file *mgpu_mig_quiesce(struct mgpu_device *mgpu)
{
	mutex_lock(&mgpu->lock);
	mgpu->irq.stopped = true;
	mutex_unlock(&mgpu->lock);
	return NULL;
}

/* RUNNING_P2P -> RUNNING: what became pending while stopped goes out. */
static struct file *mgpu_mig_run(struct mgpu_device *mgpu)
{
	mutex_lock(&mgpu->lock);
	mgpu->irq.stopped = false;
	mgpu_irq_update(mgpu);
	mutex_unlock(&mgpu->lock);
	return NULL;
}

/*
 * RUNNING_P2P <-> STOP: interrupts are already held back, and the device
 * does nothing else on its own.
 */
static struct file *mgpu_mig_nothing(struct mgpu_device *mgpu)
{
	return NULL;
}

/* STOP -> STOP_COPY */
static struct file *mgpu_mig_save_start(struct mgpu_device *mgpu)
{
	struct mgpu_mig_file *migf;
	int ret;

	migf = mgpu_mig_file_create(&mgpu_save_fops, O_RDONLY);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	ret = mgpu_save_snapshot(mgpu, migf);
	if (ret) {
		fput(migf->filp);
		return ERR_PTR(ret);
	}
	return mgpu_mig_file_start(migf, &mgpu->mig.save);
}

/* STOP_COPY -> STOP */
static struct file *mgpu_mig_save_end(struct mgpu_device *mgpu)
{
	mgpu_mig_file_end(&mgpu->mig.save);
	return NULL;
}

/* STOP -> RESUMING: nothing changes until the stream is complete. */
static struct file *mgpu_mig_resume_start(struct mgpu_device *mgpu)
{
	struct mgpu_mig_file *migf;

	migf = mgpu_mig_file_create(&mgpu_resume_fops, O_WRONLY);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	migf->mgpu = mgpu;
	return mgpu_mig_file_start(migf, &mgpu->mig.resume);
}

/* RESUMING -> STOP: the session ends, whether the stream is taken or not. */
static struct file *mgpu_mig_resume_end(struct mgpu_device *mgpu)
{
	int ret = mgpu_resume_apply(mgpu, mgpu->mig.resume);

	mgpu_mig_file_end(&mgpu->mig.resume);
	return ret ? ERR_PTR(ret) : NULL;
}

/**
 * struct mgpu_mig_arc - an arc of the migration FSM
 * @step: takes it: NULL, the file of the session it starts, or an ERR_PTR
 * @failed: the state the device is in when @step fails
 */
struct mgpu_mig_arc {
	mgpu_mig_step_t step;
	enum vfio_device_mig_state failed;
};

#define MGPU_MIG_STATES		(VFIO_DEVICE_STATE_RUNNING_P2P + 1)

/*
 * The arcs vfio_mig_get_next_state() asks a STOP_COPY | P2P driver for, by
 * [from][to]; every other transition is a path of these, or refused by it.
 */
static const struct mgpu_mig_arc mgpu_mig_arcs[MGPU_MIG_STATES][MGPU_MIG_STATES] = {
	[VFIO_DEVICE_STATE_RUNNING][VFIO_DEVICE_STATE_RUNNING_P2P] = {
		mgpu_mig_quiesce, VFIO_DEVICE_STATE_RUNNING
	},
	[VFIO_DEVICE_STATE_RUNNING_P2P][VFIO_DEVICE_STATE_RUNNING] = {
		mgpu_mig_run, VFIO_DEVICE_STATE_RUNNING_P2P
	},
	[VFIO_DEVICE_STATE_RUNNING_P2P][VFIO_DEVICE_STATE_STOP] = {
		mgpu_mig_nothing, VFIO_DEVICE_STATE_RUNNING_P2P
	},
	[VFIO_DEVICE_STATE_STOP][VFIO_DEVICE_STATE_RUNNING_P2P] = {
		mgpu_mig_nothing, VFIO_DEVICE_STATE_STOP
	},
	[VFIO_DEVICE_STATE_STOP][VFIO_DEVICE_STATE_STOP_COPY] = {
		mgpu_mig_save_start, VFIO_DEVICE_STATE_STOP
	},
	[VFIO_DEVICE_STATE_STOP_COPY][VFIO_DEVICE_STATE_STOP] = {
		mgpu_mig_save_end, VFIO_DEVICE_STATE_STOP_COPY
	},
	[VFIO_DEVICE_STATE_STOP][VFIO_DEVICE_STATE_RESUMING] = {
		mgpu_mig_resume_start, VFIO_DEVICE_STATE_STOP
	},
	/* A refused stream leaves the device in STOP as it was: see the top. */
	[VFIO_DEVICE_STATE_RESUMING][VFIO_DEVICE_STATE_STOP] = {
		mgpu_mig_resume_end, VFIO_DEVICE_STATE_STOP
	},
};

static struct file *mgpu_mig_step(struct mgpu_device *mgpu,
				  enum vfio_device_mig_state next)
{
	struct mgpu_migration *mig = &mgpu->mig;
	const struct mgpu_mig_arc *arc = &mgpu_mig_arcs[mig->state][next];
	struct file *res;

	lockdep_assert_held(&mig->lock);
	if (WARN_ON_ONCE(!arc->step))
		return ERR_PTR(-EINVAL);
	res = arc->step(mgpu);
	mig->state = IS_ERR(res) ? arc->failed : next;
	return res;
}

/*
 * &vfio_migration_ops.migration_set_state: walks the path to @new one arc
 * at a time, as vfio_mig_get_next_state() lays it out, and stops at the
 * first arc that fails.  Only the last arc of a path can start a session.
 */
static struct file *mgpu_mig_set_state(struct vfio_device *vdev,
				       enum vfio_device_mig_state new)
{
	struct mgpu_device *mgpu = vdev_to_mgpu(vdev);
	struct mgpu_migration *mig = &mgpu->mig;
	enum vfio_device_mig_state next;
	struct file *res = NULL;
	int ret;

	mutex_lock(&mig->lock);
	while (mig->state != new) {
		ret = vfio_mig_get_next_state(vdev, mig->state, new, &next);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		res = mgpu_mig_step(mgpu, next);
		if (IS_ERR(res))
			break;
		if (WARN_ON_ONCE(res && next != new)) {
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
	mutex_unlock(&mig->lock);
	return res;
}

static int mgpu_mig_get_state(struct vfio_device *vdev,
			      enum vfio_device_mig_state *state)
{
	struct mgpu_migration *mig = &vdev_to_mgpu(vdev)->mig;

	mutex_lock(&mig->lock);
	*state = mig->state;
	mutex_unlock(&mig->lock);
	return 0;
}

static const struct vfio_migration_ops mgpu_mig_ops = {
	.migration_set_state = mgpu_mig_set_state,
	.migration_get_state = mgpu_mig_get_state,
};

/**
 * mgpu_migration_init() - make an instance migratable
 * @mgpu: the instance, from init_dev: not registered yet, as the core
 *	wants for &vfio_device.mig_ops
 *
 * It starts RUNNING.
 */
void mgpu_migration_init(struct mgpu_device *mgpu)
{
	mutex_init(&mgpu->mig.lock);
	mgpu->mig.state = VFIO_DEVICE_STATE_RUNNING;
	mgpu->vdev.migration_flags = VFIO_MIGRATION_STOP_COPY |
				     VFIO_MIGRATION_P2P;
	mgpu->vdev.mig_ops = &mgpu_mig_ops;
}

/**
 * mgpu_migration_release() - free what mgpu_migration_init() set up
 * @mgpu: the instance, closed: no session is left
 */
void mgpu_migration_release(struct mgpu_device *mgpu)
{
	mutex_destroy(&mgpu->mig.lock);
}

/**
 * mgpu_migration_reset() - back to RUNNING, for a device reset or close
 * @mgpu: the instance
 *
 * Ends any session (its fd then fails reads and writes with -ENODEV) and
 * lets interrupts out again.  Pending causes are not signalled here: the
 * device reset that the caller does next clears them.
 *
 * Context: takes the migration lock and mgpu->lock; call it with neither.
 */
void mgpu_migration_reset(struct mgpu_device *mgpu)
{
	struct mgpu_migration *mig = &mgpu->mig;

	mutex_lock(&mig->lock);
	mgpu_mig_file_end(&mig->save);
	mgpu_mig_file_end(&mig->resume);
	mig->state = VFIO_DEVICE_STATE_RUNNING;
	mutex_lock(&mgpu->lock);
	mgpu->irq.stopped = false;
	mutex_unlock(&mgpu->lock);
	mutex_unlock(&mig->lock);
}
