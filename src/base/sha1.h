/*
 * sha1.h - SHA-1 (FIPS 180-4) of a byte string, as lowercase hex.
 *
 * Only for naming things the way Redis does (a script's SHA1 for EVALSHA,
 * redis.sha1hex); never for integrity, which is XXH3's job in kevy's files.
 */
#ifndef KV_SHA1_H
#define KV_SHA1_H

#include <stddef.h>
#include <stdint.h>

/* The digest of data[0..len) into out (20 bytes). */
void sha1_digest(const void *data, size_t len, uint8_t out[20]);
/* The digest as 40 lowercase hex characters and a NUL, into hex. */
void sha1_hex(const void *data, size_t len, char hex[41]);

#endif
