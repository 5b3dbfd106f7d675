// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_migration.c - live migration of an mgpu instance with VFIO migration
 * v2 (VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P, and PRE_COPY where the
 * kernel has it): the state machine, the saving file that streams the
 * instance straight from its VRAM pages, and the resuming file that checks
 * each record as it arrives and writes VRAM in place.  mgpu_stream.h has
 * the stream's layout.
 *
 * What the states mean for the device.  An instance delivers interrupts
 * and runs its compute engine only in RUNNING and PRE_COPY.  From
 * RUNNING_P2P (PRE_COPY_P2P) on it signals nothing and its engine stands
 * between two commands: an MSI and the engine's guest RAM copies are the
 * DMA an mgpu does, mgpu cannot tell a peer-to-peer target from another
 * one and, as the uAPI asks in that case, stops them all.  Causes raised
 * meanwhile stay pending in IRQ_STATUS, doorbells are recorded, and both go
 * out on the way back to RUNNING.  Region accesses keep working in every
 * state, with the emulation's usual effects (config space must, per the
 * uAPI); a user that writes VRAM in STOP_COPY, which the uAPI tells it not
 * to, changes only what its own stream carries: a page copied whole goes
 * as it was when read, and one that a read split and that changed meanwhile
 * fails its run's check on the target.
 *
 * Memory.  Neither side holds a copy of VRAM: saving reads the pages as
 * read() asks for them, resuming writes them as write() brings them, and a
 * session's own memory is struct mgpu_mig_file, whatever the VRAM size.
 * Untouched VRAM costs no byte of stream.
 *
 * Failures.  Every arc either completes or fails leaving the device in the
 * state its arc table entry names; mgpu never enters ERROR
 * (vfio_mig_get_next_state() refuses ERROR as a target).  The one arc
 * whose failure moves the state is RESUMING -> STOP: a refused stream ends
 * the session and leaves the device in STOP with its register file,
 * interrupt and engine state as they were; its VRAM may hold what arrived
 * of the stream.  The device works as before, and the next RESUMING
 * session or a reset starts from there.  The 6.1 core passes the errno of
 * a failed transition on and keeps no state of its own, so what
 * migration_get_state() reports afterwards is the truth.
 *
 * Locking: mgpu_migration.lock serializes transitions; a session file's own
 * lock is taken under it, and mgpu_device.lock last.  The files' read,
 * write and ioctl take only the file's lock, and the file never refers to
 * the device once its session has ended, so the fds may outlive the device.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/xxhash.h>

#include "mgpu.h"
#include "mgpu_stream.h"

/* The host pages of one VRAM record at most. */
#define MGPU_RUN_PAGES		(MGPU_STREAM_RUN_MAX / PAGE_SIZE)

/**
 * struct mgpu_stream_state - the payloads of the state records, in order
 * @config: MGPU_REC_CONFIG
 * @regs: MGPU_REC_REGS
 * @irq: MGPU_REC_IRQ
 * @display: MGPU_REC_DISPLAY
 * @engine: MGPU_REC_ENGINE
 */
struct mgpu_stream_state {
	struct mgpu_stream_config config;
	struct mgpu_stream_regs regs;
	struct mgpu_stream_irq irq;
	struct mgpu_stream_display display;
	struct mgpu_engine_state engine;
};

/* What a save session has before the first VRAM record: the most it buffers. */
#define MGPU_SAVE_OUT_MAX	(sizeof(struct mgpu_stream_header) + \
				 MGPU_REC_STATES * \
				 sizeof(struct mgpu_stream_record) + \
				 sizeof(struct mgpu_stream_state))

/**
 * enum mgpu_save_phase - how far a saving session is
 * @MGPU_SAVE_PRECOPY: PRE_COPY: the header is all there is to read (then
 *	read() fails with -ENOMSG until STOP_COPY)
 * @MGPU_SAVE_VRAM: the state is out (or buffered), VRAM records follow
 * @MGPU_SAVE_DONE: END is buffered or out: then read() returns 0
 */
enum mgpu_save_phase {
	MGPU_SAVE_PRECOPY,
	MGPU_SAVE_VRAM,
	MGPU_SAVE_DONE,
};

/**
 * enum mgpu_resume_phase - what a resuming session waits for
 * @MGPU_RESUME_HEADER: the stream header
 * @MGPU_RESUME_RECORD: a record header
 * @MGPU_RESUME_STATE: the payload of a state record
 * @MGPU_RESUME_VRAM: the payload of a VRAM record
 * @MGPU_RESUME_RUN_CHECK: the check after a VRAM record's payload
 * @MGPU_RESUME_END: nothing: END has arrived
 */
enum mgpu_resume_phase {
	MGPU_RESUME_HEADER,
	MGPU_RESUME_RECORD,
	MGPU_RESUME_STATE,
	MGPU_RESUME_VRAM,
	MGPU_RESUME_RUN_CHECK,
	MGPU_RESUME_END,
};

/**
 * struct mgpu_mig_save - the producer side of a saving session
 * @phase: enum mgpu_save_phase
 * @out: bytes rendered and not read yet: the header, state records, a
 *	record header
 * @out_len: bytes in @out
 * @out_pos: bytes of @out read
 * @cursor: the next VRAM page to look at for a run
 * @run_index: the first page of the VRAM record being read
 * @run_len: its payload bytes
 * @run_pos: payload bytes read
 * @check: the check of the payload read, taken as it is copied out
 * @seq: records rendered
 * @vram_bytes: the VRAM records' payload bytes rendered
 */
struct mgpu_mig_save {
	enum mgpu_save_phase phase;
	u8 out[MGPU_SAVE_OUT_MAX];
	size_t out_len;
	size_t out_pos;
	pgoff_t cursor;
	pgoff_t run_index;
	size_t run_len;
	size_t run_pos;
	struct mgpu_run_check check;
	u32 seq;
	u64 vram_bytes;
};

/**
 * struct mgpu_mig_resume - the consumer side of a resuming session
 * @phase: enum mgpu_resume_phase
 * @hdr: the stream header as it arrives
 * @rec: the current record header as it arrives
 * @run_check: the check after a VRAM payload as it arrives
 * @got: bytes of @hdr, @rec, @run_check or the state payload received
 * @states: state records received
 * @state: their payloads, applied when RESUMING ends
 * @pos: the VRAM offset the next payload byte goes to
 * @left: payload bytes of the current VRAM record still to come
 * @vram_end: the end of the last VRAM record: the next starts no lower
 * @vram_bytes: the VRAM records' payload bytes received
 * @seq: records received
 * @check: the check of the current VRAM payload so far
 */
struct mgpu_mig_resume {
	enum mgpu_resume_phase phase;
	struct mgpu_stream_header hdr;
	struct mgpu_stream_record rec;
	struct mgpu_stream_run_check run_check;
	size_t got;
	unsigned int states;
	struct mgpu_stream_state state;
	u64 pos;
	u64 left;
	u64 vram_end;
	u64 vram_bytes;
	u32 seq;
	struct mgpu_run_check check;
};

/**
 * struct mgpu_mig_file - a data transfer session: a saving or resuming file
 * @filp: the anon-inode file handed to user space
 * @lock: protects the fields below
 * @disabled: the session has ended (the device left its states): every
 *	read, write or ioctl fails with -ENODEV
 * @mgpu: the device; only used while not @disabled, and the device
 *	disables the file under @lock before it can go away
 * @precopy: saving: the device is in PRE_COPY or PRE_COPY_P2P
 * @error: resuming: the first error a write met; every later write and
 *	the end of RESUMING fail with it
 * @save: saving
 * @resume: resuming
 */
struct mgpu_mig_file {
	struct file *filp;
	struct mutex lock;	/* protects the fields below */
	bool disabled;
	struct mgpu_device *mgpu;
	bool precopy;
	int error;
	union {
		struct mgpu_mig_save save;
		struct mgpu_mig_resume resume;
	};
};

/* ---- checksums ---------------------------------------------------------- */

static u64 mgpu_header_check(const struct mgpu_stream_header *hdr)
{
	return xxh64(hdr, offsetof(struct mgpu_stream_header, check), 0);
}

static u32 mgpu_record_check(const struct mgpu_stream_record *rec)
{
	return lower_32_bits(xxh64(rec, offsetof(struct mgpu_stream_record,
						 head_check), 0));
}

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

/**
 * struct mgpu_state_rec - how one state record is saved and restored
 * @offset: where its payload is in struct mgpu_stream_state
 * @size: bytes of payload
 * @save: writes the instance's state as the payload; mgpu->lock held
 * @load: replays a payload onto an instance fresh from reset through the
 *	paths a guest's writes take; mgpu->lock held; 0 or -EINVAL
 * @exact: the instance must then save to exactly the payload again
 *
 * ENGINE has neither callback: mgpu_engine_save() and
 * mgpu_engine_restore() take mgpu->lock themselves.
 */
struct mgpu_state_rec {
	size_t offset;
	size_t size;
	void (*save)(struct mgpu_device *mgpu, void *payload);
	int (*load)(struct mgpu_device *mgpu, const void *payload);
	bool exact;
};

#define MGPU_STATE_AT(field)						\
	.offset = offsetof(struct mgpu_stream_state, field)
#define MGPU_STATE_SIZE(field)						\
	.size = sizeof_field(struct mgpu_stream_state, field)

/* By record type, from MGPU_REC_CONFIG on. */
static const struct mgpu_state_rec mgpu_state_recs[MGPU_REC_STATES] = {
	{ MGPU_STATE_AT(config), MGPU_STATE_SIZE(config),
	  mgpu_save_config, mgpu_load_config, true },
	{ MGPU_STATE_AT(regs), MGPU_STATE_SIZE(regs),
	  mgpu_save_regs, mgpu_load_regs, true },
	{ MGPU_STATE_AT(irq), MGPU_STATE_SIZE(irq),
	  mgpu_save_irq, mgpu_load_irq, true },
	{ MGPU_STATE_AT(display), MGPU_STATE_SIZE(display),
	  mgpu_save_display, mgpu_load_display, false },
	{ MGPU_STATE_AT(engine), MGPU_STATE_SIZE(engine), NULL, NULL, false },
};

/* ---- saving ------------------------------------------------------------- */

/* Appends a record header to the session's buffer. */
static void mgpu_save_put_record(struct mgpu_mig_save *s, u32 type, u32 len,
				 u64 offset, u64 data_check)
{
	struct mgpu_stream_record *rec = (void *)(s->out + s->out_len);

	rec->type = cpu_to_le32(type);
	rec->length = cpu_to_le32(len);
	rec->offset = cpu_to_le64(offset);
	rec->data_check = cpu_to_le64(data_check);
	rec->seq = cpu_to_le32(s->seq++);
	rec->head_check = cpu_to_le32(mgpu_record_check(rec));
	s->out_len += sizeof(*rec);
}

/* The stream header: what a PRE_COPY session has to read first. */
static void mgpu_save_header(struct mgpu_device *mgpu, struct mgpu_mig_save *s)
{
	struct mgpu_stream_header *hdr = (void *)s->out;

	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr->magic, MGPU_STREAM_MAGIC, MGPU_STREAM_MAGIC_LEN);
	hdr->format = cpu_to_le32(MGPU_STREAM_FORMAT);
	hdr->version = cpu_to_le32(mgpu->gpu->stream_version);
	hdr->slices = cpu_to_le32(mgpu->profile->slices);
	hdr->vram_size = cpu_to_le64(mgpu->vram_size);
	hdr->check = cpu_to_le64(mgpu_header_check(hdr));
	s->out_len = sizeof(*hdr);
}

/*
 * The state records, rendered when the device stops (STOP_COPY entry):
 * the register file under mgpu->lock, then the engine, quiesced since
 * RUNNING_P2P.  VRAM follows from the pages themselves.
 */
static void mgpu_save_state(struct mgpu_device *mgpu, struct mgpu_mig_save *s)
{
	struct mgpu_stream_state st;
	unsigned int i;

	mutex_lock(&mgpu->lock);
	for (i = 0; i < MGPU_REC_STATES; i++)
		if (mgpu_state_recs[i].save)
			mgpu_state_recs[i].save(mgpu, (u8 *)&st +
						mgpu_state_recs[i].offset);
	mutex_unlock(&mgpu->lock);
	mgpu_engine_save(mgpu, &st.engine);

	for (i = 0; i < MGPU_REC_STATES; i++) {
		const struct mgpu_state_rec *r = &mgpu_state_recs[i];
		const u8 *payload = (u8 *)&st + r->offset;

		mgpu_save_put_record(s, MGPU_REC_CONFIG + i, r->size, 0,
				     xxh64(payload, r->size, 0));
		memcpy(s->out + s->out_len, payload, r->size);
		s->out_len += r->size;
	}
	s->phase = MGPU_SAVE_VRAM;
}

/*
 * The next VRAM record: the next run of touched pages from the cursor, at
 * most MGPU_STREAM_RUN_MAX bytes, or END when there is none.  read() then
 * copies the pages out, without a second buffer, and takes their check.
 */
static void mgpu_save_next_run(struct mgpu_device *mgpu,
			       struct mgpu_mig_save *s)
{
	pgoff_t pages = mgpu_vram_pages(mgpu);
	pgoff_t index, n = 1;

	s->out_len = 0;
	s->out_pos = 0;
	index = mgpu_vram_next_present(mgpu, s->cursor);
	if (index >= pages) {
		mgpu_save_put_record(s, MGPU_REC_END, 0, s->vram_bytes, 0);
		s->phase = MGPU_SAVE_DONE;
		return;
	}
	while (n < MGPU_RUN_PAGES && index + n < pages &&
	       mgpu_vram_next_present(mgpu, index + n) == index + n)
		n++;

	s->run_index = index;
	s->run_len = n * PAGE_SIZE;
	s->run_pos = 0;
	s->check = (struct mgpu_run_check){ };
	s->cursor = index + n;
	s->vram_bytes += s->run_len;
	mgpu_save_put_record(s, MGPU_REC_VRAM, s->run_len,
			     (u64)index << PAGE_SHIFT, 0);
}

/* After the last payload byte of a VRAM record: its check, to be read next. */
static void mgpu_save_put_run_check(struct mgpu_mig_save *s)
{
	struct mgpu_stream_run_check *check = (void *)s->out;

	check->sum = cpu_to_le64(s->check.sum);
	check->sums = cpu_to_le64(s->check.sums);
	s->out_len = sizeof(*check);
	s->out_pos = 0;
}

/*
 * Copies @n bytes at @off of a run's page to user space: a whole page and
 * its check in one pass, a piece with copy_to_user() and the page's check
 * once its last byte is out.  Bytes copied, or -EFAULT if none.
 */
static ssize_t mgpu_save_copy_page(struct mgpu_run_check *check,
				   char __user *ubuf, const void *vaddr,
				   size_t off, size_t n)
{
	unsigned long left;
	int ret;

	if (n == PAGE_SIZE) {
		ret = mgpu_run_copy_page_to_user(check, ubuf, vaddr);
		return ret ? ret : PAGE_SIZE;
	}
	left = copy_to_user(ubuf, vaddr + off, n);
	if (left == n)
		return -EFAULT;
	if (!left && off + n == PAGE_SIZE)
		mgpu_run_check_page(check, vaddr);
	return n - left;
}

/* Copies payload of the current VRAM record from its pages: bytes or -EFAULT. */
static ssize_t mgpu_save_copy_run(struct mgpu_device *mgpu,
				  struct mgpu_mig_save *s, char __user *ubuf,
				  size_t len)
{
	size_t done = 0;

	while (done < len && s->run_pos < s->run_len) {
		pgoff_t index = s->run_index + s->run_pos / PAGE_SIZE;
		size_t off = s->run_pos % PAGE_SIZE;
		size_t n = min(PAGE_SIZE - off, len - done);
		void *vaddr = mgpu_vram_map(mgpu, index);
		ssize_t copied;

		/* pages stay until the instance is closed: never NULL here */
		if (WARN_ON_ONCE(!vaddr)) {
			copied = mgpu_save_copy_page(&s->check, ubuf + done,
						     page_address(ZERO_PAGE(0)),
						     off, n);
		} else {
			copied = mgpu_save_copy_page(&s->check, ubuf + done,
						     vaddr, off, n);
			mgpu_vram_unmap(mgpu, vaddr);
		}
		if (copied < 0)
			return done ? done : copied;
		s->run_pos += copied;
		done += copied;
		if (s->run_pos == s->run_len)
			mgpu_save_put_run_check(s);
		if ((size_t)copied < n)
			return done;
		cond_resched();
	}
	return done;
}

static ssize_t mgpu_save_produce(struct mgpu_mig_file *migf,
				 char __user *ubuf, size_t len)
{
	struct mgpu_mig_save *s = &migf->save;
	size_t done = 0;
	ssize_t n;

	lockdep_assert_held(&migf->lock);
	while (done < len) {
		if (s->out_pos < s->out_len) {
			n = min(len - done, s->out_len - s->out_pos);
			if (copy_to_user(ubuf + done, s->out + s->out_pos, n))
				return done ? done : -EFAULT;
			s->out_pos += n;
			done += n;
		} else if (s->run_pos < s->run_len) {
			n = mgpu_save_copy_run(migf->mgpu, s, ubuf + done,
					       len - done);
			if (n < 0)
				return done ? done : n;
			done += n;
		} else if (s->phase == MGPU_SAVE_VRAM) {
			mgpu_save_next_run(migf->mgpu, s);
		} else {
			break;
		}
	}
	/* PRE_COPY's temporary end of stream (STOP_COPY's is for good) */
	if (!done && len && s->phase == MGPU_SAVE_PRECOPY)
		return -ENOMSG;
	return done;
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
		ret = mgpu_save_produce(migf, ubuf, len);
	mutex_unlock(&migf->lock);
	return ret;
}

/*
 * VFIO_MIG_GET_PRECOPY_INFO: in PRE_COPY the initial bytes are what is left
 * of the header; the dirty bytes estimate what STOP_COPY will add (the
 * device cannot track writes through mmap, so VRAM goes at the stop).
 */
static long mgpu_save_precopy_info(struct mgpu_mig_file *migf,
				   unsigned long arg)
{
	const size_t minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct vfio_precopy_info info;
	struct mgpu_device *mgpu;
	pgoff_t index;
	u64 touched = 0;
	long ret = 0;

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	mutex_lock(&migf->lock);
	if (migf->disabled) {
		ret = -ENODEV;
		goto out;
	}
	if (!migf->precopy) {
		ret = -EINVAL;
		goto out;
	}
	mgpu = migf->mgpu;
	for (index = mgpu_vram_next_present(mgpu, 0);
	     index < mgpu_vram_pages(mgpu);
	     index = mgpu_vram_next_present(mgpu, index + 1))
		touched += PAGE_SIZE;
	info.flags = 0;
	info.initial_bytes = migf->save.out_len - migf->save.out_pos;
	info.dirty_bytes = touched;
out:
	mutex_unlock(&migf->lock);
	if (!ret && copy_to_user((void __user *)arg, &info, minsz))
		ret = -EFAULT;
	return ret;
}

static long mgpu_save_ioctl(struct file *filp, unsigned int cmd,
			    unsigned long arg)
{
	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	return mgpu_save_precopy_info(filp->private_data, arg);
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
 * The header, as soon as it has arrived: not an mgpu stream or a layout
 * this mgpu cannot parse (-EINVAL), damaged (-EBADMSG), or from a source the
 * version rule refuses (-EPROTO, the same judge as the version file).
 */
static int mgpu_resume_check_header(struct mgpu_device *mgpu,
				    const struct mgpu_stream_header *hdr)
{
	const struct mgpu_compat src = {
		.profile = mgpu_profile_of(le32_to_cpu(hdr->slices)),
		.vram_size = le64_to_cpu(hdr->vram_size),
		.stream_version = le32_to_cpu(hdr->version),
	};

	if (memcmp(hdr->magic, MGPU_STREAM_MAGIC, MGPU_STREAM_MAGIC_LEN) ||
	    le32_to_cpu(hdr->format) != MGPU_STREAM_FORMAT)
		return -EINVAL;
	if (le64_to_cpu(hdr->check) != mgpu_header_check(hdr))
		return -EBADMSG;
	if (hdr->reserved0 || memchr_inv(hdr->reserved, 0,
					 sizeof(hdr->reserved)))
		return -EINVAL;
	if (!mgpu_type_accepts(mgpu->mdev->type, &src))
		return -EPROTO;
	return 0;
}

/*
 * Zeroes the target's VRAM in [@start, @end): the source had nothing there.
 * Untouched pages already read as zeros and stay untouched.
 */
static void mgpu_resume_zero(struct mgpu_device *mgpu, u64 start, u64 end)
{
	pgoff_t index;

	for (index = mgpu_vram_next_present(mgpu, start >> PAGE_SHIFT);
	     index < mgpu_vram_pages(mgpu) && ((u64)index << PAGE_SHIFT) < end;
	     index = mgpu_vram_next_present(mgpu, index + 1)) {
		u64 from = max_t(u64, start, (u64)index << PAGE_SHIFT);
		u64 to = min_t(u64, end, (u64)(index + 1) << PAGE_SHIFT);
		u8 *vaddr = mgpu_vram_map(mgpu, index);

		if (!vaddr)
			continue;
		memset(vaddr + offset_in_page(from), 0, to - from);
		mgpu_vram_unmap(mgpu, vaddr);
		cond_resched();
	}
}

/*
 * A record header, complete: its own checksum (-EBADMSG), its place in the
 * sequence and in the order of types, its length and its VRAM range
 * (-EINVAL).  Sets up the payload that follows.
 */
static int mgpu_resume_check_record(struct mgpu_device *mgpu,
				    struct mgpu_mig_resume *r)
{
	const struct mgpu_stream_record *rec = &r->rec;
	u32 type = le32_to_cpu(rec->type), len = le32_to_cpu(rec->length);
	u64 offset = le64_to_cpu(rec->offset);

	if (le32_to_cpu(rec->head_check) != mgpu_record_check(rec))
		return -EBADMSG;
	if (le32_to_cpu(rec->seq) != r->seq)
		return -EINVAL;
	r->seq++;
	r->got = 0;

	if (r->states < MGPU_REC_STATES) {
		if (type != MGPU_REC_CONFIG + r->states || offset ||
		    len != mgpu_state_recs[r->states].size)
			return -EINVAL;
		r->phase = MGPU_RESUME_STATE;
		return 0;
	}

	switch (type) {
	case MGPU_REC_VRAM:
		if (rec->data_check || !len || len > MGPU_STREAM_RUN_MAX ||
		    len % MGPU_STREAM_PAGE_SIZE ||
		    offset % MGPU_STREAM_PAGE_SIZE || offset < r->vram_end ||
		    offset > mgpu->vram_size || len > mgpu->vram_size - offset)
			return -EINVAL;
		mgpu_resume_zero(mgpu, r->vram_end, offset);
		r->pos = offset;
		r->left = len;
		r->vram_end = offset + len;
		r->vram_bytes += len;
		r->check = (struct mgpu_run_check){ };
		r->phase = MGPU_RESUME_VRAM;
		return 0;
	case MGPU_REC_END:
		if (len || rec->data_check || offset != r->vram_bytes)
			return -EINVAL;
		mgpu_resume_zero(mgpu, r->vram_end, mgpu->vram_size);
		r->phase = MGPU_RESUME_END;
		return 0;
	default:
		return -EINVAL;
	}
}

/* A state payload, complete: its checksum. */
static int mgpu_resume_check_state(struct mgpu_mig_resume *r)
{
	const struct mgpu_state_rec *sr = &mgpu_state_recs[r->states];

	if (xxh64((u8 *)&r->state + sr->offset, sr->size, 0) !=
	    le64_to_cpu(r->rec.data_check))
		return -EBADMSG;
	r->states++;
	r->got = 0;
	r->phase = MGPU_RESUME_RECORD;
	return 0;
}

/*
 * Copies @n bytes from user space to @off of a VRAM page: a whole page and
 * its check in one pass, a piece with copy_from_user() and the page's
 * check once its last byte is in.  Bytes copied, or -EFAULT if none.
 */
static ssize_t mgpu_resume_copy_page(struct mgpu_run_check *check,
				     void *vaddr, size_t off,
				     const char __user *ubuf, size_t n)
{
	unsigned long left;
	int ret;

	if (n == PAGE_SIZE) {
		ret = mgpu_run_copy_page_from_user(check, vaddr, ubuf);
		return ret ? ret : PAGE_SIZE;
	}
	left = copy_from_user(vaddr + off, ubuf, n);
	if (left == n)
		return -EFAULT;
	if (!left && off + n == PAGE_SIZE)
		mgpu_run_check_page(check, vaddr);
	return n - left;
}

/*
 * Takes up to @len payload bytes of a VRAM record straight into the pages
 * (no bounce buffer), taking their check as they land.  Bytes taken,
 * -EFAULT or -ENOMEM.
 */
static ssize_t mgpu_resume_vram(struct mgpu_device *mgpu,
				struct mgpu_mig_resume *r,
				const char __user *ubuf, size_t len)
{
	size_t done = 0;

	while (done < len && r->left) {
		pgoff_t index = r->pos >> PAGE_SHIFT;
		size_t off = offset_in_page(r->pos);
		size_t n = min3(PAGE_SIZE - off, len - done, (size_t)r->left);
		ssize_t copied;
		void *vaddr;
		int ret;

		ret = mgpu_vram_touch(mgpu, index);
		if (ret)
			return done ? done : ret;
		vaddr = mgpu_vram_map(mgpu, index);
		copied = mgpu_resume_copy_page(&r->check, vaddr, off,
					       ubuf + done, n);
		mgpu_vram_unmap(mgpu, vaddr);
		if (copied < 0)
			return done ? done : copied;
		r->pos += copied;
		r->left -= copied;
		done += copied;
		if ((size_t)copied < n)
			return done;
		cond_resched();
	}
	if (!r->left) {
		r->got = 0;
		r->phase = MGPU_RESUME_RUN_CHECK;
	}
	return done;
}

/* The check after a VRAM payload, complete: -EBADMSG if it does not match. */
static int mgpu_resume_check_run(struct mgpu_mig_resume *r)
{
	if (le64_to_cpu(r->run_check.sum) != r->check.sum ||
	    le64_to_cpu(r->run_check.sums) != r->check.sums)
		return -EBADMSG;
	r->got = 0;
	r->phase = MGPU_RESUME_RECORD;
	return 0;
}

/* Fills @dst (@size bytes, @r->got of them there) from user space. */
static ssize_t mgpu_resume_gather(struct mgpu_mig_resume *r, void *dst,
				  size_t size, const char __user *ubuf,
				  size_t len)
{
	size_t n;

	if (WARN_ON_ONCE(r->got >= size))
		return -EINVAL;
	n = min(len, size - r->got);
	n -= copy_from_user((u8 *)dst + r->got, ubuf, n);
	r->got += n;
	return n ? n : -EFAULT;
}

/*
 * Takes @len bytes of a write, record by record, checking each piece as
 * soon as it is complete.  Returns bytes taken (short only on a fault), or
 * an errno; errors other than a fault end the session's stream: they are
 * kept in @migf->error.
 */
static ssize_t mgpu_resume_take(struct mgpu_mig_file *migf,
				const char __user *ubuf, size_t len)
{
	struct mgpu_mig_resume *r = &migf->resume;
	struct mgpu_device *mgpu = migf->mgpu;
	size_t done = 0;
	ssize_t n;
	int ret = 0;

	lockdep_assert_held(&migf->lock);
	while (done < len && !ret) {
		switch (r->phase) {
		case MGPU_RESUME_HEADER:
			n = mgpu_resume_gather(r, &r->hdr, sizeof(r->hdr),
					       ubuf + done, len - done);
			if (n > 0 && r->got == sizeof(r->hdr)) {
				ret = mgpu_resume_check_header(mgpu, &r->hdr);
				r->got = 0;
				r->phase = MGPU_RESUME_RECORD;
			}
			break;
		case MGPU_RESUME_RECORD:
			n = mgpu_resume_gather(r, &r->rec, sizeof(r->rec),
					       ubuf + done, len - done);
			if (n > 0 && r->got == sizeof(r->rec))
				ret = mgpu_resume_check_record(mgpu, r);
			break;
		case MGPU_RESUME_STATE:
			n = mgpu_resume_gather(r, (u8 *)&r->state +
					       mgpu_state_recs[r->states].offset,
					       mgpu_state_recs[r->states].size,
					       ubuf + done, len - done);
			if (n > 0 && r->got == mgpu_state_recs[r->states].size)
				ret = mgpu_resume_check_state(r);
			break;
		case MGPU_RESUME_VRAM:
			n = mgpu_resume_vram(mgpu, r, ubuf + done, len - done);
			break;
		case MGPU_RESUME_RUN_CHECK:
			n = mgpu_resume_gather(r, &r->run_check,
					       sizeof(r->run_check),
					       ubuf + done, len - done);
			if (n > 0 && r->got == sizeof(r->run_check))
				ret = mgpu_resume_check_run(r);
			break;
		default:
			/* bytes after END */
			n = 0;
			ret = -EFBIG;
			break;
		}
		if (n == -EFAULT)
			return done ? done : -EFAULT;
		if (n < 0) {
			ret = n;
			n = 0;
		}
		done += n;
	}
	if (ret) {
		migf->error = ret;
		return ret;
	}
	return done;
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

/* ---- resuming: applying ------------------------------------------------- */

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
 * Replays the state records in stream order, then compares: only the whole
 * replay gives the final state (the INTx status bit in config space, for
 * one, follows the registers that come after it).  The engine comes last.
 */
static int mgpu_load_records(struct mgpu_device *mgpu,
			     const struct mgpu_stream_state *st)
{
	struct mgpu_stream_state now;
	const struct mgpu_state_rec *r;
	unsigned int i;
	int ret;

	for (i = 0; i < MGPU_REC_STATES; i++) {
		r = &mgpu_state_recs[i];
		if (!r->load)
			continue;
		ret = r->load(mgpu, (const u8 *)st + r->offset);
		if (ret)
			return ret;
	}
	for (i = 0; i < MGPU_REC_STATES; i++) {
		r = &mgpu_state_recs[i];
		if (!r->exact)
			continue;
		r->save(mgpu, (u8 *)&now + r->offset);
		if (memcmp((u8 *)&now + r->offset, (const u8 *)st + r->offset,
			   r->size))
			return -EINVAL;
	}
	return 0;
}

/*
 * Restores the register file: reset, then each record replayed through the
 * paths a guest's writes take, so that read-only bits, clamps and filters
 * apply as they would to the guest.  A record the instance does not then
 * save back byte for byte describes a state no guest could have reached:
 * -EINVAL.  Then the engine, which refuses a state no engine can be in.
 * On any error the instance is put back as it was.  The device is
 * stopped, so the replay signals no interrupt and runs no command.
 */
static int mgpu_load_state(struct mgpu_device *mgpu,
			   const struct mgpu_stream_state *st)
{
	struct mgpu_mig_undo undo;
	int ret;

	mutex_lock(&mgpu->lock);
	mgpu_undo_save(mgpu, &undo);
	mgpu_config_reset(mgpu);
	mgpu_regs_reset(mgpu);
	ret = mgpu_load_records(mgpu, st);
	if (ret)
		mgpu_undo_restore(mgpu, &undo);
	mutex_unlock(&mgpu->lock);
	if (ret)
		return ret;

	ret = mgpu_engine_restore(mgpu, &st->engine);
	if (ret) {
		mutex_lock(&mgpu->lock);
		mgpu_undo_restore(mgpu, &undo);
		mutex_unlock(&mgpu->lock);
	}
	return ret;
}

/*
 * RESUMING -> STOP: VRAM has been written as it arrived; the state applies
 * only now, if the stream was whole and every record checked out.  A
 * stream that stopped short is -ENODATA.
 */
static int mgpu_resume_apply(struct mgpu_device *mgpu,
			     struct mgpu_mig_file *migf)
{
	int ret;

	mutex_lock(&migf->lock);
	ret = migf->error;
	if (!ret && migf->resume.phase != MGPU_RESUME_END)
		ret = -ENODATA;
	if (!ret)
		ret = mgpu_load_state(mgpu, &migf->resume.state);
	mutex_unlock(&migf->lock);
	return ret;
}

/* ---- session files ------------------------------------------------------ */

static int mgpu_mig_file_release(struct inode *inode, struct file *filp)
{
	struct mgpu_mig_file *migf = filp->private_data;

	mutex_destroy(&migf->lock);
	kfree(migf);
	return 0;
}

static const struct file_operations mgpu_save_fops = {
	.owner = THIS_MODULE,
	.read = mgpu_save_read,
	.unlocked_ioctl = mgpu_save_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
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
mgpu_mig_file_create(struct mgpu_device *mgpu,
		     const struct file_operations *fops, int flags)
{
	struct mgpu_mig_file *migf;
	struct file *filp;

	migf = kzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&migf->lock);
	migf->mgpu = mgpu;

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
 * Ends the session in *@slot: its file fails every later read, write or
 * ioctl, and the device drops its own reference to the file.
 */
static void mgpu_mig_file_end(struct mgpu_mig_file **slot)
{
	struct mgpu_mig_file *migf = *slot;

	if (!migf)
		return;
	mutex_lock(&migf->lock);
	migf->disabled = true;
	migf->mgpu = NULL;
	mutex_unlock(&migf->lock);
	fput(migf->filp);
	*slot = NULL;
}

/*
 * Starts a session: the device keeps a reference to the file for as long as
 * it is in the session's states, user space gets the one returned.
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

/* Whether the device runs (interrupts, engine) in @state. */
static bool mgpu_mig_state_runs(enum vfio_device_mig_state state)
{
	return state == VFIO_DEVICE_STATE_RUNNING ||
	       state == VFIO_DEVICE_STATE_PRE_COPY;
}

/*
 * RUNNING -> RUNNING_P2P, PRE_COPY -> PRE_COPY_P2P: the engine stops
 * between two commands (the one in flight ends first), and nothing is
 * signalled any more (see the top).
 */
static struct file *mgpu_mig_quiesce(struct mgpu_device *mgpu)
{
	mgpu_engine_quiesce(mgpu);
	mutex_lock(&mgpu->lock);
	mgpu->irq.stopped = true;
	mutex_unlock(&mgpu->lock);
	return NULL;
}

/*
 * RUNNING_P2P -> RUNNING, PRE_COPY_P2P -> PRE_COPY: what became pending
 * while stopped goes out, and the engine runs what waits.
 */
static struct file *mgpu_mig_run(struct mgpu_device *mgpu)
{
	mutex_lock(&mgpu->lock);
	mgpu->irq.stopped = false;
	mgpu_irq_update(mgpu);
	mutex_unlock(&mgpu->lock);
	mgpu_engine_resume(mgpu);
	return NULL;
}

/*
 * RUNNING_P2P <-> STOP: interrupts are already held back and the engine
 * stopped; the device does nothing else on its own.
 */
static struct file *mgpu_mig_nothing(struct mgpu_device *mgpu)
{
	return NULL;
}

/* A saving session; @precopy: only the header until STOP_COPY. */
static struct file *mgpu_mig_save_begin(struct mgpu_device *mgpu,
					bool precopy)
{
	struct mgpu_mig_file *migf;

	migf = mgpu_mig_file_create(mgpu, &mgpu_save_fops, O_RDONLY);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	mgpu_save_header(mgpu, &migf->save);
	migf->precopy = precopy;
	if (!precopy)
		mgpu_save_state(mgpu, &migf->save);
	return mgpu_mig_file_start(migf, &mgpu->mig.save);
}

/* STOP -> STOP_COPY */
static struct file *mgpu_mig_save_start(struct mgpu_device *mgpu)
{
	return mgpu_mig_save_begin(mgpu, false);
}

/* RUNNING -> PRE_COPY, RUNNING_P2P -> PRE_COPY_P2P */
static struct file *mgpu_mig_precopy_start(struct mgpu_device *mgpu)
{
	return mgpu_mig_save_begin(mgpu, true);
}

/*
 * PRE_COPY_P2P -> STOP_COPY: the device is stopped, its state goes into
 * the session after the header; the same fd carries on.
 */
static struct file *mgpu_mig_precopy_stop(struct mgpu_device *mgpu)
{
	struct mgpu_mig_file *migf = mgpu->mig.save;

	mutex_lock(&migf->lock);
	migf->precopy = false;
	mgpu_save_state(mgpu, &migf->save);
	mutex_unlock(&migf->lock);
	return NULL;
}

/* STOP_COPY -> STOP, PRE_COPY -> RUNNING, PRE_COPY_P2P -> RUNNING_P2P */
static struct file *mgpu_mig_save_end(struct mgpu_device *mgpu)
{
	mgpu_mig_file_end(&mgpu->mig.save);
	return NULL;
}

/* STOP -> RESUMING: VRAM changes as the stream arrives, the rest at the end. */
static struct file *mgpu_mig_resume_start(struct mgpu_device *mgpu)
{
	struct mgpu_mig_file *migf;

	migf = mgpu_mig_file_create(mgpu, &mgpu_resume_fops, O_WRONLY);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
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

#define MGPU_MIG_STATES		(VFIO_DEVICE_STATE_PRE_COPY_P2P + 1)
#define MGPU_ARC(from, to, fn)						\
	[VFIO_DEVICE_STATE_##from][VFIO_DEVICE_STATE_##to] = {		\
		fn, VFIO_DEVICE_STATE_##from				\
	}

/*
 * The arcs vfio_mig_get_next_state() asks a STOP_COPY | P2P (| PRE_COPY)
 * driver for, by [from][to]; every other transition is a path of these, or
 * refused by it.  A failed arc leaves the device where it was, except
 * RESUMING -> STOP: a refused stream leaves it in STOP, see the top.  The PRE_COPY arcs are
 * asked for only where MDEV_MIG_PRE_COPY is offered.
 */
static const struct mgpu_mig_arc mgpu_mig_arcs[MGPU_MIG_STATES][MGPU_MIG_STATES] = {
	MGPU_ARC(RUNNING, RUNNING_P2P, mgpu_mig_quiesce),
	MGPU_ARC(RUNNING_P2P, RUNNING, mgpu_mig_run),
	MGPU_ARC(RUNNING_P2P, STOP, mgpu_mig_nothing),
	MGPU_ARC(STOP, RUNNING_P2P, mgpu_mig_nothing),
	MGPU_ARC(STOP, STOP_COPY, mgpu_mig_save_start),
	MGPU_ARC(STOP_COPY, STOP, mgpu_mig_save_end),
	MGPU_ARC(STOP, RESUMING, mgpu_mig_resume_start),
	/* a refused stream has ended the session: the device is in STOP */
	[VFIO_DEVICE_STATE_RESUMING][VFIO_DEVICE_STATE_STOP] = {
		mgpu_mig_resume_end, VFIO_DEVICE_STATE_STOP
	},
	MGPU_ARC(RUNNING, PRE_COPY, mgpu_mig_precopy_start),
	MGPU_ARC(RUNNING_P2P, PRE_COPY_P2P, mgpu_mig_precopy_start),
	MGPU_ARC(PRE_COPY, RUNNING, mgpu_mig_save_end),
	MGPU_ARC(PRE_COPY_P2P, RUNNING_P2P, mgpu_mig_save_end),
	MGPU_ARC(PRE_COPY, PRE_COPY_P2P, mgpu_mig_quiesce),
	MGPU_ARC(PRE_COPY_P2P, PRE_COPY, mgpu_mig_run),
	MGPU_ARC(PRE_COPY_P2P, STOP_COPY, mgpu_mig_precopy_stop),
};

static struct file *mgpu_mig_step(struct mgpu_device *mgpu,
				  enum vfio_device_mig_state next)
{
	struct mgpu_migration *mig = &mgpu->mig;
	const struct mgpu_mig_arc *arc;
	struct file *res;

	lockdep_assert_held(&mig->lock);
	if (WARN_ON_ONCE(mig->state >= MGPU_MIG_STATES ||
			 next >= MGPU_MIG_STATES))
		return ERR_PTR(-EINVAL);
	/* @next is the user's (through VFIO's path to it): no speculation */
	arc = &mgpu_mig_arcs[mig->state][array_index_nospec(next,
							    MGPU_MIG_STATES)];
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

#ifdef MDEV_MIG_HAS_DATA_SIZE
/*
 * What a save started now would produce, at most: the header, the state
 * records, every touched page in a run of its own, and END.  Untouched VRAM
 * is not sent.
 */
static int mgpu_mig_get_data_size(struct vfio_device *vdev,
				  unsigned long *stop_copy_length)
{
	struct mgpu_device *mgpu = vdev_to_mgpu(vdev);
	unsigned long len = sizeof(struct mgpu_stream_header);
	pgoff_t index;
	unsigned int i;

	for (i = 0; i < MGPU_REC_STATES; i++)
		len += sizeof(struct mgpu_stream_record) +
		       mgpu_state_recs[i].size;
	len += sizeof(struct mgpu_stream_record);
	for (index = mgpu_vram_next_present(mgpu, 0);
	     index < mgpu_vram_pages(mgpu);
	     index = mgpu_vram_next_present(mgpu, index + 1)) {
		len += sizeof(struct mgpu_stream_record) + PAGE_SIZE +
		       sizeof(struct mgpu_stream_run_check);
		cond_resched();
	}
	*stop_copy_length = len;
	return 0;
}
#endif

static const struct vfio_migration_ops mgpu_mig_ops = {
	.migration_set_state = mgpu_mig_set_state,
	.migration_get_state = mgpu_mig_get_state,
#ifdef MDEV_MIG_HAS_DATA_SIZE
	.migration_get_data_size = mgpu_mig_get_data_size,
#endif
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
				     VFIO_MIGRATION_P2P | MDEV_MIG_PRE_COPY;
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
 * Ends any session (its fd then fails reads and writes with -ENODEV), lets
 * interrupts out again and undoes the engine stop of the P2P and stopped
 * states.  Pending causes are not signalled here: the device reset that the
 * caller does next clears them.
 *
 * Context: takes the migration lock and mgpu->lock; call it with neither.
 */
void mgpu_migration_reset(struct mgpu_device *mgpu)
{
	struct mgpu_migration *mig = &mgpu->mig;
	bool stopped;

	mutex_lock(&mig->lock);
	mgpu_mig_file_end(&mig->save);
	mgpu_mig_file_end(&mig->resume);
	stopped = !mgpu_mig_state_runs(mig->state);
	mig->state = VFIO_DEVICE_STATE_RUNNING;
	mutex_lock(&mgpu->lock);
	mgpu->irq.stopped = false;
	mutex_unlock(&mgpu->lock);
	if (stopped)
		mgpu_engine_resume(mgpu);
	mutex_unlock(&mig->lock);
}
