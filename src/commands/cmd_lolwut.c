/*
 * cmd_lolwut.c - LOLWUT [VERSION v] [args...]: the version line, or the
 * computer art Redis 5 and 6 draw, with Redis 7.0's arguments and limits.
 *
 * As Redis: without VERSION (or any version but 5 and 6) the reply is
 * "Redis ver. 7.0.15\n"; VERSION 5 draws Georg Nees's "Schotter" (a grid
 * of squares, turned and shifted more at random the lower the row, drawn
 * with Bresenham lines on a 1-bit canvas and printed as Braille characters,
 * 2x4 pixels each) from [columns] [squares-per-row] [squares-per-col]
 * (66 8 12; clamped to 1..1000, 1..200, 1..200); VERSION 6 draws a city
 * skyline (two grey layers of plain towers behind black towers with lit
 * windows, printed with ANSI colour escapes, one space per pixel) from
 * [columns] [rows] (80 20; each clamped to 1..1000).  Each ends with its
 * credit line and the version.  The drawings are random, so only their
 * shape and the text around them can be compared with Redis's.
 *
 * The reply is a verbatim string ("txt") in RESP3, a bulk string in RESP2.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "commands/cmd.h"
#include "proto/resp.h"

/* ---- a canvas of small colour numbers ---- */

struct lw_canvas {
	int width, height;
	unsigned char *px;
};

static void lw_init(struct lw_canvas *c, int width, int height, int bg)
{
	c->width = width;
	c->height = height;
	c->px = kv_malloc((size_t)width * (size_t)height);
	memset(c->px, bg, (size_t)width * (size_t)height);
}

static void lw_set(struct lw_canvas *c, int x, int y, int color)
{
	if (x >= 0 && y >= 0 && x < c->width && y < c->height)
		c->px[(size_t)y * (size_t)c->width + (size_t)x] = (unsigned char)color;
}

static int lw_get(const struct lw_canvas *c, int x, int y)
{
	if (x < 0 || y < 0 || x >= c->width || y >= c->height)
		return 0;
	return c->px[(size_t)y * (size_t)c->width + (size_t)x];
}

/* Bresenham's line from (x0, y0) to (x1, y1), both ends included. */
static void lw_line(struct lw_canvas *c, int x0, int y0, int x1, int y1, int color)
{
	int dx = abs(x1 - x0), dy = -abs(y1 - y0);
	int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
	int err = dx + dy;
	for (;;) {
		lw_set(c, x0, y0, color);
		if (x0 == x1 && y0 == y1)
			return;
		int e2 = 2 * err;
		if (e2 >= dy) {
			err += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			err += dx;
			y0 += sy;
		}
	}
}

/* A square of side `side` centred on (x, y), turned by `angle` radians:
 * its corners sit on the circle through them, a quarter turn apart. */
static void lw_square(struct lw_canvas *c, int x, int y, float side, float angle, int color)
{
	int px[4], py[4];
	float radius = side / 2.0f * (float)M_SQRT2;
	for (int k = 0; k < 4; k++) {
		float a = (float)M_PI / 4.0f + angle + (float)M_PI / 2.0f * (float)k;
		px[k] = (int)lroundf(sinf(a) * radius) + x;
		py[k] = (int)lroundf(cosf(a) * radius) + y;
	}
	for (int k = 0; k < 4; k++)
		lw_line(c, px[k], py[k], px[(k + 1) % 4], py[(k + 1) % 4], color);
}

static float lw_rand_unit(void)
{
	return (float)rand() / (float)RAND_MAX;
}

/* ---- version 5: Schotter ---- */

static void lw_schotter(struct lw_canvas *c, int cols, int per_row, int per_col)
{
	int width = cols * 2;
	int pad = width > 4 ? 2 : 0;
	float side = (float)(width - pad * 2) / (float)per_row;
	lw_init(c, width, (int)(side * (float)per_col) + pad * 2, 0);
	for (int y = 0; y < per_col; y++) {
		for (int x = 0; x < per_row; x++) {
			int sx = (int)((float)x * side + side / 2) + pad;
			int sy = (int)((float)y * side + side / 2) + pad;
			float angle = 0;
			if (y > 1) {
				/* Disorder grows with the row. */
				float r[3];
				for (int k = 0; k < 3; k++)
					r[k] = lw_rand_unit() / (float)per_col * (float)y;
				for (int k = 0; k < 3; k++)
					if (rand() % 2)
						r[k] = -r[k];
				angle = r[0];
				sx += (int)(r[1] * side / 3);
				sy += (int)(r[2] * side / 3);
			}
			lw_square(c, sx, sy, side, angle, 1);
		}
	}
}

/* Braille: each character is 2x4 pixels; dot bits 0-2 and 6 are the left
 * column top to bottom, 3-5 and 7 the right one (U+2800 + bits, UTF-8). */
static void lw_render_braille(const struct lw_canvas *c, struct kv_buf *out)
{
	static const int dot[2][4] = { { 0, 1, 2, 6 }, { 3, 4, 5, 7 } };
	for (int y = 0; y < c->height; y += 4) {
		for (int x = 0; x < c->width; x += 2) {
			int bits = 0;
			for (int col = 0; col < 2; col++)
				for (int row = 0; row < 4; row++)
					if (lw_get(c, x + col, y + row))
						bits |= 1 << dot[col][row];
			int code = 0x2800 + bits;
			char u[3] = { (char)(0xE0 | (code >> 12)), (char)(0x80 | ((code >> 6) & 0x3F)),
				      (char)(0x80 | (code & 0x3F)) };
			kv_buf_append(out, u, 3);
		}
		if (y != c->height - 1)
			kv_buf_append_char(out, '\n');
	}
}

/* ---- version 6: a skyline ---- */

struct lw_tower {
	int xoff, width, height, color;
	bool windows;
};

static void lw_tower(struct lw_canvas *c, const struct lw_tower *t)
{
	int bottom = c->height - 1;
	int top = bottom - t->height + 1;
	for (int y = bottom; y >= top; y--) {
		for (int x = t->xoff; x < t->xoff + t->width; x++) {
			/* The roof is two pixels narrower on each side. */
			if (y == top && (x <= t->xoff + 1 || x >= t->xoff + t->width - 2))
				continue;
			int color = t->color;
			bool inner = x > t->xoff + 1 && x < t->xoff + t->width - 2 && y > top + 1 &&
				     y < bottom - 1;
			if (t->windows && inner) {
				int relx = x - (t->xoff + 1), rely = y - (top + 1);
				/* Windows two pixels wide and one tall (terminal cells
				 * are tall), lit in either grey. */
				if ((relx / 2) % 2 && rely % 2) {
					do
						color = 1 + rand() % 2;
					while (color == t->color);
					if (relx % 2)
						color = lw_get(c, x - 1, y);
				}
			}
			lw_set(c, x, y, color);
		}
	}
}

static void lw_skyline(struct lw_canvas *c)
{
	struct lw_tower t = { 0 };
	/* Light grey towers first, then dark grey ones in front of them. */
	for (int color = 2; color >= 1; color--) {
		t.color = color;
		for (int off = -10; off < c->width;) {
			off += rand() % 8;
			t.xoff = off;
			t.width = 10 + rand() % 9;
			t.height = c->height / 2 + rand() % c->height / (color == 2 ? 2 : 3);
			t.windows = false;
			lw_tower(c, &t);
			off += color == 2 ? t.width / 2 : t.width + 1;
		}
	}
	t.color = 0;
	for (int off = -10; off < c->width;) {
		off += rand() % 8;
		t.xoff = off;
		t.width = 5 + rand() % 14;
		if (t.width % 4)
			t.width += t.width % 3;
		t.height = c->height / 3 + rand() % c->height / 2;
		t.windows = true;
		lw_tower(c, &t);
		off += t.width + 5;
	}
}

static void lw_render_ansi(const struct lw_canvas *c, struct kv_buf *out)
{
	static const char *const esc[4] = { "0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m" };
	for (int y = 0; y < c->height; y++) {
		for (int x = 0; x < c->width; x++) {
			int color = lw_get(c, x, y);
			kv_buf_printf(out, "\033[%s \033[0m", esc[color >= 0 && color <= 3 ? color : 0]);
		}
		if (y != c->height - 1)
			kv_buf_append_char(out, '\n');
	}
}

/* ---- the command ---- */

static int64_t lw_clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The integer arguments after the version: false after the error reply. */
static bool lw_args(struct cmd_ctx *c, int first, int64_t *v, int n)
{
	for (int i = 0; i < n && first + i < c->argc; i++) {
		if (!arg_to_int64(&c->argv[first + i], &v[i])) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return false;
		}
	}
	return true;
}

static void cmd_lolwut(struct cmd_ctx *c)
{
	int64_t version = 7;
	int first = 1;
	if (c->argc >= 3 && arg_is(&c->argv[1], "version")) {
		if (!arg_to_int64(&c->argv[2], &version)) {
			resp_error(c->out, RESP_ERR_NOT_INT);
			return;
		}
		first = 3;
	}
	/* Redis compares the version as the text "<v>.0.0", unsigned. */
	unsigned v = (unsigned)version;
	struct kv_buf art = KV_BUF_INIT;
	struct lw_canvas canvas = { 0 };
	if (v == 5) {
		int64_t a[3] = { 66, 8, 12 };
		if (!lw_args(c, first, a, 3))
			return;
		lw_schotter(&canvas, (int)lw_clamp(a[0], 1, 1000), (int)lw_clamp(a[1], 1, 200),
			    (int)lw_clamp(a[2], 1, 200));
		lw_render_braille(&canvas, &art);
		kv_buf_append_str(&art, "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
	} else if (v == 6) {
		int64_t a[2] = { 80, 20 };
		if (!lw_args(c, first, a, 2))
			return;
		lw_init(&canvas, (int)lw_clamp(a[0], 1, 1000), (int)lw_clamp(a[1], 1, 1000), 3);
		lw_skyline(&canvas);
		lw_render_ansi(&canvas, &art);
		kv_buf_append_str(&art, "\nDedicated to the 8 bit game developers of past and present.\n"
					"Original 8 bit image from Plaguemon by hikikomori. Redis ver. ");
	} else {
		kv_buf_append_str(&art, "Redis ver. ");
	}
	kv_buf_append_str(&art, KV_REDIS_COMPAT_VERSION "\n");
	resp_verbatim(c->out, "txt", art.data, art.len);
	kv_buf_free(&art);
	free(canvas.px);
}

const struct kv_command cmd_table_lolwut[] = {
	{ .name = "lolwut", .arity = -1, .flags = CMD_READONLY | CMD_FAST | CMD_LOCAL,
	  .proc = cmd_lolwut, .group = "server", .since = "5.0.0",
	  .summary = "Display some computer art and the Redis version", .complexity = NULL },
	{ .name = NULL },
};
