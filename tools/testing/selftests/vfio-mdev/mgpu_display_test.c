// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the mgpu sample's display, checked against the "Display"
 * section of Documentation/driver-api/mgpu.rst: VFIO_DEVICE_QUERY_GFX_PLANE
 * for REGION planes (always offered) and DMABUF planes (offered while the
 * dmabuf_planes module parameter is Y), the plane decoded from the dispi
 * registers, the "no plane" cases, plane ids, and the dma-bufs of
 * VFIO_DEVICE_GET_GFX_DMABUF: mappable shared and writable, showing VRAM,
 * and living on after the device is closed and the instance removed.
 * dmabuf_planes is set back to N after every test.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "common.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

#define PAGE		4096L
#define PAGE_ALIGN(x)	(((x) + PAGE - 1) & ~(PAGE - 1))

/* DRM fourcc codes and plane types (no libdrm headers needed). */
#define FOURCC(a, b, c, d)	((__u32)(a) | (__u32)(b) << 8 | \
				 (__u32)(c) << 16 | (__u32)(d) << 24)
#define FMT_XRGB8888		FOURCC('X', 'R', '2', '4')
#define FMT_BGRX8888		FOURCC('B', 'X', '2', '4')
#define FMT_RGB565		FOURCC('R', 'G', '1', '6')
#define DRM_MOD_LINEAR		0ULL
#define PLANE_OVERLAY		0U	/* what QEMU's REGION path asks for */
#define PLANE_PRIMARY		1U
#define PLANE_CURSOR		2U

#define REGION		VFIO_GFX_PLANE_TYPE_REGION
#define DMABUF		VFIO_GFX_PLANE_TYPE_DMABUF
#define PROBE		VFIO_GFX_PLANE_TYPE_PROBE

/* The dispi ENABLE value bochs-drm writes: enabled, linear framebuffer. */
#define ENABLE_LFB	0x41

static bool mgpu_ready;
static char mgpu_why[256];

/*
 * The 6.1 harness runs a test's body even when its fixture setup called
 * SKIP(), so every body of a fixture test starts by returning if it did.
 */

#define MAX_BUFS	4
/* How long a removal of a closed instance may take. */
#define REMOVE_MS	10000

FIXTURE(display) {
	char uuid[UUID_STR_LEN];
	bool created;
	struct vfio_client v;
	int dev;
	__u64 vram;
	const struct mgpu_profile *p;
	int buf_fd[MAX_BUFS];
	void *map[MAX_BUFS];
	size_t map_len[MAX_BUFS];
};

FIXTURE_VARIANT(display) {
	unsigned int gpu;
	unsigned int type;
};

FIXTURE_VARIANT_ADD(display, eighth) {
	.gpu = 0,
	.type = MGPU_EIGHTH,
};

FIXTURE_VARIANT_ADD(display, full) {
	.gpu = 1,
	.type = MGPU_FULL,
};

FIXTURE_SETUP(display)
{
	unsigned int i;
	int ret;

	vfio_client_init(&self->v);
	self->dev = -1;
	for (i = 0; i < MAX_BUFS; i++) {
		self->buf_fd[i] = -1;
		self->map[i] = MAP_FAILED;
	}
	self->p = &mgpu_profiles[variant->type];
	self->vram = mgpu_vram_size(MGPU_DEFAULT_VRAM_MB, variant->type);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);

	ASSERT_EQ(0, mgpu_param_write("dmabuf_planes", "N"));
	uuid_gen(self->uuid);
	ASSERT_EQ(0, mgpu_create(variant->gpu, variant->type, self->uuid));
	self->created = true;
	ret = vfio_client_open(&self->v, self->uuid);
	if (ret)
		mdev_remove(self->uuid);	/* no teardown after this */
	ASSERT_EQ(0, ret);
	self->dev = self->v.device;
}

FIXTURE_TEARDOWN(display)
{
	unsigned int i;

	for (i = 0; i < MAX_BUFS; i++) {
		if (self->map[i] != MAP_FAILED)
			munmap(self->map[i], self->map_len[i]);
		if (self->buf_fd[i] >= 0)
			close(self->buf_fd[i]);
	}
	vfio_client_close(&self->v);
	if (self->created && mdev_exists(self->uuid))
		EXPECT_EQ(0, mgpu_remove(self->uuid, REMOVE_MS));
	if (!_metadata->skip)
		EXPECT_EQ(0, mgpu_param_write("dmabuf_planes", "N"));
}

/* A query with every output field poisoned first, so that all are checked. */
static int query(int dev, __u32 flags, __u32 plane_type,
		 struct vfio_device_gfx_plane_info *plane)
{
	memset(plane, 0xa5, sizeof(*plane));
	plane->argsz = sizeof(*plane);
	plane->flags = flags;
	plane->drm_plane_type = plane_type;
	return vfio_ioctl(dev, VFIO_DEVICE_QUERY_GFX_PLANE, plane);
}

static void expect_no_plane(struct __test_metadata *_metadata,
			    const struct vfio_device_gfx_plane_info *plane,
			    const char *what)
{
	EXPECT_EQ(0U, plane->drm_format) TH_LOG("%s", what);
	EXPECT_EQ(DRM_MOD_LINEAR, plane->drm_format_mod) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->width) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->height) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->stride) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->size) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->x_pos) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->y_pos) TH_LOG("%s", what);
	EXPECT_EQ(0xffffffffU, plane->x_hot) TH_LOG("%s", what);
	EXPECT_EQ(0xffffffffU, plane->y_hot) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->dmabuf_id) TH_LOG("%s", what);
}

struct plane_want {
	__u32 format;
	__u32 width;
	__u32 height;
	__u32 stride;
	__u32 size;
};

static void expect_plane(struct __test_metadata *_metadata,
			 const struct vfio_device_gfx_plane_info *plane,
			 const struct plane_want *want, const char *what)
{
	EXPECT_EQ(want->format, plane->drm_format) TH_LOG("%s", what);
	EXPECT_EQ(DRM_MOD_LINEAR, plane->drm_format_mod) TH_LOG("%s", what);
	EXPECT_EQ(want->width, plane->width) TH_LOG("%s", what);
	EXPECT_EQ(want->height, plane->height) TH_LOG("%s", what);
	EXPECT_EQ(want->stride, plane->stride) TH_LOG("%s", what);
	EXPECT_EQ(want->size, plane->size) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->x_pos) TH_LOG("%s", what);
	EXPECT_EQ(0U, plane->y_pos) TH_LOG("%s", what);
	EXPECT_EQ(0xffffffffU, plane->x_hot) TH_LOG("%s", what);
	EXPECT_EQ(0xffffffffU, plane->y_hot) TH_LOG("%s", what);
}

/* Sets @mode, and queries the primary plane it shows as a @flags plane. */
static void show_mode(struct __test_metadata *_metadata, int dev,
		      const struct mgpu_mode *mode, __u32 flags,
		      struct vfio_device_gfx_plane_info *plane)
{
	ASSERT_EQ(0, mgpu_set_mode(dev, mode));
	ASSERT_EQ(0, query(dev, flags, PLANE_PRIMARY, plane))
		TH_LOG("%ux%ux%u virt_width %u offset %u,%u enable %#x",
		       mode->xres, mode->yres, mode->bpp, mode->virt_width,
		       mode->x_offset, mode->y_offset, mode->enable);
}

/* show_mode() with the framebuffer's byte order set to @endian first. */
static void show_mode_endian(struct __test_metadata *_metadata, int dev,
			     const struct mgpu_mode *mode, __u32 endian,
			     __u32 flags,
			     struct vfio_device_gfx_plane_info *plane)
{
	ASSERT_EQ(0, mgpu_mmio_write(dev, MGPU_QEXT_ENDIAN, 4, endian));
	show_mode(_metadata, dev, mode, flags, plane);
}

/*
 * DMABUF planes are made of VRAM's struct pages: a PCI GPU's VRAM is a BAR,
 * which has none, so its instances never offer them (the probe test checks).
 */
#define NO_DMABUF	"PCI GPU: VRAM in a BAR has no DMABUF planes"

/* show_mode() of a DMABUF plane, with DMABUF planes turned on first. */
static void dmabuf_mode(struct __test_metadata *_metadata, int dev,
			const struct mgpu_mode *mode,
			struct vfio_device_gfx_plane_info *plane)
{
	ASSERT_EQ(0, mgpu_param_write("dmabuf_planes", "Y"));
	show_mode(_metadata, dev, mode, DMABUF, plane);
}

static const struct mgpu_mode mode_640x480x32 = {
	.xres = 640, .yres = 480, .bpp = 32, .enable = ENABLE_LFB,
};

static const struct plane_want plane_640x480x32 = {
	FMT_XRGB8888, 640, 480, 2560, 640 * 480 * 4,
};

/* ---- REGION planes ------------------------------------------------------------- */

TEST_F(display, first_query)
{
	struct vfio_device_gfx_plane_info plane;

	if (_metadata->skip)
		return;
	/* The very first query, before any mode is set: no plane, success. */
	ASSERT_EQ(0, query(self->dev, REGION, PLANE_PRIMARY, &plane));
	expect_no_plane(_metadata, &plane, "first REGION query");
	ASSERT_EQ(0, query(self->dev, REGION, PLANE_OVERLAY, &plane));
	expect_no_plane(_metadata, &plane, "REGION query, plane type 0");
	/* DMABUF is not offered while dmabuf_planes is N. */
	EXPECT_EQ(-EINVAL, query(self->dev, DMABUF, PLANE_PRIMARY, &plane));
}

/*
 * The very first query after a mode is set succeeds at once, with the
 * plane (mbochs fails the first query of a new mode), for both kinds.
 */
TEST_F(display, first_query_with_mode)
{
	struct vfio_device_gfx_plane_info plane;

	if (_metadata->skip)
		return;
	if (mgpu_pci_mode())
		SKIP(return, NO_DMABUF);
	dmabuf_mode(_metadata, self->dev, &mode_640x480x32, &plane);
	expect_plane(_metadata, &plane, &plane_640x480x32, "first DMABUF query");
	EXPECT_LE(1U, plane.dmabuf_id);
	ASSERT_EQ(0, query(self->dev, REGION, PLANE_PRIMARY, &plane));
	expect_plane(_metadata, &plane, &plane_640x480x32, "first REGION query");
	EXPECT_EQ((__u32)MGPU_VRAM, plane.region_index);
}

TEST_F(display, probe)
{
	struct vfio_device_gfx_plane_info plane;

	if (_metadata->skip)
		return;
	EXPECT_EQ(0, query(self->dev, PROBE | REGION, PLANE_PRIMARY, &plane));
	EXPECT_EQ(-EINVAL, query(self->dev, PROBE | DMABUF, PLANE_PRIMARY, &plane));
	EXPECT_EQ(-EINVAL, query(self->dev, 0, PLANE_PRIMARY, &plane));
	EXPECT_EQ(-EINVAL, query(self->dev, PROBE, PLANE_PRIMARY, &plane));
	EXPECT_EQ(-EINVAL, query(self->dev, REGION | DMABUF, PLANE_PRIMARY, &plane));
	EXPECT_EQ(-EINVAL, query(self->dev, PROBE | REGION | DMABUF, PLANE_PRIMARY,
				 &plane));
	EXPECT_EQ(-EINVAL, query(self->dev, 1u << 3, PLANE_PRIMARY, &plane));
	plane.argsz = 8;
	plane.flags = PROBE | REGION;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_QUERY_GFX_PLANE,
				      &plane));

	/*
	 * With dmabuf_planes=Y both kinds are offered, but still one at a
	 * time; never DMABUF on a PCI GPU.
	 */
	ASSERT_EQ(0, mgpu_param_write("dmabuf_planes", "Y"));
	EXPECT_EQ(mgpu_pci_mode() ? -EINVAL : 0,
		  query(self->dev, PROBE | DMABUF, PLANE_PRIMARY, &plane));
	if (mgpu_pci_mode())
		EXPECT_EQ(-EINVAL, query(self->dev, DMABUF, PLANE_PRIMARY, &plane));
	EXPECT_EQ(0, query(self->dev, PROBE | REGION, PLANE_PRIMARY, &plane));
	EXPECT_EQ(-EINVAL, query(self->dev, PROBE | REGION | DMABUF, PLANE_PRIMARY,
				 &plane));
	ASSERT_EQ(0, mgpu_param_write("dmabuf_planes", "N"));
	EXPECT_EQ(-EINVAL, query(self->dev, PROBE | DMABUF, PLANE_PRIMARY, &plane));
}

TEST_F(display, region_plane)
{
	struct vfio_device_gfx_plane_info plane;
	const struct mgpu_mode max = {
		.xres = self->p->max_width, .yres = self->p->max_height,
		.bpp = 32, .enable = ENABLE_LFB,
	};
	const struct plane_want max_want = {
		FMT_XRGB8888, self->p->max_width, self->p->max_height,
		self->p->max_width * 4,
		PAGE_ALIGN(self->p->max_width * 4 * self->p->max_height),
	};

	if (_metadata->skip)
		return;
	show_mode(_metadata, self->dev, &mode_640x480x32, REGION, &plane);
	expect_plane(_metadata, &plane, &plane_640x480x32, "640x480x32");
	EXPECT_EQ((__u32)MGPU_VRAM, plane.region_index);
	/* QEMU's REGION path leaves the plane type 0. */
	ASSERT_EQ(0, query(self->dev, REGION, PLANE_OVERLAY, &plane));
	expect_plane(_metadata, &plane, &plane_640x480x32, "plane type 0");
	EXPECT_EQ((__u32)MGPU_VRAM, plane.region_index);
	/* Any other type but the cursor is answered with the primary plane. */
	ASSERT_EQ(0, query(self->dev, REGION, 7, &plane));
	expect_plane(_metadata, &plane, &plane_640x480x32, "plane type 7");
	/* There is no cursor plane. */
	ASSERT_EQ(0, query(self->dev, REGION, PLANE_CURSOR, &plane));
	expect_no_plane(_metadata, &plane, "cursor");

	/* The profile's largest mode. */
	show_mode(_metadata, self->dev, &max, REGION, &plane);
	expect_plane(_metadata, &plane, &max_want, "largest mode");
}

TEST_F(display, region_formats)
{
	static const struct {
		struct mgpu_mode mode;
		__u32 endian;
		struct plane_want want;
		const char *what;
	} cases[] = {
		{ { 800, 600, 16, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE,
		  { FMT_RGB565, 800, 600, 1600, PAGE_ALIGN(800 * 600 * 2) },
		  "800x600x16" },
		{ { 640, 480, 32, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_BIG,
		  { FMT_BGRX8888, 640, 480, 2560, 640 * 480 * 4 },
		  "640x480x32 big-endian" },
		{ { 640, 480, 32, 0, 0, 0, ENABLE_LFB }, 0x12345678,
		  { FMT_XRGB8888, 640, 480, 2560, 640 * 480 * 4 },
		  "other ENDIAN values are little-endian" },
		{ { 640, 480, 32, 1024, 0, 0, 1 }, MGPU_ENDIAN_LITTLE,
		  { FMT_XRGB8888, 640, 480, 4096, 4096 * 480 },
		  "VIRT_WIDTH 1024, ENABLE 1" },
		{ { 100, 75, 16, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE,
		  { FMT_RGB565, 100, 75, 200, PAGE_ALIGN(200 * 75) },
		  "size rounded up to pages" },
	};
	struct vfio_device_gfx_plane_info plane;
	unsigned int i;

	if (_metadata->skip)
		return;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		show_mode_endian(_metadata, self->dev, &cases[i].mode,
				 cases[i].endian, REGION, &plane);
		expect_plane(_metadata, &plane, &cases[i].want, cases[i].what);
	}
}

TEST_F(display, no_plane)
{
	/* 1024x1024x32 lines 8 pages apart: every Y_OFFSET is page aligned. */
	const __u32 stride = 8192 * 4;
	const __u32 size = stride * 1024;
	/* The first Y_OFFSET at which the plane no longer fits in VRAM. */
	const __u16 too_low = self->vram / stride - 1024 + 1;
	const struct {
		struct mgpu_mode mode;
		__u32 endian;
		const char *what;
	} cases[] = {
		{ { 640, 480, 32, 0, 0, 0, 0 }, MGPU_ENDIAN_LITTLE, "disabled" },
		{ { 640, 480, 32, 0, 0, 0, 0x40 }, MGPU_ENDIAN_LITTLE,
		  "ENABLE without bit 0" },
		{ { 640, 480, 24, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE, "24 bpp" },
		{ { 640, 480, 8, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE, "8 bpp" },
		{ { 640, 480, 0, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE, "0 bpp" },
		{ { 640, 480, 16, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_BIG,
		  "16 bpp big-endian" },
		{ { 0, 480, 32, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE, "XRES 0" },
		{ { 640, 0, 32, 0, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE, "YRES 0" },
		{ { 640, 480, 32, 600, 0, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE,
		  "VIRT_WIDTH < XRES" },
		{ { 640, 480, 32, 700, 61, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE,
		  "X_OFFSET + XRES > VIRT_WIDTH" },
		{ { 1024, 1024, 32, 8192, 0, too_low, ENABLE_LFB },
		  MGPU_ENDIAN_LITTLE, "past the end of VRAM" },
		{ { 640, 480, 32, 0, 0, 1, ENABLE_LFB }, MGPU_ENDIAN_LITTLE,
		  "REGION plane not at offset 0" },
		{ { 640, 480, 32, 700, 60, 0, ENABLE_LFB }, MGPU_ENDIAN_LITTLE,
		  "REGION plane panned by X_OFFSET" },
	};
	const struct mgpu_mode end_mode = {
		1024, 1024, 32, 8192, 0, too_low - 1, ENABLE_LFB,
	};
	const struct plane_want at_end = {
		FMT_XRGB8888, 1024, 1024, stride, size,
	};
	struct vfio_device_gfx_plane_info plane;
	unsigned int i;

	if (_metadata->skip)
		return;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		/* A good mode first, so that "no plane" is a change. */
		show_mode_endian(_metadata, self->dev, &mode_640x480x32,
				 MGPU_ENDIAN_LITTLE, REGION, &plane);
		ASSERT_EQ(FMT_XRGB8888, plane.drm_format);

		show_mode_endian(_metadata, self->dev, &cases[i].mode,
				 cases[i].endian, REGION, &plane);
		expect_no_plane(_metadata, &plane, cases[i].what);
	}

	/* One line less, and the plane ends at the end of VRAM (as DMABUF). */
	if (mgpu_pci_mode())
		return;		/* NO_DMABUF */
	ASSERT_EQ(0, mgpu_param_write("dmabuf_planes", "Y"));
	show_mode_endian(_metadata, self->dev, &end_mode, MGPU_ENDIAN_LITTLE,
			 DMABUF, &plane);
	expect_plane(_metadata, &plane, &at_end, "DMABUF at the end of VRAM");
	EXPECT_NE(0U, plane.dmabuf_id);
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_Y_OFFSET, too_low));
	ASSERT_EQ(0, query(self->dev, DMABUF, PLANE_PRIMARY, &plane));
	expect_no_plane(_metadata, &plane, "DMABUF past the end of VRAM");
}

/* ---- DMABUF planes ------------------------------------------------------------- */

/* Exports plane @id and maps it shared and writable, in slot @slot. */
static int get_dmabuf(struct _test_data_display *self, unsigned int slot, __u32 id,
		      size_t len)
{
	int fd = vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &id);

	if (fd < 0)
		return fd;
	self->buf_fd[slot] = fd;
	self->map[slot] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	self->map_len[slot] = len;
	return self->map[slot] == MAP_FAILED ? -errno : 0;
}

static void fill(__u8 *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (__u8)(seed + i * 13 + (i >> 10));
}

TEST_F(display, dmabuf_plane)
{
	static const struct mgpu_mode mode_800x600x16 = {
		.xres = 800, .yres = 600, .bpp = 16, .enable = ENABLE_LFB,
	};
	const size_t size = plane_640x480x32.size;
	struct vfio_device_gfx_plane_info plane;
	__u32 id, id16, bad;
	__u8 *vram, *m;
	__u8 back[16];
	char param[8];
	void *priv;
	int flags;

	if (_metadata->skip)
		return;
	if (mgpu_pci_mode())
		SKIP(return, NO_DMABUF);
	ASSERT_EQ(0, mgpu_param_write("dmabuf_planes", "Y"));
	ASSERT_EQ(2, mgpu_param_read("dmabuf_planes", param, sizeof(param)));
	EXPECT_STREQ("Y\n", param);
	EXPECT_EQ(0, query(self->dev, PROBE | DMABUF, PLANE_PRIMARY, &plane));

	/* Nothing shown yet: no plane, id 0. */
	ASSERT_EQ(0, query(self->dev, DMABUF, PLANE_PRIMARY, &plane));
	expect_no_plane(_metadata, &plane, "first DMABUF query");

	/* A mode: an id from 1 up, the same for the same layout. */
	show_mode(_metadata, self->dev, &mode_640x480x32, DMABUF, &plane);
	expect_plane(_metadata, &plane, &plane_640x480x32, "DMABUF 640x480x32");
	id = plane.dmabuf_id;
	EXPECT_LE(1U, id);
	ASSERT_EQ(0, query(self->dev, DMABUF, PLANE_PRIMARY, &plane));
	EXPECT_EQ(id, plane.dmabuf_id);
	ASSERT_EQ(0, query(self->dev, DMABUF, PLANE_CURSOR, &plane));
	expect_no_plane(_metadata, &plane, "DMABUF cursor");

	/* Another layout, another id; back again, the first id. */
	show_mode(_metadata, self->dev, &mode_800x600x16, DMABUF, &plane);
	EXPECT_EQ(FMT_RGB565, plane.drm_format);
	id16 = plane.dmabuf_id;
	EXPECT_NE(0U, id16);
	EXPECT_NE(id, id16);
	show_mode(_metadata, self->dev, &mode_640x480x32, DMABUF, &plane);
	EXPECT_EQ(id, plane.dmabuf_id);
	/* REGION queries still work alongside. */
	ASSERT_EQ(0, query(self->dev, REGION, PLANE_PRIMARY, &plane));
	expect_plane(_metadata, &plane, &plane_640x480x32, "REGION with Y");

	/* The dma-buf shows what VRAM holds. */
	vram = malloc(size);
	ASSERT_NE(NULL, vram);
	fill(vram, size, 5);
	ASSERT_EQ((ssize_t)size, vfio_region_write(self->dev, MGPU_VRAM, 0, vram,
						   size));
	ASSERT_EQ(0, get_dmabuf(self, 0, id, size)) {
		free(vram);
	}
	m = self->map[0];
	EXPECT_EQ(0, memcmp(m, vram, size));
	free(vram);
	flags = fcntl(self->buf_fd[0], F_GETFD);
	EXPECT_NE(0, flags & FD_CLOEXEC);
	flags = fcntl(self->buf_fd[0], F_GETFL);
	EXPECT_EQ(O_RDWR, flags & O_ACCMODE);
	EXPECT_EQ((off_t)size, lseek(self->buf_fd[0], 0, SEEK_END));

	/* Writes go through both ways. */
	memcpy(m + 100, "DMABUFWR", 8);
	ASSERT_EQ(8, vfio_region_read(self->dev, MGPU_VRAM, 100, back, 8));
	EXPECT_EQ(0, memcmp(back, "DMABUFWR", 8));
	ASSERT_EQ(8, vfio_region_write(self->dev, MGPU_VRAM, size - 8, "LASTBYTE", 8));
	EXPECT_EQ(0, memcmp(m + size - 8, "LASTBYTE", 8));

	/* Private mappings are refused; each call exports a new dma-buf. */
	priv = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, self->buf_fd[0], 0);
	EXPECT_EQ(MAP_FAILED, priv);
	if (priv != MAP_FAILED)
		munmap(priv, PAGE);
	else
		EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, get_dmabuf(self, 1, id, size));
	EXPECT_NE(self->buf_fd[0], self->buf_fd[1]);
	EXPECT_EQ(0, memcmp(self->map[1], m, size));

	/* Unknown ids. */
	bad = id16 + 1000;
	EXPECT_EQ(-ENOENT, vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &bad));
	bad = 0;
	EXPECT_EQ(-ENOENT, vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &bad));

	/* Back to N: DMABUF no longer offered, REGION still is. */
	ASSERT_EQ(0, mgpu_param_write("dmabuf_planes", "N"));
	EXPECT_EQ(-EINVAL, query(self->dev, PROBE | DMABUF, PLANE_PRIMARY, &plane));
	EXPECT_EQ(-EINVAL, query(self->dev, DMABUF, PLANE_PRIMARY, &plane));
	EXPECT_EQ(0, query(self->dev, PROBE | REGION, PLANE_PRIMARY, &plane));
}

/* A plane panned by whole pages is a DMABUF plane (not a REGION one). */
TEST_F(display, dmabuf_panned)
{
	const struct mgpu_mode second = {
		.xres = 640, .yres = 480, .bpp = 32, .y_offset = 480,
		.enable = ENABLE_LFB,
	};
	const size_t size = plane_640x480x32.size;
	struct vfio_device_gfx_plane_info plane;
	__u32 id0, id1;

	if (_metadata->skip)
		return;
	if (mgpu_pci_mode())
		SKIP(return, NO_DMABUF);
	dmabuf_mode(_metadata, self->dev, &mode_640x480x32, &plane);
	id0 = plane.dmabuf_id;
	show_mode(_metadata, self->dev, &second, DMABUF, &plane);
	expect_plane(_metadata, &plane, &plane_640x480x32, "panned DMABUF");
	id1 = plane.dmabuf_id;
	EXPECT_NE(0U, id1);
	EXPECT_NE(id0, id1);
	ASSERT_EQ(0, query(self->dev, REGION, PLANE_PRIMARY, &plane));
	expect_no_plane(_metadata, &plane, "panned REGION");

	/* Its dma-buf starts at the plane's offset in VRAM. */
	ASSERT_EQ(13, vfio_region_write(self->dev, MGPU_VRAM, size,
					"second buffer", 13));
	ASSERT_EQ(12, vfio_region_write(self->dev, MGPU_VRAM, 0, "first buffer", 12));
	ASSERT_EQ(0, get_dmabuf(self, 0, id1, size));
	EXPECT_EQ(0, memcmp(self->map[0], "second buffer", 13));
	/* The id names its layout, whatever the guest shows now. */
	ASSERT_EQ(0, get_dmabuf(self, 1, id0, size));
	EXPECT_EQ(0, memcmp(self->map[1], "first buffer", 12));

	/* Not page aligned: no DMABUF plane. */
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_Y_OFFSET, 1));
	ASSERT_EQ(0, query(self->dev, DMABUF, PLANE_PRIMARY, &plane));
	expect_no_plane(_metadata, &plane, "DMABUF at 2560 bytes");
}

/* Ids survive a reset; closing forgets them, and numbering goes on. */
TEST_F(display, dmabuf_ids_lifetime)
{
	struct vfio_device_gfx_plane_info plane;
	__u32 id, id2;
	int fd;

	if (_metadata->skip)
		return;
	if (mgpu_pci_mode())
		SKIP(return, NO_DMABUF);
	dmabuf_mode(_metadata, self->dev, &mode_640x480x32, &plane);
	id = plane.dmabuf_id;
	ASSERT_NE(0U, id);

	ASSERT_EQ(0, vfio_device_reset(self->dev));
	ASSERT_EQ(0, query(self->dev, DMABUF, PLANE_PRIMARY, &plane));
	expect_no_plane(_metadata, &plane, "after reset");
	fd = vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &id);
	EXPECT_LE(0, fd) TH_LOG("GET_GFX_DMABUF after reset: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
	show_mode(_metadata, self->dev, &mode_640x480x32, DMABUF, &plane);
	EXPECT_EQ(id, plane.dmabuf_id);

	vfio_client_close(&self->v);
	ASSERT_EQ(0, vfio_client_open(&self->v, self->uuid));
	self->dev = self->v.device;
	EXPECT_EQ(-ENOENT, vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &id));
	show_mode(_metadata, self->dev, &mode_640x480x32, DMABUF, &plane);
	id2 = plane.dmabuf_id;
	EXPECT_LT(id, id2);
}

/* 16 layouts are remembered; a 17th makes the oldest id unknown. */
TEST_F(display, dmabuf_ids_bounded)
{
	struct vfio_device_gfx_plane_info plane;
	struct mgpu_mode mode = mode_640x480x32;
	__u32 first, last = 0;
	unsigned int i;
	int fd;

	if (_metadata->skip)
		return;
	if (mgpu_pci_mode())
		SKIP(return, NO_DMABUF);
	dmabuf_mode(_metadata, self->dev, &mode, &plane);
	first = plane.dmabuf_id;
	for (i = 1; i <= 16; i++) {
		if (i == 16) {
			/* 15 others seen: the first is still known. */
			fd = vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &first);
			EXPECT_LE(0, fd);
			if (fd >= 0)
				close(fd);
		}
		mode.xres = 320 + 8 * i;
		show_mode(_metadata, self->dev, &mode, DMABUF, &plane);
		EXPECT_LT(last, plane.dmabuf_id);
		EXPECT_NE(first, plane.dmabuf_id);
		last = plane.dmabuf_id;
	}
	EXPECT_EQ(-ENOENT, vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &first));
	fd = vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &last);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	/* The first layout again: a new id. */
	mode.xres = 640;
	show_mode(_metadata, self->dev, &mode, DMABUF, &plane);
	EXPECT_LT(last, plane.dmabuf_id);
}

/* A dma-buf holds its pages only: it outlives the close and the removal. */
TEST_F(display, dmabuf_outlives_instance)
{
	const size_t size = plane_640x480x32.size;
	struct vfio_device_gfx_plane_info plane;
	__u8 *m;

	if (_metadata->skip)
		return;
	if (mgpu_pci_mode())
		SKIP(return, NO_DMABUF);
	dmabuf_mode(_metadata, self->dev, &mode_640x480x32, &plane);
	ASSERT_EQ(8, vfio_region_write(self->dev, MGPU_VRAM, 64, "survivor", 8));
	ASSERT_EQ(0, get_dmabuf(self, 0, plane.dmabuf_id, size));
	m = self->map[0];

	vfio_client_close(&self->v);
	EXPECT_EQ(0, memcmp(m + 64, "survivor", 8));
	/* A dma-buf holding the device would make this wait: bounded. */
	ASSERT_EQ(0, mgpu_remove(self->uuid, REMOVE_MS));
	EXPECT_FALSE(mdev_exists(self->uuid));
	EXPECT_EQ(0, memcmp(m + 64, "survivor", 8));
	memcpy(m + size - 4, "late", 4);
	EXPECT_EQ(0, memcmp(m + size - 4, "late", 4));
	/* The slices are free again although the pages live on. */
	EXPECT_EQ(1, mgpu_available(variant->gpu, MGPU_FULL));
}

int main(int argc, char **argv)
{
	mgpu_ready = !mgpu_env_init(mgpu_why, sizeof(mgpu_why));
	return test_harness_run(argc, argv);
}
