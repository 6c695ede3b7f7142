#include <sys/utsname.h>
#include <string.h>

/* The machine name as the kernel (or qemu) reports it, into buf. */
int xx_machine(char *buf, unsigned long len) {
    struct utsname u;
    if (uname(&u) != 0 || len == 0) {
        return -1;
    }
    strncpy(buf, u.machine, len - 1);
    buf[len - 1] = '\0';
    return 0;
}
