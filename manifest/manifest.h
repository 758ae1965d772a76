#ifndef SEAL_MANIFEST_H
#define SEAL_MANIFEST_H

/*
 * manifest: the Secret and SealedSecret model (docs/design.md), on top of
 * the document layer (doc.h: YAML and JSON in and out, json_t trees).
 *
 * The library never prints and never exits: functions return MANIFEST_OK (0)
 * or a negative manifest_status and fill a manifest_error (may be NULL) whose
 * message names the document, the key and the reason, never a secret value.
 * manifest_error is doc's error struct, and manifest_status extends
 * doc_status with the same numbers (MANIFEST_ERR_LIMIT is DOC_ERR_LIMIT), so
 * one error carries a failure of doc_parse and of manifest_seal_secret alike.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "doc.h"
#include "keys.h"

#define MANIFEST_MAX_DATA_BYTES (1024 * 1024) /* a Secret's data in all */
#define MANIFEST_MAX_KEYS 1024                /* data keys per Secret */

#define MANIFEST_API_VERSION "seal.dev/v1"
#define MANIFEST_KIND "SealedSecret"
#define MANIFEST_ANN_SCOPE "seal.dev/scope"
#define MANIFEST_ANN_MANAGED "seal.dev/managed"
#define MANIFEST_ANN_SKIP_OWNER "seal.dev/skip-owner-reference"
#define MANIFEST_LABEL_UNSEALED "seal.dev/unsealed"
#define MANIFEST_LABEL_KEY "seal.dev/key"       /* key Secrets: active | compromised */
#define MANIFEST_KEY_SECRET_TYPE "seal.dev/key" /* the type of key Secrets */
#define MANIFEST_RESERVED_PREFIX "seal.dev/"

/* The names under seal.dev/ belong to the controller and to admins: the key
 * Secrets' type, label seal.dev/key and annotations seal.dev/created-at,
 * backed-up-at and renew-requested-at; seal.dev/managed, which an admin sets
 * on a live Secret; seal.dev/scope, which is read from a SealedSecret's own
 * metadata. A template may carry only the label seal.dev/unsealed (the
 * controller sets it to "true" anyway) and the annotation
 * seal.dev/skip-owner-reference; any other seal.dev/ label, annotation or
 * type is refused, so a SealedSecret can never make a key Secret or speak for
 * the controller. These return 1 when a template may not carry the name. */
int manifest_reserved_label(const char *name);
int manifest_reserved_annotation(const char *name);
int manifest_reserved_type(const char *type);

typedef enum manifest_status {
  MANIFEST_OK = DOC_OK,
  MANIFEST_ERR_NOMEM = DOC_ERR_NOMEM,
  MANIFEST_ERR_PARSE = DOC_ERR_PARSE,     /* not YAML or JSON */
  MANIFEST_ERR_INVALID = DOC_ERR_INVALID, /* well-formed but not what is expected: kind, name,
                                             base64, type */
  MANIFEST_ERR_LIMIT = DOC_ERR_LIMIT,     /* over a limit above or of doc.h */
  MANIFEST_ERR_KEYS = -5, /* sealing or unsealing failed; the keys_status in cause */
  MANIFEST_ERR_IO = DOC_ERR_IO,
} manifest_status;

/* doc's error struct: status, cause (the keys_status with MANIFEST_ERR_KEYS),
 * line, message. */
typedef doc_error manifest_error;

/* Sets the wiping allocators (doc_init) and initialises keys. Call once, first. */
int manifest_init(void);

/* doc_strerror's names, and MANIFEST_ERR_KEYS's. */
const char *manifest_strerror(int status);

/* ---- Secret and SealedSecret --------------------------------------------- */

int manifest_is_secret(const json_t *doc);        /* apiVersion v1, kind Secret */
int manifest_is_sealed_secret(const json_t *doc); /* seal.dev/v1 SealedSecret */

/* Describes a document in messages: "Secret kotaemon/api-keys" or
 * "document 3 (Deployment)"; index is 0-based and shown 1-based. */
void manifest_describe(char *out, size_t out_size, const json_t *doc, size_t index);

typedef struct manifest_seal_opts {
  const keys_public *recipients;
  size_t n_recipients;
  const char *scope;     /* NULL: the document's seal.dev/scope, else strict */
  const char *namespace; /* -n: used when the document has none; a contradiction is an error */
  const char *name;      /* --name: likewise */
  int allow_empty_data;  /* else a Secret without data or stringData, or an empty value, is an
                            error */
  size_t index;          /* the document's 0-based position in its stream, for messages */
} manifest_seal_opts;

/* Secret to SealedSecret: data (base64) and stringData (plain, wins) sealed
 * under their scope labels; type, immutable, labels, annotations into
 * spec.template (never last-applied-configuration, ownerReferences, uid,
 * resourceVersion, generation, timestamps, managedFields); the scope in the
 * annotation seal.dev/scope of the SealedSecret's metadata. */
int manifest_seal_secret(json_t **out, const json_t *secret, const manifest_seal_opts *opts,
                         manifest_error *err);

/* The scope label of one data key of a SealedSecret, from its own metadata
 * (name, namespace, seal.dev/scope), never from spec.template. */
int manifest_sealed_label(char *out, size_t out_size, const json_t *sealed, const char *data_key,
                          manifest_error *err);

enum {
  MANIFEST_UNSEAL_RENDER = 1,     /* fill {{ .KEY }} in template.data */
  MANIFEST_UNSEAL_OWNER = 2,      /* ownerReference to the SealedSecret (needs metadata.uid),
                                       unless the template says seal.dev/skip-owner-reference:
                                       then the annotation seal.dev/managed: "true" instead */
  MANIFEST_UNSEAL_CONTROLLER = 4, /* label seal.dev/unsealed: "true" */
  MANIFEST_UNSEAL_KEEP_GOING = 8, /* try every value and report all failures */
};

typedef struct manifest_unseal_report {
  size_t n_values;    /* values tried */
  size_t n_failed;    /* values that did not open */
  int first_status;   /* keys_status of the first failure, else KEYS_OK */
  const char *reason; /* of the first failure: "Malformed", "NoKey", "Altered",
                         "WrongScope", "Invalid", "InvalidTemplate" (spec.template
                         refused, or every value opened yet no Secret can be made),
                         NULL when none or out of memory */
  size_t n_ids;       /* distinct key ids whose stanza opened a value, in first-use order */
  uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
} manifest_unseal_report;

/* The condition reason for a keys_status of one value: "Malformed", "NoKey",
 * "Altered", "WrongScope", else "Invalid". */
const char *manifest_unseal_reason(int keys_status);

/* SealedSecret to Secret. With out NULL it only checks that every value opens
 * and that every template placeholder names an encrypted key (verify: no
 * template rendering). The Secret has the SealedSecret's name and
 * namespace, the template's type (a service-account-token type is refused),
 * immutable, labels and annotations (never argocd.argoproj.io/tracking-id),
 * data base64-encoded. report (may be NULL) is filled on success and failure. */
int manifest_unseal_sealed(json_t **out, const json_t *sealed, const keys_keyring *ring, int flags,
                           manifest_unseal_report *report, manifest_error *err);

/* Re-seals every value of sealed in place for new_pk (keys_reseal); values
 * whose first stanza of ring already is new_pk's are left byte for byte after
 * opening under their scope label (a moved or altered value is refused).
 * *changed (may be NULL) counts the values re-sealed. */
int manifest_reseal_sealed(json_t *sealed, const keys_keyring *ring, const keys_public *new_pk,
                           size_t *changed, manifest_error *err);

/* 1 when live already holds everything desired holds: type, immutable, data,
 * desired labels and annotations, ownerReferences. Server-set fields ignored. */
int manifest_secret_matches(const json_t *live, const json_t *desired);

/* ---- the key store (keystore.c) ------------------------------------------ */

/* How the controller and seal keep keys in the cluster (docs/keys.md): one
 * Secret per key pair in the key namespace, and the ConfigMap that publishes
 * the newest active public key. Both programs spell these names only here. */

#define MANIFEST_KEYS_NAMESPACE "seal-system" /* the key namespace by default */
#define MANIFEST_KEY_NAME_PREFIX "seal-key-"  /* + the key id in hex */
#define MANIFEST_KEY_ACTIVE "active"          /* values of the label seal.dev/key */
#define MANIFEST_KEY_COMPROMISED "compromised"
#define MANIFEST_KEY_ANN_CREATED "seal.dev/created-at"       /* RFC 3339 */
#define MANIFEST_KEY_ANN_BACKED_UP "seal.dev/backed-up-at"   /* RFC 3339 */
#define MANIFEST_KEY_ANN_RENEW "seal.dev/renew-requested-at" /* RFC 3339 */
#define MANIFEST_KEY_PRIVATE "private.key" /* data: the armored private key, base64 */
#define MANIFEST_KEY_PUBLIC "public.key"   /* data: the armored public key, base64 */
#define MANIFEST_KEY_MAX_FIELD (16 * 1024) /* base64 characters of either, at most */
#define MANIFEST_CERT_CONFIGMAP "seal-public-keys"
#define MANIFEST_CERT_FIELD "cert.pem" /* its data: the armored public key, or "" */

/* Why a Secret labelled seal.dev/key is not a key Secret the controller or an
 * admin made (not of the key type, labelled seal.dev/unsealed, owned by a
 * SealedSecret), or NULL when it is one. manifest_key_secret_parse applies it. */
const char *manifest_key_secret_untrusted(const json_t *secret);

/* The name of the key Secret of a key: seal-key-<id in hex>. */
void manifest_key_secret_name(char out[KEYS_NAME_MAX + 1], const uint8_t id[KEYS_ID_BYTES]);

/* The key Secret of kp in namespace ns: its name, the key type, the label
 * seal.dev/key (kp's state), seal.dev/created-at (kp's creation time; 1970
 * when unknown, so that it is never the newest), seal.dev/backed-up-at when
 * backed_up (RFC 3339) is not NULL, and data private.key and public.key. The
 * armor and its base64 pass through wiped memory only; *out holds the private
 * key, in jansson's wiping allocator (manifest_init). */
int manifest_key_secret_build(json_t **out, const keys_keypair *kp, const char *ns,
                              const char *backed_up, manifest_error *err);

/* Why manifest_key_secret_parse refused a Secret. */
typedef enum manifest_key_fault {
  MANIFEST_KEY_SOUND = 0,
  MANIFEST_KEY_UNTRUSTED, /* not a key Secret (manifest_key_secret_untrusted) */
  MANIFEST_KEY_EMPTY,     /* no data private.key: it holds no key */
  MANIFEST_KEY_MALFORMED, /* a field missing, of the wrong type or size, not base64, not one key */
  MANIFEST_KEY_MISMATCH,  /* public.key is not the public key of private.key */
} manifest_key_fault;

/* What a key Secret says. private_armor is the decoded private.key, the one
 * key pair it holds, in sodium_malloc'ed memory (NUL-terminated), wiped by
 * manifest_key_secret_clear. */
typedef struct manifest_key_secret {
  char name[KEYS_NAME_MAX + 1];
  uint8_t id[KEYS_ID_BYTES];
  char hex[KEYS_ID_HEX_BYTES];
  int compromised;         /* labelled seal.dev/key: compromised (else active) */
  int64_t created;         /* seal.dev/created-at, else the armor's Created; 0 unknown */
  int64_t backed_up;       /* seal.dev/backed-up-at; 0 never */
  int64_t renew_requested; /* seal.dev/renew-requested-at; 0 never */
  char *private_armor;
  size_t private_len;
  manifest_key_fault fault; /* on failure, why; MANIFEST_KEY_SOUND on success */
} manifest_key_secret;

/* Reads a key Secret of namespace ns (for messages) from untrusted input:
 * metadata.name a valid name; trusted (manifest_key_secret_untrusted); the
 * label seal.dev/key active or compromised; the annotations, when present,
 * strings (a time that does not parse counts as absent); data.private.key
 * canonical base64 of exactly one armored private key; data.public.key, when
 * present, base64 of one public key, that of private.key. MANIFEST_ERR_INVALID
 * (out->fault says which way) with a message naming the Secret and the field,
 * MANIFEST_ERR_NOMEM. Release out with manifest_key_secret_clear, also after
 * a failure. */
int manifest_key_secret_parse(manifest_key_secret *out, const json_t *secret, const char *ns,
                              manifest_error *err);
void manifest_key_secret_clear(manifest_key_secret *ks);

/* The ConfigMap seal-public-keys in ns publishing cert: live (the ConfigMap
 * as read, NULL when there is none) with its data replaced, else a new one. */
int manifest_cert_configmap_build(json_t **out, const json_t *live, const char *ns,
                                  const char *cert, manifest_error *err);

/* The cert.pem of the ConfigMap ("" while no key is active), or NULL when it
 * has none or not as a string. */
const char *manifest_cert_configmap_pem(const json_t *configmap);

#endif
