/*
 * tplcli.c - `plugboard render`: renders one template from the command line.
 *
 *   plugboard render [--partials DIR] TEMPLATE-FILE [DATA.json]
 *
 * The template is read byte for byte; the data is any JSON value ({} when
 * no file is given; "-" reads standard input, for one of the two files). A
 * partial or parent named x is read from DIR/x.mustache when first used; a
 * missing one renders as nothing, as the spec requires. The output goes to
 * standard output exactly as rendered; errors go to standard error as
 * "file:line: message". Exit status: 0 done, 1 error, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "buf.h"
#include "template.h"

#define CLI_USAGE "usage: plugboard render [--partials DIR] TEMPLATE-FILE [DATA.json]\n"

struct cli_args {
    const char *partials; /* NULL: partials are not loaded */
    const char *tpl_path;
    const char *data_path; /* NULL: {} */
};

/* Reads all of f into *b. Returns 0, or -1 with errno set. */
static int cli_slurp(FILE *f, pb_buf *b)
{
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (pb_buf_append(b, chunk, n) < 0) {
            errno = ENOMEM;
            return -1;
        }
    if (ferror(f)) {
        errno = EIO;
        return -1;
    }
    if (pb_buf_cstr(b) == NULL) { /* an empty file still gets a buffer */
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* How a path appears in messages. */
static const char *cli_display(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

/* Reads a file, or standard input for "-". Returns 0, or -1 with errno. */
static int cli_read(const char *path, pb_buf *b)
{
    if (strcmp(path, "-") == 0)
        return cli_slurp(stdin, b);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    int rc = cli_slurp(f, b);
    int saved = errno;
    fclose(f);
    errno = saved;
    return rc;
}

/* The loader: partial name -> DIR/name.mustache. Names that could leave DIR
 * are refused (EINVAL) rather than treated as missing, so the mistake shows. */
static int cli_load_partial(void *ctx, const char *name, char **src, size_t *len, char **file)
{
    const char *dir = ctx;
    if (name[0] == '/' || strstr(name, "..") != NULL) {
        errno = EINVAL;
        return -1;
    }
    pb_buf path = PB_BUF_INIT, text = PB_BUF_INIT;
    if (pb_buf_printf(&path, "%s/%s.mustache", dir, name) < 0) {
        pb_buf_free(&path);
        errno = ENOMEM;
        return -1;
    }
    if (cli_read(path.data, &text) < 0) {
        int missing = errno == ENOENT || errno == ENOTDIR;
        int saved = errno;
        pb_buf_free(&path);
        pb_buf_free(&text);
        errno = saved;
        return missing ? 1 : -1;
    }
    *src = text.data;
    *len = text.len;
    *file = path.data;
    return 0;
}

/* Parses argv. Returns 0 to go on, -1 after printing the usage for --help,
 * or 2 after printing it for a usage error. */
static int cli_parse(int argc, char **argv, struct cli_args *a)
{
    int i = 1;
    memset(a, 0, sizeof *a);
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(CLI_USAGE, stdout);
            return -1;
        } else if (strcmp(argv[i], "--partials") == 0 && i + 1 < argc) {
            a->partials = argv[++i];
        } else if (strncmp(argv[i], "--partials=", 11) == 0 && argv[i][11] != '\0') {
            a->partials = argv[i] + 11;
        } else {
            fprintf(stderr, "plugboard render: bad option %s\n" CLI_USAGE, argv[i]);
            return 2;
        }
    }
    int rest = argc - i;
    if (rest < 1 || rest > 2 ||
        (rest == 2 && strcmp(argv[i], "-") == 0 && strcmp(argv[i + 1], "-") == 0)) {
        fputs(CLI_USAGE, stderr);
        return 2;
    }
    a->tpl_path = argv[i];
    a->data_path = rest == 2 ? argv[i + 1] : NULL;
    return 0;
}

/* Loads the data document. Returns it, or NULL after reporting why. */
static json_t *cli_data(const char *path)
{
    if (path == NULL)
        return json_object();
    pb_buf text = PB_BUF_INIT;
    if (cli_read(path, &text) < 0) {
        fprintf(stderr, "%s: %s\n", cli_display(path), strerror(errno));
        pb_buf_free(&text);
        return NULL;
    }
    json_error_t jerr;
    json_t *data = json_loadb(text.data, text.len, JSON_DECODE_ANY, &jerr);
    if (data == NULL)
        fprintf(stderr, "%s:%d: %s\n", cli_display(path), jerr.line, jerr.text);
    pb_buf_free(&text);
    return data;
}

/* Compiles and renders; writes the output. Returns 0 or 1 (reported). */
static int cli_render(const struct cli_args *a, const pb_buf *src, const json_t *data)
{
    pb_tpl_set *set = pb_tpl_set_new(a->partials ? cli_load_partial : NULL, (void *)a->partials);
    pb_tpl_error err = {0};
    pb_buf out = PB_BUF_INIT;
    int rc = 1;
    if (set == NULL) {
        fprintf(stderr, "plugboard render: out of memory\n");
    } else if (pb_tpl_set_add(set, a->tpl_path, src->data, src->len, cli_display(a->tpl_path),
                              &err) < 0 ||
               pb_tpl_render(set, a->tpl_path, data, &out, &err) < 0) {
        if (err.line > 0)
            fprintf(stderr, "%s:%d: %s\n", err.file, err.line, err.msg);
        else
            fprintf(stderr, "%s: %s\n", err.file, err.msg);
    } else if (fwrite(out.data ? out.data : "", 1, out.len, stdout) != out.len ||
               fflush(stdout) != 0) {
        fprintf(stderr, "plugboard render: writing output: %s\n", strerror(errno));
    } else {
        rc = 0;
    }
    pb_buf_free(&out);
    pb_tpl_set_free(set);
    return rc;
}

int pb_tpl_cli(int argc, char **argv)
{
    struct cli_args a;
    int usage = cli_parse(argc, argv, &a);
    if (usage != 0)
        return usage < 0 ? 0 : usage;
    pb_buf src = PB_BUF_INIT;
    if (cli_read(a.tpl_path, &src) < 0) {
        fprintf(stderr, "%s: %s\n", a.tpl_path, strerror(errno));
        pb_buf_free(&src);
        return 1;
    }
    json_t *data = cli_data(a.data_path);
    int rc = data ? cli_render(&a, &src, data) : 1;
    json_decref(data);
    pb_buf_free(&src);
    return rc;
}
