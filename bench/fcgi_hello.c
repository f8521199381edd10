/*
 * fcgi_hello.c - the ceiling of the FastCGI path: the least a libfcgi
 * program can do per request, with the same process model as plugboard
 * (N forked workers accepting on one Unix socket, one request at a time).
 *
 *   fcgi_hello SOCKET-PATH WORKERS
 */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char response[] = "Status: 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 13\r\n"
                               "\r\n"
                               "Hello, World!";

static void serve(int fd)
{
    FCGX_Request r;
    FCGX_InitRequest(&r, fd, 0);
    while (FCGX_Accept_r(&r) >= 0) {
        FCGX_PutStr(response, sizeof response - 1, r.out);
        FCGX_Finish_r(&r);
    }
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fcgi_hello SOCKET-PATH WORKERS\n");
        return 2;
    }
    int workers = atoi(argv[2]);
    FCGX_Init();
    unlink(argv[1]);
    int fd = FCGX_OpenSocket(argv[1], 1024);
    if (fd < 0 || chmod(argv[1], 0666) < 0) {
        perror(argv[1]);
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t *kids = calloc((size_t)workers, sizeof *kids);
    for (int i = 0; kids && i < workers; i++)
        if ((kids[i] = fork()) == 0) {
            sigprocmask(SIG_UNBLOCK, &set, NULL);
            serve(fd);
        }
    int sig;
    sigwait(&set, &sig);
    for (int i = 0; kids && i < workers; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGKILL);
    while (wait(NULL) > 0)
        ;
    unlink(argv[1]);
    free(kids);
    return 0;
}
