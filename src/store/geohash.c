/*
 * geohash.c - geohash encoding, decoding, neighbours, the cells of a search
 * and distances, computed as Redis 7.0 computes them (see geohash.h).
 *
 * The hash of a point at `step` bits per coordinate: the latitude and the
 * longitude are each scaled to a fixed-point fraction of their range,
 * truncated to `step` bits, and interleaved with the latitude's bits in the
 * even positions and the longitude's in the odd ones.  A stored score is the
 * 26-step hash: 52 bits, exact in a double.
 *
 * Searches read whole cells: the step is chosen from the search radius so
 * that the centre cell and its eight neighbours cover the area, then cells
 * that lie wholly outside the area's bounding box are dropped.  Each cell is
 * a contiguous score range, and every candidate is checked against the
 * exact shape (geo_within).
 */
#include "store/geohash.h"

#include <math.h>
#include <stddef.h>

#define DEG_PER_RAD_DIVISOR (M_PI / 180.0)
/* Redis's Earth radius (the quadratic mean radius of WGS-84), in meters. */
#define EARTH_RADIUS_M 6372797.560856
/* Half the Mercator world width in meters: the step estimation's scale. */
#define MERCATOR_MAX_M 20037726.37

static double deg_to_rad(double deg) { return deg * DEG_PER_RAD_DIVISOR; }
static double rad_to_deg(double rad) { return rad / DEG_PER_RAD_DIVISOR; }

/* Spreads the 32 bits of v to the even bit positions of a 64-bit word. */
static uint64_t spread_bits(uint32_t v)
{
	uint64_t x = v;
	x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
	x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
	x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
	x = (x | (x << 2)) & 0x3333333333333333ULL;
	x = (x | (x << 1)) & 0x5555555555555555ULL;
	return x;
}

/* The inverse of spread_bits: the even bits of x, packed. */
static uint32_t gather_bits(uint64_t x)
{
	x &= 0x5555555555555555ULL;
	x = (x | (x >> 1)) & 0x3333333333333333ULL;
	x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
	x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
	x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
	x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
	return (uint32_t)x;
}

bool geohash_encode(double lon_min, double lon_max, double lat_min, double lat_max,
		    double lon, double lat, uint8_t step, struct geohash *h)
{
	if (step == 0 || step > 32)
		return false;
	if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
		return false;
	if (lat < lat_min || lat > lat_max || lon < lon_min || lon > lon_max)
		return false;
	double lat_frac = (lat - lat_min) / (lat_max - lat_min);
	double lon_frac = (lon - lon_min) / (lon_max - lon_min);
	lat_frac *= (double)(1ULL << step);
	lon_frac *= (double)(1ULL << step);
	/* Truncation to the cell index, as a conversion to uint32_t does. */
	h->bits = spread_bits((uint32_t)lat_frac) | (spread_bits((uint32_t)lon_frac) << 1);
	h->step = step;
	return true;
}

uint64_t geo_score_of(double lon, double lat)
{
	struct geohash h = { 0, GEO_STEP_MAX };
	geohash_encode(GEO_LONG_MIN, GEO_LONG_MAX, GEO_LAT_MIN, GEO_LAT_MAX, lon, lat,
		       GEO_STEP_MAX, &h);
	return h.bits;
}

/* The bounds of a cell in the standard ranges: lon[0..1], lat[0..1]. */
struct cell_box {
	double lon_min, lon_max, lat_min, lat_max;
};

static void cell_box_of(struct geohash h, struct cell_box *b)
{
	uint32_t ilat = gather_bits(h.bits);
	uint32_t ilon = gather_bits(h.bits >> 1);
	double cells = (double)(1ULL << h.step);
	double lat_scale = GEO_LAT_MAX - GEO_LAT_MIN;
	double lon_scale = GEO_LONG_MAX - GEO_LONG_MIN;
	b->lat_min = GEO_LAT_MIN + (ilat * 1.0 / cells) * lat_scale;
	b->lat_max = GEO_LAT_MIN + ((ilat + 1) * 1.0 / cells) * lat_scale;
	b->lon_min = GEO_LONG_MIN + (ilon * 1.0 / cells) * lon_scale;
	b->lon_max = GEO_LONG_MIN + ((ilon + 1) * 1.0 / cells) * lon_scale;
}

/* A score as Redis's (uint64_t)score gives it on x86-64 with GCC, without
 * the undefined behaviour for scores that are no hash: below 2^63 the
 * conversion goes through int64_t (so -0.5 is 0 and -1 is all ones, and
 * below -2^63, -inf included, it is x86's "integer indefinite"
 * 0x8000000000000000); from 2^63 it converts score - 2^63 and flips the top
 * bit, so 2^64 and above (inf included) give 0.  Found by the differential
 * test: GEODIST/GEOPOS on a sorted set with such scores. */
static uint64_t score_bits(double score)
{
	if (score != score)
		return 0x8000000000000000ULL;
	if (score < 9223372036854775808.0) {
		if (score < -9223372036854775808.0)
			return 0x8000000000000000ULL;
		return (uint64_t)(int64_t)score;
	}
	if (score < 18446744073709551616.0)
		return (uint64_t)score;
	return 0;
}

bool geo_score_decode(double score, double xy[2])
{
	struct geohash h = { score_bits(score), GEO_STEP_MAX };
	struct cell_box b;
	cell_box_of(h, &b);
	xy[0] = (b.lon_min + b.lon_max) / 2;
	if (xy[0] > GEO_LONG_MAX) xy[0] = GEO_LONG_MAX;
	if (xy[0] < GEO_LONG_MIN) xy[0] = GEO_LONG_MIN;
	xy[1] = (b.lat_min + b.lat_max) / 2;
	if (xy[1] > GEO_LAT_MAX) xy[1] = GEO_LAT_MAX;
	if (xy[1] < GEO_LAT_MIN) xy[1] = GEO_LAT_MIN;
	return true;
}

/* Distance along a meridian (the longitudes are equal). */
static double lat_distance(double lat1, double lat2)
{
	return EARTH_RADIUS_M * fabs(deg_to_rad(lat2) - deg_to_rad(lat1));
}

double geo_distance(double lon1, double lat1, double lon2, double lat2)
{
	double lon1r = deg_to_rad(lon1), lon2r = deg_to_rad(lon2);
	double v = sin((lon2r - lon1r) / 2);
	/* Same longitude: the haversine reduces to the latitude difference. */
	if (v == 0.0)
		return lat_distance(lat1, lat2);
	double lat1r = deg_to_rad(lat1), lat2r = deg_to_rad(lat2);
	double u = sin((lat2r - lat1r) / 2);
	double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
	return 2.0 * EARTH_RADIUS_M * asin(sqrt(a));
}

bool geo_score_to_string(double score, char buf[11])
{
	static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
	double xy[2];
	if (!geo_score_decode(score, xy))
		return false;
	struct geohash h = { 0, GEO_STEP_MAX };
	geohash_encode(-180, 180, -90, 90, xy[0], xy[1], GEO_STEP_MAX, &h);
	for (int i = 0; i < 10; i++)
		buf[i] = alphabet[(h.bits >> (52 - (i + 1) * 5)) & 0x1f];
	/* 52 bits make ten characters and two bits; the eleventh is 0, as in
	 * Redis, for the length clients expect. */
	buf[10] = '0';
	return true;
}

/* ---- the cells of a search ---- */

/* Moves a cell by one along the longitude (the odd bits). */
static void move_lon(struct geohash *h, int d)
{
	uint64_t lon = h->bits & 0xaaaaaaaaaaaaaaaaULL;
	uint64_t lat = h->bits & 0x5555555555555555ULL;
	/* The other coordinate's bits set, so a carry or borrow crosses them. */
	uint64_t fill = 0x5555555555555555ULL >> (64 - h->step * 2);
	if (d > 0)
		lon = lon + (fill + 1);
	else
		lon = (lon | fill) - (fill + 1);
	lon &= 0xaaaaaaaaaaaaaaaaULL >> (64 - h->step * 2);
	h->bits = lon | lat;
}

/* Moves a cell by one along the latitude (the even bits). */
static void move_lat(struct geohash *h, int d)
{
	uint64_t lon = h->bits & 0xaaaaaaaaaaaaaaaaULL;
	uint64_t lat = h->bits & 0x5555555555555555ULL;
	uint64_t fill = 0xaaaaaaaaaaaaaaaaULL >> (64 - h->step * 2);
	if (d > 0)
		lat = lat + (fill + 1);
	else
		lat = (lat | fill) - (fill + 1);
	lat &= 0x5555555555555555ULL >> (64 - h->step * 2);
	h->bits = lon | lat;
}

/* Cell indexes in struct geo_cells. */
enum { C_SELF, C_N, C_S, C_E, C_W, C_NE, C_NW, C_SE, C_SW };

static void neighbours(struct geohash centre, struct geo_cells *out)
{
	static const signed char dlon[9] = { 0, 0, 0, 1, -1, 1, -1, 1, -1 };
	static const signed char dlat[9] = { 0, 1, -1, 0, 0, 1, 1, -1, -1 };
	for (int i = 0; i < 9; i++) {
		out->cell[i] = centre;
		if (dlon[i])
			move_lon(&out->cell[i], dlon[i]);
		if (dlat[i])
			move_lat(&out->cell[i], dlat[i]);
	}
}

/* The step whose cells are about as large as the radius; wider near the
 * poles, where a degree of longitude is short. */
static uint8_t step_for_radius(double range_m, double lat)
{
	if (range_m == 0)
		return 26;
	int step = 1;
	while (range_m < MERCATOR_MAX_M) {
		range_m *= 2;
		step++;
	}
	step -= 2;
	if (lat > 66 || lat < -66) {
		step--;
		if (lat > 80 || lat < -80)
			step--;
	}
	if (step < 1) step = 1;
	if (step > 26) step = 26;
	return (uint8_t)step;
}

/* The bounding box of the shape: lon_min, lat_min, lon_max, lat_max.  The
 * longitude half-width is taken at the edge nearer the pole (wider). */
static void shape_bounds(const struct geo_shape *s, struct cell_box *b)
{
	double lon = s->xy[0], lat = s->xy[1];
	bool circle = s->kind == GEO_SHAPE_CIRCLE;
	double height = s->to_meters * (circle ? s->radius : s->height / 2);
	double width = s->to_meters * (circle ? s->radius : s->width / 2);
	double lat_delta = rad_to_deg(height / EARTH_RADIUS_M);
	double lon_delta_top = rad_to_deg(width / EARTH_RADIUS_M / cos(deg_to_rad(lat + lat_delta)));
	double lon_delta_bottom = rad_to_deg(width / EARTH_RADIUS_M / cos(deg_to_rad(lat - lat_delta)));
	bool south = lat < 0;
	b->lon_min = south ? lon - lon_delta_bottom : lon - lon_delta_top;
	b->lon_max = south ? lon + lon_delta_bottom : lon + lon_delta_top;
	b->lat_min = lat - lat_delta;
	b->lat_max = lat + lat_delta;
}

static struct geohash centre_cell(const struct geo_shape *s, uint8_t step)
{
	struct geohash h = { 0, step };
	geohash_encode(GEO_LONG_MIN, GEO_LONG_MAX, GEO_LAT_MIN, GEO_LAT_MAX, s->xy[0], s->xy[1],
		       step, &h);
	return h;
}

static const struct geohash no_cell = { 0, 0 };

void geo_cells_for(const struct geo_shape *s, struct geo_cells *out)
{
	struct cell_box bb;
	shape_bounds(s, &bb);
	double radius_m = s->kind == GEO_SHAPE_CIRCLE
		? s->radius
		: sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2));
	radius_m *= s->to_meters;
	uint8_t step = step_for_radius(radius_m, s->xy[1]);
	struct geohash centre = centre_cell(s, step);
	neighbours(centre, out);

	/* A neighbour that ends inside the bounding box leaves part of it
	 * uncovered: one step coarser doubles every cell. */
	struct cell_box n, so, e, w;
	cell_box_of(out->cell[C_N], &n);
	cell_box_of(out->cell[C_S], &so);
	cell_box_of(out->cell[C_E], &e);
	cell_box_of(out->cell[C_W], &w);
	bool coarser = n.lat_max < bb.lat_max || so.lat_min > bb.lat_min ||
		       e.lon_max < bb.lon_max || w.lon_min > bb.lon_min;
	if (step > 1 && coarser) {
		step--;
		centre = centre_cell(s, step);
		neighbours(centre, out);
	}

	/* Drop the rows and columns of neighbours beyond the bounding box. */
	if (step >= 2) {
		struct cell_box c;
		cell_box_of(centre, &c);
		if (c.lat_min < bb.lat_min)
			out->cell[C_S] = out->cell[C_SW] = out->cell[C_SE] = no_cell;
		if (c.lat_max > bb.lat_max)
			out->cell[C_N] = out->cell[C_NE] = out->cell[C_NW] = no_cell;
		if (c.lon_min < bb.lon_min)
			out->cell[C_W] = out->cell[C_SW] = out->cell[C_NW] = no_cell;
		if (c.lon_max > bb.lon_max)
			out->cell[C_E] = out->cell[C_SE] = out->cell[C_NE] = no_cell;
	}
}

void geo_cell_scores(struct geohash cell, uint64_t *min, uint64_t *max)
{
	int shift = 52 - cell.step * 2;
	*min = cell.bits << shift;
	*max = (cell.bits + 1) << shift;
}

bool geo_within(const struct geo_shape *s, double score, double xy[2], double *dist_m)
{
	if (!geo_score_decode(score, xy))
		return false;
	if (s->kind == GEO_SHAPE_CIRCLE) {
		*dist_m = geo_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
		return !(*dist_m > s->radius * s->to_meters);
	}
	double width_m = s->width * s->to_meters, height_m = s->height * s->to_meters;
	/* The latitude test is the cheaper one. */
	if (lat_distance(xy[1], s->xy[1]) > height_m / 2)
		return false;
	if (geo_distance(xy[0], xy[1], s->xy[0], xy[1]) > width_m / 2)
		return false;
	*dist_m = geo_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
	return true;
}
