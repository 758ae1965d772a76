#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal scan [PATH...] [--exclude GLOB]...\n"
    "       seal scan --staged [--exclude GLOB]...\n"
    "       seal scan --install-hook\n"
    "       seal scan ... -o json\n"
    "\n"
    "Finds Secrets (apiVersion v1, kind Secret) with data or stringData in the\n"
    ".yaml, .yml and .json files under each PATH (default .), or in the files\n"
    "staged for the next git commit, and prints 'file:line: namespace/name' for\n"
    "each. Folders .git and build folders are skipped. A file that mentions\n"
    "kind: Secret with data but does not parse is reported too, and so are the\n"
    "keys of kustomize secretGenerator literals, envs and files (never their\n"
    "values) in kustomization.yaml, .yml and Kustomization files. Exits 1 when\n"
    "anything is found, 0 when nothing is.\n"
    "\n"
    "      --exclude GLOB         skip paths (or file names) matching GLOB; repeatable\n"
    "      --staged               scan the staged blobs (git diff --cached)\n"
    "      --install-hook         write .git/hooks/pre-commit running 'seal scan --staged'\n"
    "  -o, --output FORMAT        text (default) or json: one document {\"findings\": [...]}\n" SEAL_HELP_HELP;

enum { OPT_EXCLUDE = SEAL_OPT_FIRST_FREE, OPT_STAGED, OPT_INSTALL_HOOK };

#define MAX_EXCLUDES 64
#define MAX_DEPTH 64
#define MAX_FILE_BYTES (16u * 1024 * 1024)
#define MAX_GIT_LIST_BYTES (16u * 1024 * 1024)
#define HOOK_MARK "# seal-scan-hook"

static const struct option longopts[] = {
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"staged", no_argument, NULL, OPT_STAGED},
    {"install-hook", no_argument, NULL, OPT_INSTALL_HOOK},
    {"output", required_argument, NULL, 'o'},
    SEAL_LONGOPTS_END,
};

typedef struct scan_state {
  const char *excludes[MAX_EXCLUDES];
  size_t n_excludes;
  size_t found;  /* findings printed */
  int env_error; /* something could not be read */
  json_t *json;  /* -o json: the findings, printed at the end; else NULL */
} scan_state;

/* One finding: printed as "file:line: text", or kept for -o json as an
 * object with file, line and the given string fields (NULL ends them). */
static void finding(scan_state *s, const char *file, long line, const char *text, ...)
{
  va_list ap;
  const char *k, *v;
  json_t *o;
  s->found++;
  if (s->json == NULL) {
    seal_print_line(stdout, "%s:%ld: %s", file, line, text);
    return;
  }
  o = json_pack("{s:s, s:I}", "file", file, "line", (json_int_t)line);
  va_start(ap, text);
  while (o && (k = va_arg(ap, const char *)) != NULL) {
    v = va_arg(ap, const char *);
    if (json_object_set_new(o, k, json_string(v)) != 0) {
      json_decref(o);
      o = NULL;
    }
  }
  va_end(ap);
  if (o == NULL || json_array_append_new(s->json, o) != 0) {
    seal_report(SEAL_ERR_ENV, "out of memory");
    s->env_error = 1;
  }
}

static const char *base_name(const char *path)
{
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int excluded(const scan_state *s, const char *path)
{
  size_t i;
  const char *p = strncmp(path, "./", 2) == 0 ? path + 2 : path;
  for (i = 0; i < s->n_excludes; i++)
    if (fnmatch(s->excludes[i], p, 0) == 0 || fnmatch(s->excludes[i], base_name(p), 0) == 0)
      return 1;
  return 0;
}

/* .git, and build folders: build, build-*, builddir, or any folder meson,
 * ninja or cmake made. */
static int skip_dir(const char *path, const char *name)
{
  static const char *const marks[] = {"meson-private", "build.ninja", "CMakeCache.txt"};
  char sub[PATH_MAX];
  size_t i;
  struct stat sb;
  if (strcmp(name, ".git") == 0 || strcmp(name, "build") == 0 || strncmp(name, "build-", 6) == 0 ||
      strcmp(name, "builddir") == 0)
    return 1;
  for (i = 0; i < sizeof marks / sizeof marks[0]; i++) {
    if (snprintf(sub, sizeof sub, "%s/%s", path, marks[i]) >= (int)sizeof sub)
      continue;
    if (lstat(sub, &sb) == 0)
      return 1;
  }
  return 0;
}

/* The 1-based line of the first "kind: Secret" (YAML or JSON) in text, else 0. */
static long secret_mention(const char *text, size_t len)
{
  long line = 1;
  size_t i = 0;
  while (i < len) {
    size_t end = i;
    const char *p, *q;
    while (end < len && text[end] != '\n')
      end++;
    for (p = text + i; p < text + end; p++) {
      int quoted = 0;
      if (*p == '"')
        quoted = 1;
      q = p + quoted;
      if ((size_t)(text + end - q) < 5 || strncmp(q, "kind", 4) != 0)
        continue;
      q += 4;
      if (quoted && *q++ != '"')
        continue;
      while (q < text + end && (*q == ' ' || *q == '\t'))
        q++;
      if (q >= text + end || *q++ != ':')
        continue;
      while (q < text + end && (*q == ' ' || *q == '\t'))
        q++;
      if (q < text + end && (*q == '"' || *q == '\''))
        q++;
      if ((size_t)(text + end - q) >= 6 && strncmp(q, "Secret", 6) == 0) {
        q += 6;
        if (q >= text + end || !((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
                                 (*q >= '0' && *q <= '9') || *q == '_'))
          return line;
      }
    }
    i = end + 1;
    line++;
  }
  return 0;
}

static int mentions(const char *text, size_t len, const char *word)
{
  return memmem(text, len, word, strlen(word)) != NULL;
}

static int has_entries(const json_t *v)
{
  return json_is_object(v) && json_object_size(v) > 0;
}

/* kustomization.yaml, kustomization.yml or Kustomization, as kustomize reads. */
static int is_kustomization(const char *path)
{
  const char *b = base_name(path);
  return strcmp(b, "kustomization.yaml") == 0 || strcmp(b, "kustomization.yml") == 0 ||
         strcmp(b, "Kustomization") == 0;
}

static void report_generated(scan_state *s, const char *file, long line, const char *gen,
                             const char *key, size_t key_len)
{
  char k[512], text[1024];
  snprintf(k, sizeof k, "%.*s", (int)key_len, key);
  snprintf(text, sizeof text, "secretGenerator %.400s: %s", gen, k);
  finding(s, file, line, text, "secretGenerator", gen, "key", k, NULL);
}

/* The text of a file to scan (release with doc_wipe_free); 0 when it cannot
 * be read: reported, and the scan ends with exit code 2. */
static int read_scanned(scan_state *s, const char *path, char **text, size_t *len)
{
  keys_error kerr = {0};
  int rc = keys_file_read(text, len, path, MAX_FILE_BYTES, &kerr);
  if (rc == KEYS_OK)
    return 1;
  seal_report_keys(path, &kerr, rc);
  s->env_error = 1;
  return 0;
}

/* The keys of a .env file a secretGenerator reads (KEY=VALUE lines; a bare KEY
 * takes its value from the environment); the values are never printed. */
static void scan_env_file(scan_state *s, const char *path, const char *gen)
{
  char *text = NULL;
  size_t len = 0, i = 0;
  long line = 1;
  if (!read_scanned(s, path, &text, &len))
    return;
  while (i < len) {
    size_t end = i, k;
    while (end < len && text[end] != '\n')
      end++;
    while (i < end && (text[i] == ' ' || text[i] == '\t'))
      i++;
    k = i;
    while (k < end && text[k] != '=' && text[k] != ' ' && text[k] != '\t' && text[k] != '\r')
      k++;
    if (k > i && text[i] != '#')
      report_generated(s, path, line, gen, text + i, k - i);
    i = end + 1;
    line++;
  }
  doc_wipe_free(text, len);
}

/* Kustomize secretGenerator entries: literals (KEY=VALUE), envs (.env files)
 * and files (KEY=PATH or PATH), relative to the kustomization's folder. */
static void scan_generators(scan_state *s, const char *name, const json_t *doc, long line)
{
  const json_t *gens = json_object_get(doc, "secretGenerator"), *g;
  size_t i, j, dir_len = (size_t)(base_name(name) - name);
  json_array_foreach(gens, i, g) {
    const json_t *v;
    const char *gen = json_string_value(json_object_get(g, "name"));
    if (gen == NULL)
      gen = "(no name)";
    json_array_foreach(json_object_get(g, "literals"), j, v) {
      const char *lit = json_string_value(v), *eq;
      if (lit && (eq = strchr(lit, '=')) != NULL && eq > lit)
        report_generated(s, name, line, gen, lit, (size_t)(eq - lit));
    }
    json_array_foreach(json_object_get(g, "files"), j, v) {
      const char *f = json_string_value(v), *eq;
      if (f == NULL || *f == '\0')
        continue;
      eq = strchr(f, '=');
      if (eq)
        report_generated(s, name, line, gen, f, (size_t)(eq - f));
      else
        report_generated(s, name, line, gen, base_name(f), strlen(base_name(f)));
    }
    json_array_foreach(json_object_get(g, "envs"), j, v) {
      const char *f = json_string_value(v);
      char path[PATH_MAX];
      if (f == NULL || *f == '\0')
        continue;
      if (snprintf(path, sizeof path, "%.*s%s", (int)(f[0] == '/' ? 0 : dir_len), name, f) >=
          (int)sizeof path) {
        seal_report(SEAL_ERR_ENV, "%s: path too long", f);
        s->env_error = 1;
        continue;
      }
      scan_env_file(s, path, gen);
    }
  }
}

/* Scans one file's text; name is how it is printed. */
static void scan_text(scan_state *s, const char *name, const char *text, size_t len)
{
  doc_list docs = {0};
  manifest_error merr = {0};
  size_t i;
  int rc;

  rc = doc_parse(&docs, text, len, name, DOC_PARSE_EXPAND_LISTS, &merr);
  if (rc != MANIFEST_OK) {
    long line = secret_mention(text, len);
    if (line > 0 && (mentions(text, len, "data") || mentions(text, len, "stringData"))) {
      const char *why = merr.message[0] ? merr.message : manifest_strerror(rc);
      size_t n = strlen(name);
      if (strncmp(why, name, n) == 0 && why[n] == ':')
        why += n + 1 + (why[n + 1] == ' ');
      char msg[1024];
      snprintf(msg, sizeof msg, "unparsable file mentions a Secret with data (%.900s)", why);
      finding(s, name, line, msg, "error", why, NULL);
    }
    goto out;
  }
  for (i = 0; i < docs.n; i++) {
    const json_t *doc = docs.docs[i];
    const char *ns, *nm;
    if (is_kustomization(name))
      scan_generators(s, name, doc, docs.lines ? docs.lines[i] : 0L);
    if (!manifest_is_secret(doc))
      continue;
    if (!has_entries(json_object_get(doc, "data")) &&
        !has_entries(json_object_get(doc, "stringData")))
      continue;
    ns = doc_get_string(doc, "metadata", "namespace", NULL);
    nm = doc_get_string(doc, "metadata", "name", NULL);
    char msg[1024];
    ns = ns ? ns : "default";
    nm = nm ? nm : "(no name)";
    snprintf(msg, sizeof msg, "%.500s/%.500s", ns, nm);
    finding(s, name, docs.lines ? docs.lines[i] : 0L, msg, "namespace", ns, "name", nm, NULL);
  }
out:
  doc_list_free(&docs);
}

static void scan_file(scan_state *s, const char *path)
{
  char *text = NULL;
  size_t len = 0;
  if (!read_scanned(s, path, &text, &len))
    return;
  scan_text(s, strncmp(path, "./", 2) == 0 ? path + 2 : path, text, len);
  doc_wipe_free(text, len);
}

static void scan_tree(scan_state *s, const char *path, int depth, int named)
{
  struct stat sb;
  DIR *dir = NULL;
  struct dirent *de;

  if (!named && excluded(s, path))
    return;
  /* paths named on the command line are followed, links below them are not */
  if ((named ? stat(path, &sb) : lstat(path, &sb)) != 0) {
    seal_report(SEAL_ERR_ENV, "%s: %s", path, strerror(errno));
    s->env_error = 1;
    return;
  }
  if (S_ISREG(sb.st_mode)) {
    if (named || seal_has_manifest_ext(path) || is_kustomization(path))
      scan_file(s, path);
    return;
  }
  if (!S_ISDIR(sb.st_mode))
    return;
  if (!named && skip_dir(path, base_name(path)))
    return;
  if (depth >= MAX_DEPTH) {
    seal_report(SEAL_ERR_ENV, "%s: folders nested deeper than %d, not scanned", path, MAX_DEPTH);
    s->env_error = 1;
    return;
  }
  dir = opendir(path);
  if (dir == NULL) {
    seal_report(SEAL_ERR_ENV, "%s: %s", path, strerror(errno));
    s->env_error = 1;
    return;
  }
  while ((de = readdir(dir)) != NULL) {
    char sub[PATH_MAX];
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (snprintf(sub, sizeof sub, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
                 de->d_name) >= (int)sizeof sub) {
      seal_report(SEAL_ERR_ENV, "%s/%s: path too long", path, de->d_name);
      s->env_error = 1;
      continue;
    }
    scan_tree(s, sub, depth + 1, 0);
  }
  closedir(dir);
}

static int scan_staged(scan_state *s)
{
  char *list = NULL;
  size_t list_len = 0, i;
  int code = 0, st;
  char *diff_argv[] = {"git", "diff", "--cached", "--name-only", "--diff-filter=ACM", "-z", NULL};

  st = seal_run_capture(&list, &list_len, MAX_GIT_LIST_BYTES, &code, diff_argv);
  if (st != SEAL_OK)
    return st;
  if (code != 0) {
    st = seal_report(SEAL_ERR_ENV, "git diff --cached failed (exit %d): not in a git repository?",
                     code);
    goto out;
  }
  for (i = 0; i < list_len;) {
    const char *path = list + i;
    size_t n = strnlen(path, list_len - i);
    char spec[PATH_MAX + 2];
    char *blob = NULL;
    size_t blob_len = 0;
    int show_code = 0;
    char *show_argv[] = {"git", "show", spec, NULL};

    i += n + 1;
    if (n == 0 || !(seal_has_manifest_ext(path) || is_kustomization(path)) || excluded(s, path))
      continue;
    if (snprintf(spec, sizeof spec, ":%s", path) >= (int)sizeof spec) {
      seal_report(SEAL_ERR_ENV, "%s: path too long", path);
      s->env_error = 1;
      continue;
    }
    st = seal_run_capture(&blob, &blob_len, MAX_FILE_BYTES, &show_code, show_argv);
    if (st != SEAL_OK || show_code != 0) {
      if (st == SEAL_OK)
        seal_report(SEAL_ERR_ENV, "git show %s failed (exit %d)", spec, show_code);
      doc_wipe_free(blob, blob_len);
      s->env_error = 1;
      st = SEAL_OK;
      continue;
    }
    scan_text(s, path, blob, blob_len);
    doc_wipe_free(blob, blob_len);
  }
out:
  free(list);
  return st;
}

/* Appends text to a shell script in single quotes. */
static int shell_quote(char *out, size_t size, const char *text)
{
  size_t o = 0;
  if (size < 3)
    return -1;
  out[o++] = '\'';
  for (; *text; text++) {
    if (*text == '\'') {
      if (o + 4 >= size)
        return -1;
      memcpy(out + o, "'\\''", 4);
      o += 4;
    } else {
      if (o + 1 >= size)
        return -1;
      out[o++] = *text;
    }
  }
  if (o + 2 > size)
    return -1;
  out[o++] = '\'';
  out[o] = '\0';
  return 0;
}

static int install_hook(void)
{
  char *hooks = NULL, *old = NULL;
  size_t hooks_len = 0, old_len = 0;
  char self[PATH_MAX], quoted[PATH_MAX * 4 + 3], path[PATH_MAX], script[PATH_MAX * 4 + 512];
  keys_error kerr = {0};
  ssize_t n;
  int code = 0, rc, len, st;
  char *argv[] = {"git", "rev-parse", "--git-path", "hooks", NULL};

  st = seal_run_capture(&hooks, &hooks_len, PATH_MAX, &code, argv);
  if (st != SEAL_OK)
    goto out;
  if (code != 0) {
    st = seal_report(SEAL_ERR_ENV, "scan: --install-hook: not in a git repository");
    goto out;
  }
  while (hooks_len > 0 && (hooks[hooks_len - 1] == '\n' || hooks[hooks_len - 1] == '\r'))
    hooks[--hooks_len] = '\0';
  if (mkdir(hooks, 0755) != 0 && errno != EEXIST) {
    st = seal_report(SEAL_ERR_ENV, "%s: %s", hooks, strerror(errno));
    goto out;
  }
  if (snprintf(path, sizeof path, "%s/pre-commit", hooks) >= (int)sizeof path) {
    st = seal_report(SEAL_ERR_ENV, "%s: path too long", hooks);
    goto out;
  }
  rc = keys_file_read(&old, &old_len, path, 1024 * 1024, &kerr);
  if (rc == KEYS_OK && !mentions(old, old_len, HOOK_MARK)) {
    st = seal_report(SEAL_ERR_INPUT,
                     "%s: a pre-commit hook that seal did not install is there: not replacing it "
                     "(add 'seal scan --staged' to it yourself)",
                     path);
    goto out;
  }
  if (rc != KEYS_OK && access(path, F_OK) == 0) {
    st = seal_report_keys(path, &kerr, rc);
    goto out;
  }
  n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    quoted[0] = '\0';
    len = snprintf(quoted, sizeof quoted, "seal");
  } else {
    self[n] = '\0';
    if (shell_quote(quoted, sizeof quoted, self) != 0) {
      st = seal_report(SEAL_ERR_ENV, "%s: path too long", self);
      goto out;
    }
  }
  len = snprintf(script, sizeof script,
                 "#!/bin/sh\n" HOOK_MARK ": installed by 'seal scan --install-hook'\n"
                 "# Refuses a commit that adds a plain-text Secret.\n"
                 "seal=%s\n"
                 "if ! [ -x \"$seal\" ]; then seal=seal; fi\n"
                 "exec \"$seal\" scan --staged\n",
                 quoted);
  if (len < 0 || len >= (int)sizeof script) {
    st = seal_report(SEAL_ERR_ENV, "%s: hook too long", path);
    goto out;
  }
  rc = keys_file_write(path, script, (size_t)len, 0755, 1, &kerr);
  if (rc != KEYS_OK) {
    st = seal_report_keys(path, &kerr, rc);
    st = SEAL_ERR_ENV;
    goto out;
  }
  if (chmod(path, 0755) != 0) {
    st = seal_report(SEAL_ERR_ENV, "%s: %s", path, strerror(errno));
    goto out;
  }
  fprintf(stderr, "seal: installed %s\n", path);
out:
  free(hooks);
  free(old);
  return st;
}

int cmd_scan(int argc, char **argv)
{
  scan_state s = {0};
  seal_cmdline cl = {
      .cmd = "scan", .usage = usage_text, .shortopts = "o:h", .longopts = longopts, .operands = 1};
  int c, staged = 0, hook = 0, json_out = 0, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    switch (c) {
    case OPT_EXCLUDE:
      st = seal_option_add(s.excludes, &s.n_excludes, MAX_EXCLUDES, "scan", "--exclude", optarg);
      if (st != SEAL_OK)
        return st;
      break;
    case OPT_STAGED:
      staged = 1;
      break;
    case OPT_INSTALL_HOOK:
      hook = 1;
      break;
    case 'o':
      if (strcmp(optarg, "json") == 0)
        json_out = 1;
      else if (strcmp(optarg, "text") != 0)
        return seal_usage_error("scan", "scan: -o '%s': use text or json", optarg);
      break;
    }
  }
  if (c < 0)
    return cl.status;
  if (hook) {
    if (staged || optind < argc || s.n_excludes)
      return seal_usage_error("scan", "scan: --install-hook takes no other option or path");
    return install_hook();
  }
  if (json_out && (s.json = json_array()) == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  if (staged) {
    if (optind < argc)
      return seal_usage_error("scan", "scan: --staged takes no path");
    st = scan_staged(&s);
  } else if (optind == argc) {
    scan_tree(&s, ".", 0, 1);
  } else {
    for (; optind < argc; optind++)
      scan_tree(&s, argv[optind], 0, 1);
  }
  if (st != SEAL_OK)
    goto out;
  if (s.json) {
    char *text = NULL;
    json_t *root = json_pack("{s:O}", "findings", s.json);
    if (root == NULL || (text = json_dumps(root, JSON_INDENT(2))) == NULL) {
      json_decref(root);
      st = seal_report(SEAL_ERR_ENV, "out of memory");
      goto out;
    }
    printf("%s\n", text);
    doc_json_free(text);
    json_decref(root);
  }
  if (s.found) {
    fprintf(stderr, "seal: scan: %zu plain-text Secret%s found: seal %s before committing\n",
            s.found, s.found == 1 ? "" : "s", s.found == 1 ? "it" : "them");
    st = SEAL_ERR_FOUND;
  } else if (s.env_error) {
    st = SEAL_ERR_ENV;
  }
out:
  json_decref(s.json);
  return st;
}
