#ifndef SEAL_CLI_CRYPTO_LOADER_H
#define SEAL_CLI_CRYPTO_LOADER_H

/*
 * OpenSSL's libcrypto for `seal migrate` (Bitnami's RSA-OAEP and AES-GCM),
 * loaded when that command first needs it (crypto_loader.c): linking it made
 * every seal process map and relocate libcrypto, about 2.5 ms of a command
 * that otherwise takes about 1 ms. The table's members have the prototypes of the
 * OpenSSL headers, so a wrong signature does not compile.
 */

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#define SEAL_CRYPTO_FUNCTIONS(X)      \
  X(OpenSSL_version_num)              \
  X(ERR_clear_error)                  \
  X(CRYPTO_memdup)                    \
  X(CRYPTO_free)                      \
  X(BIO_new_mem_buf)                  \
  X(BIO_free)                         \
  X(PEM_read_bio_PrivateKey)          \
  X(EVP_PKEY_get_base_id)             \
  X(EVP_PKEY_get_size)                \
  X(EVP_PKEY_free)                    \
  X(EVP_PKEY_CTX_new)                 \
  X(EVP_PKEY_CTX_free)                \
  X(EVP_PKEY_decrypt_init)            \
  X(EVP_PKEY_decrypt)                 \
  X(EVP_PKEY_CTX_set_rsa_padding)     \
  X(EVP_PKEY_CTX_set_rsa_oaep_md)     \
  X(EVP_PKEY_CTX_set_rsa_mgf1_md)     \
  X(EVP_PKEY_CTX_set0_rsa_oaep_label) \
  X(EVP_sha256)                       \
  X(EVP_aes_256_gcm)                  \
  X(EVP_CIPHER_CTX_new)               \
  X(EVP_CIPHER_CTX_free)              \
  X(EVP_CIPHER_CTX_ctrl)              \
  X(EVP_DecryptInit_ex)               \
  X(EVP_DecryptUpdate)                \
  X(EVP_DecryptFinal_ex)

typedef struct seal_crypto_api {
#define SEAL_CRYPTO_MEMBER(name) __typeof__(name) *name;
  SEAL_CRYPTO_FUNCTIONS(SEAL_CRYPTO_MEMBER)
#undef SEAL_CRYPTO_MEMBER
} seal_crypto_api;

/* The functions (read-only once loaded), or NULL with *why set
 * ("cannot load libcrypto.so.3: ..."). Loads on the first call. */
const seal_crypto_api *seal_crypto_load(const char **why);

#endif
