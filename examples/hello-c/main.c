/* A small C program built with CMake by `xx build` for every platform. */
#include <stdio.h>
#include <sys/utsname.h>

int main(void) {
    struct utsname u;
    if (uname(&u) != 0) {
        return 1;
    }
    printf("hello-c on %s\n", u.machine);
    return 0;
}
