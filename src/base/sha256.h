/*
 * sha256.h - SHA-256 (FIPS 180-4) of a byte string, as lowercase hex.
 *
 * For ACL passwords, which Redis stores and shows as the SHA-256 of the
 * cleartext (ACL GETUSER, ACL LIST, the #<hash> rule); not for integrity.
 */
#ifndef KV_SHA256_H
#define KV_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* The digest of data[0..len) into out (32 bytes). */
void sha256_digest(const void *data, size_t len, uint8_t out[32]);
/* The digest as 64 lowercase hex characters and a NUL, into hex. */
void sha256_hex(const void *data, size_t len, char hex[65]);

#endif
