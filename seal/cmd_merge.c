#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal merge --into FILE [options] [-f IN]\n"
    "\n"
    "Seals the Secret on stdin (or -f) and merges its keys into the SealedSecret\n"
    "FILE in place. The name, namespace and scope come from FILE; a Secret that\n"
    "names another is refused unless --retarget. The other keys' sealed values\n"
    "stay byte for byte; FILE keeps its format (YAML or JSON) but not its\n"
    "comments.\n"
    "\n"
    "      --into FILE            the SealedSecret to update\n"
    "  -f, --file IN              read the Secret from IN instead of stdin\n"
    "      --retarget             seal a Secret of another name, namespace or scope\n"
    "                             for FILE's\n"
    "      --allow-empty-data     seal empty values\n" SEAL_CERT_HELP SEAL_HELP_HELP;

enum { OPT_INTO = SEAL_OPT_FIRST_FREE, OPT_RETARGET, OPT_ALLOW_EMPTY };

static const struct option longopts[] = {
    SEAL_CERT_LONGOPTS,
    {"into", required_argument, NULL, OPT_INTO},
    {"retarget", no_argument, NULL, OPT_RETARGET},
    {"allow-empty-data", no_argument, NULL, OPT_ALLOW_EMPTY},
    {"file", required_argument, NULL, 'f'},
    SEAL_LONGOPTS_END,
};

/* The Secret's own name, namespace or scope (when it gives one) against
 * FILE's: a difference is refused unless retarget, since the keys would be
 * sealed for a Secret other than the one they came from. */
static int check_target(const json_t *secret, const manifest_seal_opts *o, const char *source,
                        const char *into, int retarget)
{
  const char *name = doc_get_string(secret, "metadata", "name", NULL);
  const char *ns = doc_get_string(secret, "metadata", "namespace", NULL);
  const char *scope = doc_get_string(secret, "metadata", "annotations", MANIFEST_ANN_SCOPE, NULL);
  int other = (name != NULL && strcmp(name, o->name) != 0) ||
              (ns != NULL && strcmp(ns, o->namespace) != 0);
  int other_scope = scope != NULL && strcmp(scope, o->scope) != 0;

  if (!other && !other_scope)
    return SEAL_OK;
  if (!retarget) {
    if (other)
      return seal_report(SEAL_ERR_INPUT,
                         "%s: Secret %s/%s is not the SealedSecret %s/%s of %s: refused (its "
                         "keys would be sealed for %s/%s; --retarget does that)",
                         source, ns ? ns : o->namespace, name ? name : o->name, o->namespace,
                         o->name, into, o->namespace, o->name);
    return seal_report(SEAL_ERR_INPUT,
                       "%s: Secret %s/%s asks for scope %s, the SealedSecret of %s has scope %s: "
                       "refused (--retarget seals it with scope %s)",
                       source, o->namespace, o->name, scope, into, o->scope, o->scope);
  }
  fprintf(stderr, "seal: merge: Secret %s/%s%s%s sealed as %s/%s (scope %s) of %s\n",
          ns ? ns : o->namespace, name ? name : o->name, scope ? ", scope " : "",
          scope ? scope : "", o->namespace, o->name, o->scope, into);
  return SEAL_OK;
}

/* Reads path: exactly one document of the wanted kind; *format (may be
 * NULL) is the format the file is in. */
static int read_one(json_t **out, doc_format *format, const char *path,
                    int (*is_kind)(const json_t *), const char *kind)
{
  doc_list docs = {0};
  int st;

  *out = NULL;
  if ((st = seal_docs_read(&docs, format, path, is_kind, kind)) != SEAL_OK)
    return st;
  if (docs.n != 1) {
    st = seal_report(SEAL_ERR_INPUT, "%s: expected one %s, found %zu", seal_input_name(path), kind,
                     docs.n);
    goto out;
  }
  *out = json_incref(docs.docs[0]);
out:
  doc_list_free(&docs);
  return st;
}

int cmd_merge(int argc, char **argv)
{
  seal_cert_opts certs = {0};
  keys_public recipients[KEYS_MAX_RECIPIENTS];
  size_t n_recipients = 0;
  manifest_seal_opts sopts = {0};
  manifest_error merr = {0};
  doc_format format = DOC_YAML;
  json_t *target = NULL, *secret = NULL, *fresh = NULL, *meta, *enc, *fresh_enc, *value;
  const char *into = NULL, *in_path = NULL, *key, *source;
  seal_cmdline cl = {.cmd = "merge",
                     .usage = usage_text,
                     .shortopts = "f:h",
                     .longopts = longopts,
                     .certs = &certs};
  int c, rc, retarget = 0, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    switch (c) {
    case OPT_INTO:
      into = optarg;
      break;
    case 'f':
      in_path = optarg;
      break;
    case OPT_RETARGET:
      retarget = 1;
      break;
    case OPT_ALLOW_EMPTY:
      sopts.allow_empty_data = 1;
      break;
    }
  }
  if (c < 0)
    return cl.status;
  if (into == NULL) {
    st = seal_usage_error("merge", "merge: --into is required");
    goto out;
  }
  if ((st = read_one(&target, &format, into, manifest_is_sealed_secret, "SealedSecret")) != SEAL_OK)
    goto out;
  enc = doc_get(target, "spec", "encryptedData", NULL);
  if (!json_is_object(enc)) {
    st = seal_report(SEAL_ERR_INPUT, "%s: spec.encryptedData: missing or not a map", into);
    goto out;
  }
  source = seal_input_name(in_path);
  if ((st = read_one(&secret, NULL, in_path, manifest_is_secret, "Secret")) != SEAL_OK)
    goto out;

  /* The name, namespace and scope are FILE's: the Secret on stdin only brings keys. */
  meta = json_object_get(secret, "metadata");
  if (!json_is_object(meta)) {
    meta = json_object();
    if (meta == NULL || json_object_set_new(secret, "metadata", meta) != 0) {
      st = seal_report(SEAL_ERR_ENV, "out of memory");
      goto out;
    }
  }
  sopts.name = doc_get_string(target, "metadata", "name", NULL);
  sopts.namespace = doc_get_string(target, "metadata", "namespace", NULL);
  sopts.scope = doc_get_string(target, "metadata", "annotations", MANIFEST_ANN_SCOPE, NULL);
  if (sopts.scope == NULL)
    sopts.scope = "strict";
  if (sopts.namespace == NULL)
    sopts.namespace = "default";
  if (sopts.name == NULL) {
    st = seal_report(SEAL_ERR_INPUT, "%s: metadata.name: missing", into);
    goto out;
  }
  if ((st = check_target(secret, &sopts, source, into, retarget)) != SEAL_OK)
    goto out;
  json_object_del(meta, "name");
  json_object_del(meta, "namespace");
  if (retarget) /* FILE's scope, which the Secret's own annotation would contradict */
    json_object_del(json_object_get(meta, "annotations"), MANIFEST_ANN_SCOPE);

  if ((st = seal_certs_load(recipients, &n_recipients, &certs)) != SEAL_OK)
    goto out;
  sopts.recipients = recipients;
  sopts.n_recipients = n_recipients;
  rc = manifest_seal_secret(&fresh, secret, &sopts, &merr);
  if (rc != MANIFEST_OK) {
    st = seal_report_manifest(source, 0, secret, &merr, rc);
    goto out;
  }
  fresh_enc = doc_get(fresh, "spec", "encryptedData", NULL);
  json_object_foreach(fresh_enc, key, value) {
    if (json_object_set(enc, key, value) != 0) {
      st = seal_report(SEAL_ERR_ENV, "out of memory");
      goto out;
    }
  }
  if (json_object_size(enc) > MANIFEST_MAX_KEYS) {
    st = seal_report(SEAL_ERR_INPUT, "%s: more than %d keys after the merge", into,
                     MANIFEST_MAX_KEYS);
    goto out;
  }
  st = seal_docs_write(&target, 1, format, into, 0644);
out:
  json_decref(fresh);
  json_decref(secret);
  json_decref(target);
  return st;
}
