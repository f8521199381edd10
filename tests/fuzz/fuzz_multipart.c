/*
 * fuzz_multipart.c - the multipart/form-data parser fed in chunks.
 *
 * Input layout: byte 0 picks the feed chunk size (so delimiters get split
 * at every offset), then a Content-Type value up to the first '\n' (its
 * boundary is used when valid, else "XyZ"), then the body. Files go to a
 * private temporary directory that must be empty again after
 * pb_params_free: a leaked upload is a crash.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_accessors.h"
#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const pb_limits lim = {
    .body_max = 1 << 16,
    .fields_max = 16,
    .name_max = 32,
    .value_max = 256,
    .upload_max = 4096,
    .uploads_max = 3,
};

static char tmpdir[64]; /* set once at start-up */

static void remove_tmpdir(void)
{
    rmdir(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = getenv("TMPDIR");
    strcpy(tmpdir, base != NULL && strlen(base) < 32 ? base : "/tmp");
    strcat(tmpdir, "/pb-fuzz-mp-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        abort();
    atexit(remove_tmpdir);
    return 0;
}

static int tmpdir_empty(void)
{
    DIR *d = opendir(tmpdir);
    if (d == NULL)
        return 0;
    int empty = 1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

static void check_fields(const pb_params *p)
{
    size_t files = 0;
    if (p->n > lim.fields_max)
        abort();
    for (size_t i = 0; i < p->n; i++) {
        const pb_field *f = &p->v[i];
        size_t nlen = strlen(f->name);
        if (nlen > lim.name_max || pb_utf8_count(f->name, nlen) == (size_t)-1)
            abort();
        if (f->path == NULL && f->len > lim.value_max)
            abort();
        if (f->path != NULL && (f->size > lim.upload_max || f->filename == NULL ||
                                strncmp(f->path, tmpdir, strlen(tmpdir)) != 0 ||
                                strchr(f->filename, '/') != NULL || ++files > lim.uploads_max))
            abort();
    }
}

static void run_accessors(pb_input *in)
{
    for (size_t i = 0; i < in->form.n; i++) {
        fuzz_accessors(in, in->form.v[i].name, 1, 8, -100, 100);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = data[0] < 128 ? 1 + data[0] % 16 : 1 + (size_t)data[0] * 32;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    char boundary[80] = "XyZ";
    if (nl != NULL && nl - p < 256) {
        char ct[256];
        memcpy(ct, p, (size_t)(nl - p));
        ct[nl - p] = '\0';
        if (pb_multipart_boundary(ct, boundary, sizeof boundary) < 0)
            strcpy(boundary, "XyZ");
        p = nl + 1;
    }

    pb_input in = {0};
    pb_input_error err = {0};
    pb_multipart *mp = pb_multipart_new(boundary, &lim, tmpdir, &in.form);
    if (mp == NULL)
        abort(); /* a boundary that pb_multipart_boundary accepted */
    int rc = 0;
    while (p < end && rc == 0) {
        size_t n = (size_t)(end - p) < chunk ? (size_t)(end - p) : chunk;
        rc = pb_multipart_feed(mp, p, n, &err);
        p += n;
    }
    if (rc == 0)
        rc = pb_multipart_finish(mp, &err);
    pb_multipart_free(mp);
    if (rc < 0 && ((err.status != 400 && err.status != 413) ||
                   pb_utf8_count(err.msg, strlen(err.msg)) == (size_t)-1))
        abort();
    if (rc == 0) {
        check_fields(&in.form);
        run_accessors(&in);
    }
    pb_input_free(&in);
    if (!tmpdir_empty())
        abort(); /* an upload outlived its request */
    return 0;
}
