// SPDX-License-Identifier: GPL-2.0
/*
 * mgpu-draw.c - a small VFIO client that draws a picture on an mgpu
 * instance with its compute engine only: the CPU never writes the
 * framebuffer.  It opens the instance as QEMU does (a type1 container),
 * maps a buffer of "guest RAM" into the container, and queues engine
 * commands: FILLs for the background and a disc, FILL + BLIT with a source
 * pitch of 0 for colour bars, a sprite drawn in guest RAM pulled into VRAM
 * with COPY_FROM_RAM and placed with BLIT, and a FENCE.  Then it reads the
 * framebuffer back, checks pixels of every part against what was asked
 * and writes it as a PNG.
 *
 * Usage: mgpu-draw UUID OUTPUT.png
 * Build: see tools/testing/demo (it links the selftests' VFIO client).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"
#include "mgpu_engine_lib.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

#define WIDTH		640
#define HEIGHT		480
#define STRIDE		(WIDTH * 4)
#define FB_SIZE		(STRIDE * HEIGHT)
#define FRAME		8
#define BARS		8
#define SPRITE_W	256
#define SPRITE_H	128
#define SPRITE_X	192
#define SPRITE_Y	320
#define DISC_R		(HEIGHT / 5)
#define RING_ENTRIES	1024
#define IOVA		0x100000ULL
#define RAM_SIZE	0x100000
#define MAX_CMDS	1000

static const __u32 bar_colour[BARS] = {
	0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
	0xff00ff, 0xff0000, 0x0000ff, 0x202020,
};

static const __u32 frame_colour = 0x101040;
static const __u32 disc_colour = 0xf0f0f0;

static struct mgpu_cmd cmds[MAX_CMDS];
static unsigned int ncmds;

static void emit(struct mgpu_cmd cmd)
{
	if (ncmds < MAX_CMDS)
		cmds[ncmds++] = cmd;
}

static __u32 sprite_pixel(unsigned int x, unsigned int y)
{
	return (x * 255 / SPRITE_W) << 16 | (y * 255 / SPRITE_H) << 8 | 0x80;
}

static int disc_half_width(int dy)
{
	int w = 0;

	while ((w + 1) * (w + 1) + dy * dy <= DISC_R * DISC_R)
		w++;
	return w;
}

/* What the framebuffer must hold at (x, y), as the commands below draw it. */
static __u32 expected(unsigned int x, unsigned int y)
{
	int dy = (int)y - HEIGHT / 2 + HEIGHT / 8, dx = (int)x - WIDTH / 2;
	unsigned int bw = (WIDTH - 2 * FRAME) / BARS;

	if (x >= SPRITE_X && x < SPRITE_X + SPRITE_W && y >= SPRITE_Y &&
	    y < SPRITE_Y + SPRITE_H)
		return sprite_pixel(x - SPRITE_X, y - SPRITE_Y);
	if (dy > -DISC_R && dy < DISC_R && dx >= -disc_half_width(dy) &&
	    dx < disc_half_width(dy))
		return disc_colour;
	if (x < FRAME || y < FRAME || y >= HEIGHT - FRAME ||
	    x >= FRAME + BARS * bw)
		return frame_colour;
	return bar_colour[(x - FRAME) / bw];
}

static void draw(__u64 fb, __u64 scratch, __u32 *ram)
{
	unsigned int bw = (WIDTH - 2 * FRAME) / BARS, i, x, y;
	int dy;

	emit(cmd_fill(fb, FB_SIZE, frame_colour));
	/* a bar: one row filled in scratch, repeated down by a BLIT */
	for (i = 0; i < BARS; i++) {
		__u64 row = scratch + i * 4096;

		emit(cmd_fill(row, bw * 4, bar_colour[i]));
		emit(cmd_blit(fb + FRAME * STRIDE + (FRAME + i * bw) * 4,
			      STRIDE, row, 0, bw * 4, HEIGHT - 2 * FRAME));
	}
	/* a disc: one FILL per row */
	for (dy = -DISC_R + 1; dy < DISC_R; dy++) {
		int w = disc_half_width(dy);

		y = HEIGHT / 2 - HEIGHT / 8 + dy;
		if (w)
			emit(cmd_fill(fb + y * STRIDE + (WIDTH / 2 - w) * 4,
				      2 * w * 4, disc_colour));
	}
	/* a sprite the "guest" drew in its RAM, pulled in and placed */
	for (y = 0; y < SPRITE_H; y++)
		for (x = 0; x < SPRITE_W; x++)
			ram[y * SPRITE_W + x] = sprite_pixel(x, y);
	emit(cmd_from_ram(scratch + 64 * 1024, IOVA, SPRITE_W * SPRITE_H * 4));
	emit(cmd_blit(fb + SPRITE_Y * STRIDE + SPRITE_X * 4, STRIDE,
		      scratch + 64 * 1024, SPRITE_W * 4, SPRITE_W * 4, SPRITE_H));
	emit(cmd_fence(1, MGPU_FENCE_WRITE, scratch + 60 * 1024));
}

/* ---- PNG, uncompressed (stored deflate blocks) --------------------------- */

static __u32 crc_update(__u32 crc, const __u8 *p, size_t len)
{
	size_t i;
	int k;

	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0xedb88320 & -(crc & 1));
	}
	return ~crc;
}

static void put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static int chunk(FILE *f, const char *type, const __u8 *data, size_t len)
{
	__u8 hdr[8], crc[4];
	__u32 c;

	put32(hdr, len);
	memcpy(hdr + 4, type, 4);
	c = crc_update(crc_update(0, hdr + 4, 4), data, len);
	put32(crc, c);
	return fwrite(hdr, 8, 1, f) == 1 && (!len || fwrite(data, len, 1, f) == 1) &&
	       fwrite(crc, 4, 1, f) == 1 ? 0 : -EIO;
}

static int write_png(const char *path, const __u32 *fb)
{
	static const __u8 sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	size_t raw_len = (size_t)HEIGHT * (1 + WIDTH * 3), blocks, z_len, i, n;
	__u8 ihdr[13] = { 0 }, *raw, *z, *p;
	__u32 a = 1, b = 0;
	unsigned int x, y;
	FILE *f;
	int ret;

	raw = malloc(raw_len);
	blocks = (raw_len + 65534) / 65535;
	z_len = 2 + raw_len + 5 * blocks + 4;
	z = malloc(z_len);
	if (!raw || !z)
		return -ENOMEM;
	for (y = 0, p = raw; y < HEIGHT; y++) {
		*p++ = 0;			/* filter: none */
		for (x = 0; x < WIDTH; x++) {
			__u32 px = fb[y * WIDTH + x];

			*p++ = px >> 16;
			*p++ = px >> 8;
			*p++ = px;
		}
	}
	p = z;
	*p++ = 0x78;
	*p++ = 0x01;
	for (i = 0; i < raw_len; i += n) {
		n = raw_len - i < 65535 ? raw_len - i : 65535;
		*p++ = i + n == raw_len;	/* BFINAL, BTYPE stored */
		*p++ = n;
		*p++ = n >> 8;
		*p++ = ~n;
		*p++ = ~n >> 8;
		memcpy(p, raw + i, n);
		p += n;
	}
	for (i = 0; i < raw_len; i++) {
		a = (a + raw[i]) % 65521;
		b = (b + a) % 65521;
	}
	put32(p, b << 16 | a);
	put32(ihdr, WIDTH);
	put32(ihdr + 4, HEIGHT);
	ihdr[8] = 8;				/* bit depth */
	ihdr[9] = 2;				/* RGB */
	f = fopen(path, "wb");
	ret = f ? 0 : -errno;
	if (!ret)
		ret = fwrite(sig, 8, 1, f) == 1 ? 0 : -EIO;
	if (!ret)
		ret = chunk(f, "IHDR", ihdr, sizeof(ihdr));
	if (!ret)
		ret = chunk(f, "IDAT", z, z_len);
	if (!ret)
		ret = chunk(f, "IEND", NULL, 0);
	if (f && fclose(f) && !ret)
		ret = -EIO;
	free(raw);
	free(z);
	return ret;
}

/* ---- main ------------------------------------------------------------------ */

static int check(const __u32 *fb)
{
	unsigned int x, y, bad = 0;

	for (y = 0; y < HEIGHT; y++)
		for (x = 0; x < WIDTH; x++)
			if ((fb[y * WIDTH + x] & 0xffffff) != expected(x, y) &&
			    bad++ < 5)
				fprintf(stderr, "mgpu-draw: (%u,%u) is %06x, not %06x\n",
					x, y, fb[y * WIDTH + x], expected(x, y));
	return bad;
}

int main(int argc, char **argv)
{
	struct vfio_region_info *bar0;
	struct guest_ram ram;
	struct vfio_client v;
	__u64 vram, scratch;
	struct eng e;
	__u32 *fb;
	long st;

	if (argc != 3) {
		fprintf(stderr, "usage: %s UUID OUTPUT.png\n", argv[0]);
		return 2;
	}
	vfio_client_init(&v);
	if (vfio_client_open(&v, argv[1])) {
		fprintf(stderr, "mgpu-draw: cannot open %s (at %s)\n", argv[1],
			v.failed_at);
		return 1;
	}
	if (vfio_region_info(v.device, MGPU_VRAM, &bar0))
		return 1;
	vram = bar0->size;
	free(bar0);
	/* the framebuffer at 0, scratch and the ring at the top of VRAM */
	scratch = vram - (2 << 20);
	if (eng_init(&e, v.device, vram - RING_ENTRIES * MGPU_CMD_SIZE,
		     RING_ENTRIES) ||
	    guest_ram_map(&ram, v.container, IOVA, RAM_SIZE))
		return 1;

	draw(0, scratch, ram.buf);
	printf("mgpu-draw: %u engine commands\n", ncmds);
	if (eng_submit(&e, cmds, ncmds))
		return 1;
	st = eng_wait_idle(&e, 20000);
	if (st || eng_reg_get(v.device, MGPU_ENG_FENCE) != 1) {
		fprintf(stderr, "mgpu-draw: engine status %ld (failed command %ld)\n",
			st, eng_reg_get(v.device, MGPU_ENG_ERROR_CMD));
		return 1;
	}
	printf("mgpu-draw: done, fence 1, %ld commands completed\n",
	       eng_reg_get(v.device, MGPU_ENG_COMPLETED));

	fb = malloc(FB_SIZE);
	if (!fb || vfio_region_read(v.device, MGPU_VRAM, 0, fb, FB_SIZE) !=
		   FB_SIZE)
		return 1;
	if (check(fb)) {
		fprintf(stderr, "mgpu-draw: the picture is not what was drawn\n");
		return 1;
	}
	if (write_png(argv[2], fb)) {
		fprintf(stderr, "mgpu-draw: cannot write %s\n", argv[2]);
		return 1;
	}
	printf("mgpu-draw: every pixel as drawn; wrote %s\n", argv[2]);
	guest_ram_free(&ram);
	vfio_client_close(&v);
	free(fb);
	return 0;
}
