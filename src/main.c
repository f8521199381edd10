/*
 * main.c - the plugboard command: serve, ctl, migrate, audit-archive, routes,
 * render, check-config.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_archive.h"
#include "config.h"
#include "ctl.h"
#include "hostapi.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "migrate.h"
#include "module.h"
#include "operator.h"
#include "template.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: plugboard [-c FILE] [COMMAND]\n"
            "\n"
            "Commands:\n"
            "  serve               run the master and its workers in the foreground (default)\n"
            "  ctl status [--json] show the workers and per-route figures of a running master\n"
            "  ctl modules [--json] list modules: active, quarantined, failed (why), disabled\n"
            "  ctl reload          start a new generation on the modules on disk (as SIGHUP);\n"
            "                      answers once it serves, or why it was refused\n"
            "  ctl enable|disable NAME  turn a module on or off, through a reload\n"
            "  migrate             apply pending SQL migrations and exit\n"
            "  audit-archive [--older-than DAYS]\n"
            "                      move audit rows older than DAYS (default 365) from\n"
            "                      core.audit_log to core.audit_archive, as the owner role\n"
            "  operator add EMAIL | remove EMAIL | list\n"
            "                      grant or revoke operating the installation (backups,\n"
            "                      modules, system log, cache), as the owner role\n"
            "  routes [--json]     load the modules and print the route table\n"
            "  check-config        validate the configuration and print every effective value\n"
            "  render [--partials DIR] TEMPLATE-FILE [DATA.json]\n"
            "                      render one Mustache template to standard output\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   configuration file (default: $PLUGBOARD_CONFIG, else\n"
            "                      ./plugboard.ini when present, else built-in defaults)\n"
            "  -h, --help          this help\n"
            "  -V, --version       print the version\n"
            "\n"
            "Signals to the master: TERM or INT stop it gracefully (in-flight requests finish).\n"
            "The options are documented in plugboard.ini.\n");
}

/* glibc reads GLIBC_TUNABLES only at process start: set it and start over
 * once (marked by PLUGBOARD_TUNED so it happens only once). Returns only
 * when nothing needed doing or exec failed. */
static void apply_malloc_tuning(const pb_config *cfg, char **argv)
{
    if (cfg->malloc_tcache == 0 || getenv("PLUGBOARD_TUNED"))
        return;
    const char *old = getenv("GLIBC_TUNABLES");
    char val[512];
    snprintf(val, sizeof val, "%s%sglibc.malloc.tcache_count=%ld", old ? old : "", old ? ":" : "",
             cfg->malloc_tcache);
    setenv("GLIBC_TUNABLES", val, 1);
    setenv("PLUGBOARD_TUNED", "1", 1);
    /* Exec the binary by its real path, not /proc/self/exe: the process
     * name comes from it, and operators and scripts find "plugboard". */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        execv(self, argv);
    }
    pb_log(PB_LOG_WARN, "cannot re-execute to apply malloc_tcache: %s", strerror(errno));
}

static const char *find_config(const char *given)
{
    if (given)
        return given;
    const char *env = getenv("PLUGBOARD_CONFIG");
    if (env && env[0])
        return env;
    return access("plugboard.ini", R_OK) == 0 ? "plugboard.ini" : NULL;
}

static void print_route_report(void *ctx, const char *path, int event, const char *reason)
{
    (void)ctx;
    if (event == PB_LOAD_REFUSED)
        fprintf(stderr, "plugboard: module %s refused: %s\n", path, reason);
}

/* Loads the modules in this process and prints their routes. */
static int cmd_routes(const pb_config *cfg, int as_json)
{
    char err[512];
    pb_tpl_set *tpl = pb_templates_load(cfg, err, sizeof err);
    if (tpl == NULL) {
        fprintf(stderr, "plugboard: templates: %s\n", err);
        return 1;
    }
    /* Vet the modules in a probe first, as the master does: a module that
     * crashes while loading must not take this command down with it. */
    pb_pathlist cand = {0};
    pb_modset ms = {0};
    if (pb_probe(cfg, pb_hostapi(), NULL, &cand, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "plugboard: %s\n", err);
        pb_tpl_set_free(tpl);
        return 1;
    }
    pb_module_load_all(&ms, &cand, pb_hostapi(), tpl, print_route_report, NULL);
    json_t *table = json_array();
    for (size_t i = 0; i < ms.router.n; i++) {
        const pb_route_entry *e = &ms.router.v[i];
        char methods[64];
        pb_router_allow_string(e->def->methods, methods, sizeof methods);
        json_array_append_new(table, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "methods", methods,
                                               "pattern", e->def->pattern, "module", e->module,
                                               "permission",
                                               e->def->permission ? e->def->permission : "public",
                                               "json_only", (e->def->flags & PB_JSON_ONLY) != 0,
                                               "api", (e->def->flags & PB_NO_API) == 0));
    }
    if (as_json) {
        char *s = json_dumps(table, JSON_INDENT(2));
        puts(s ? s : "[]");
        free(s);
    } else {
        printf("%-24s %-32s %-10s %s\n", "METHODS", "PATTERN", "MODULE", "PERMISSION");
        size_t i;
        json_t *r;
        json_array_foreach(table, i, r)
            printf("%-24s %-32s %-10s %s\n", json_string_value(json_object_get(r, "methods")),
                   json_string_value(json_object_get(r, "pattern")),
                   json_string_value(json_object_get(r, "module")),
                   json_string_value(json_object_get(r, "permission")));
    }
    json_decref(table);
    pb_modset_free(&ms);
    pb_pathlist_free(&cand);
    pb_tpl_set_free(tpl);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_arg = NULL;
    int ch;
    /* '+': stop at the first command so its own options reach it. */
    while ((ch = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_arg = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("plugboard %s (module ABI %d)\n", PACKAGE_VERSION, PB_ABI_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : "serve";
    if (strcmp(cmd, "render") == 0)
        return pb_tpl_cli(argc - optind, argv + optind);

    pb_config cfg;
    char err[512];
    const char *path = find_config(config_arg);
    if (pb_config_defaults(&cfg) < 0 || (path && pb_config_load(&cfg, path, err, sizeof err) < 0)) {
        fprintf(stderr, "plugboard: %s\n", path ? err : "out of memory");
        return 1;
    }
    pb_log_setup(cfg.log_level, cfg.log_format, "plugboard");
    if (pb_log_file_open(cfg.log_file, err, sizeof err) < 0)
        fprintf(stderr, "plugboard: %s; records go to stderr only\n", err);
    int rc = 2;
    int as_json = optind + 1 < argc && strcmp(argv[argc - 1], "--json") == 0;
    if (strcmp(cmd, "serve") == 0) {
        apply_malloc_tuning(&cfg, argv);
        rc = pb_master_run(&cfg);
    } else if (strcmp(cmd, "check-config") == 0) {
        printf("; %s: OK\n", path ? path : "built-in defaults");
        pb_config_print(&cfg, stdout);
        rc = 0;
    } else if (strcmp(cmd, "migrate") == 0) {
        int n = pb_migrate(&cfg, err, sizeof err);
        if (n < 0)
            fprintf(stderr, "plugboard: migration failed: %s\n", err);
        else
            printf("%d migration(s) applied\n", n);
        rc = n < 0;
    } else if (strcmp(cmd, "audit-archive") == 0) {
        rc = pb_audit_archive_main(&cfg, argc - optind, argv + optind);
    } else if (strcmp(cmd, "operator") == 0) {
        rc = pb_operator_main(&cfg, argc - optind, argv + optind);
    } else if (strcmp(cmd, "ctl") == 0) {
        rc = pb_ctl_main(&cfg, argc - optind, argv + optind);
    } else if (strcmp(cmd, "routes") == 0) {
        rc = cmd_routes(&cfg, as_json);
    } else {
        fprintf(stderr, "plugboard: unknown command \"%s\"\n\n", cmd);
        usage(stderr);
    }
    pb_config_free(&cfg);
    return rc;
}
