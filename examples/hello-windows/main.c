/* A Windows program whose text lives in a resource (app.rc, compiled by xx-windres). */
#include <stdio.h>
#include <windows.h>

int main(void) {
    char text[64];
    int n = LoadStringA(GetModuleHandleA(NULL), 1, text, sizeof text);
    printf("%s\n", n > 0 ? text : "no resource");
    return n > 0 ? 0 : 1;
}
