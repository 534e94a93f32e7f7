// The AEAD interface of the BoringSSL that swift-crypto builds into every s2s binary, for the
// transport messages of a session: seal and open from one buffer into another (or in place)
// without the per-message allocations and copies of swift-crypto's Swift API.
//
// swift-crypto compiles BoringSSL with every symbol prefixed "CCryptoBoringSSL_" and does not
// export its C headers as a product, so this header declares the few functions used, with the
// signatures of BoringSSL's include/openssl/aead.h. A change of prefix or signature in a newer
// swift-crypto fails the link or the Noise test vectors (Tests/S2SProtocolTests), never silently.
#ifndef S2S_CBORINGAEAD_H
#define S2S_CBORINGAEAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An AEAD algorithm with a key set up once; immutable, so it may seal or open from any thread.
typedef struct s2s_aead_key s2s_aead_key;

/// The algorithms of the Noise suites s2s speaks.
typedef enum {
    S2S_AEAD_CHACHA20_POLY1305 = 0,
    S2S_AEAD_AES_256_GCM = 1,
} s2s_aead_algorithm;

/// A key for `algorithm` from 32 bytes, with the 16-byte tag; NULL on failure (bad length, no memory).
s2s_aead_key *_Nullable s2s_aead_key_new(s2s_aead_algorithm algorithm, const uint8_t *_Nonnull key, size_t key_len);

/// 1 when this CPU runs AES-GCM in hardware, fast and in constant time (BoringSSL's
/// EVP_has_aes_hardware: AES-NI and carry-less multiply on x86, the crypto extensions on Arm).
int s2s_aead_has_aes_hardware(void);

/// Erases and frees the key.
void s2s_aead_key_free(s2s_aead_key *_Nullable key);

/// Seals `in_len` bytes of `in` into `out` (ciphertext then tag, `in_len` + 16 bytes, `out` may equal
/// `in`); returns 1 on success, 0 on failure, with `*out_len` the bytes written.
int s2s_aead_seal(const s2s_aead_key *_Nonnull key, uint8_t *_Nonnull out, size_t *_Nonnull out_len, size_t max_out_len,
                  const uint8_t *_Nullable nonce, size_t nonce_len, const uint8_t *_Nullable in, size_t in_len,
                  const uint8_t *_Nullable ad, size_t ad_len);

/// Authenticates and opens `in_len` bytes of `in` (ciphertext then tag) into `out` (`out` may equal
/// `in`); returns 1 on success, 0 if the message is not authentic or on failure.
int s2s_aead_open(const s2s_aead_key *_Nonnull key, uint8_t *_Nullable out, size_t *_Nonnull out_len, size_t max_out_len,
                  const uint8_t *_Nullable nonce, size_t nonce_len, const uint8_t *_Nonnull in, size_t in_len,
                  const uint8_t *_Nullable ad, size_t ad_len);

#ifdef __cplusplus
}
#endif

#endif
