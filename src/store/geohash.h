/*
 * geohash.h - the geometry behind the geo commands, bit for bit as Redis 7.0
 * computes it: a point's 52-bit interleaved geohash (its sorted set score),
 * decoding a score back to the centre of its cell, the great-circle
 * distance, and the set of up to nine cells a radius or box search reads.
 *
 * A geo set is a plain sorted set whose scores are these hashes; this
 * module knows nothing of sorted sets or commands (commands/cmd_geo.c).
 * Every result must equal Redis's to the last bit (scores, distances,
 * decoded coordinates), so the arithmetic follows Redis's order of
 * operations; the build uses ISO C, which keeps GCC from fusing a
 * multiply and an add into one rounding.
 */
#ifndef KV_GEOHASH_H
#define KV_GEOHASH_H

#include <stdbool.h>
#include <stdint.h>

/* What a geohash can index (Web Mercator's limits, as Redis). */
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_LONG_MIN -180.0
#define GEO_LONG_MAX 180.0
/* Bits per coordinate of a stored score: 2 * 26 = 52 bits. */
#define GEO_STEP_MAX 26

/* A hash of `step` bits per coordinate (latitude in the odd bits...
 * interleaved as Redis does); step 0 with bits 0 is "no cell". */
struct geohash {
	uint64_t bits;
	uint8_t step;
};

/* A point's cell at `step` bits per coordinate within the given ranges.
 * Returns false when the point lies outside them or outside the indexable
 * area (then *h is untouched). */
bool geohash_encode(double lon_min, double lon_max, double lat_min, double lat_max,
		    double lon, double lat, uint8_t step, struct geohash *h);

/* The sorted set score of a point (already checked to be indexable):
 * its 26-step hash in the standard ranges. */
uint64_t geo_score_of(double lon, double lat);

/* The centre of the 26-step cell a score names (the score truncated to an
 * integer, as Redis casts it), clamped to the indexable area: xy[0] is the
 * longitude, xy[1] the latitude.  False for a score that names no cell. */
bool geo_score_decode(double score, double xy[2]);

/* Great-circle distance in meters (haversine on Redis's Earth radius). */
double geo_distance(double lon1, double lat1, double lon2, double lat2);

/* The 11-character standard geohash (latitude range -90..90) of the point
 * a score names, as GEOHASH replies; buf gets 11 bytes, no NUL.  False when
 * the score names no cell. */
bool geo_score_to_string(double score, char buf[11]);

/* A search area: a circle (radius) or an axis-aligned box (width x height)
 * around xy, in the request's unit; `to_meters` converts that unit. */
enum geo_shape_kind { GEO_SHAPE_CIRCLE = 1, GEO_SHAPE_BOX = 2 };
struct geo_shape {
	enum geo_shape_kind kind;
	double xy[2];
	double to_meters;
	double radius;
	double width, height;
};

/* The cells a search reads, in Redis's order: the centre cell, then north,
 * south, east, west, north-east, north-west, south-east, south-west; a cell
 * that cannot hold a match has step 0 (skip it). */
struct geo_cells {
	struct geohash cell[9];
};
void geo_cells_for(const struct geo_shape *s, struct geo_cells *out);

/* The score range [*min, *max) of the members inside a cell. */
void geo_cell_scores(struct geohash cell, uint64_t *min, uint64_t *max);

/* Whether the member with this score lies inside the shape: on true, xy is
 * its decoded position and *dist_m its distance in meters from the centre. */
bool geo_within(const struct geo_shape *s, double score, double xy[2], double *dist_m);

#endif
