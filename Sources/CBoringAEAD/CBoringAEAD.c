#include "CBoringAEAD.h"

// From BoringSSL's include/openssl/aead.h, under swift-crypto's symbol prefix (see the header).
typedef struct evp_aead_st EVP_AEAD;
typedef struct evp_aead_ctx_st EVP_AEAD_CTX;
const EVP_AEAD *CCryptoBoringSSL_EVP_aead_chacha20_poly1305(void);
const EVP_AEAD *CCryptoBoringSSL_EVP_aead_aes_256_gcm(void);
EVP_AEAD_CTX *CCryptoBoringSSL_EVP_AEAD_CTX_new(const EVP_AEAD *aead, const uint8_t *key, size_t key_len,
                                                size_t tag_len);
void CCryptoBoringSSL_EVP_AEAD_CTX_free(EVP_AEAD_CTX *ctx);
int CCryptoBoringSSL_EVP_AEAD_CTX_seal(const EVP_AEAD_CTX *ctx, uint8_t *out, size_t *out_len, size_t max_out_len,
                                       const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len,
                                       const uint8_t *ad, size_t ad_len);
int CCryptoBoringSSL_EVP_AEAD_CTX_open(const EVP_AEAD_CTX *ctx, uint8_t *out, size_t *out_len, size_t max_out_len,
                                       const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len,
                                       const uint8_t *ad, size_t ad_len);

int CCryptoBoringSSL_EVP_has_aes_hardware(void);

enum { tag_length = 16 };

int s2s_aead_has_aes_hardware(void) {
    return CCryptoBoringSSL_EVP_has_aes_hardware();
}

s2s_aead_key *s2s_aead_key_new(s2s_aead_algorithm algorithm, const uint8_t *key, size_t key_len) {
    const EVP_AEAD *aead;
    switch (algorithm) {
    case S2S_AEAD_CHACHA20_POLY1305: aead = CCryptoBoringSSL_EVP_aead_chacha20_poly1305(); break;
    case S2S_AEAD_AES_256_GCM: aead = CCryptoBoringSSL_EVP_aead_aes_256_gcm(); break;
    default: return NULL;
    }
    return (s2s_aead_key *)CCryptoBoringSSL_EVP_AEAD_CTX_new(aead, key, key_len, tag_length);
}

void s2s_aead_key_free(s2s_aead_key *key) {
    CCryptoBoringSSL_EVP_AEAD_CTX_free((EVP_AEAD_CTX *)key);
}

int s2s_aead_seal(const s2s_aead_key *key, uint8_t *out, size_t *out_len, size_t max_out_len, const uint8_t *nonce,
                  size_t nonce_len, const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len) {
    return CCryptoBoringSSL_EVP_AEAD_CTX_seal((const EVP_AEAD_CTX *)key, out, out_len, max_out_len, nonce, nonce_len,
                                              in, in_len, ad, ad_len);
}

int s2s_aead_open(const s2s_aead_key *key, uint8_t *out, size_t *out_len, size_t max_out_len, const uint8_t *nonce,
                  size_t nonce_len, const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len) {
    return CCryptoBoringSSL_EVP_AEAD_CTX_open((const EVP_AEAD_CTX *)key, out, out_len, max_out_len, nonce, nonce_len,
                                              in, in_len, ad, ad_len);
}
