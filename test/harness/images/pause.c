/* pause: the pod sandbox image's only binary. Waits for SIGTERM/SIGINT and exits 0; reaps children
 * (it is PID 1 of a pod with a shared process namespace). Built at test setup with
 * `gcc -static -Os` (Debian's gcc + libc6-dev); see ../runnable-images.ts. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

int main(void) {
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
