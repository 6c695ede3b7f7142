/* A small C program built with CMake by `xx build` for every platform. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>

/* Prints where it runs; exits with the number given, if any. */
int main(int argc, char **argv) {
    struct utsname u;
    if (uname(&u) != 0) {
        return 1;
    }
    printf("hello-c on %s\n", u.machine);
    return argc > 1 ? atoi(argv[1]) : 0;
}
